#!/usr/bin/env python3
"""Attack tools for SecurityTests.swift (swarmprobe's agent under hostile input).

Run only inside a lab's network namespace (`ip netns exec NS python3 security_attacks.py ...`).
Every destination and every spoofed source must lie in 198.18.0.0/15 (RFC 2544): the tool
refuses anything else. Every loop is bounded in count and in time. Each command prints one JSON
object on stdout with what it sent and what it saw.

  junk     spoofed UDP (and ESP) junk and well-formed-but-unauthenticated probes
  replay   spoofed copies of payloads given in a file (valid probes built by the test), N times each
  flood    as many junk UDP datagrams as it can, bounded by count and seconds
  tcp      junk, half-open and slow-writer TCP connections, bounded by count and seconds
  bigbody  unauthenticated control requests with large bodies, held open
  control  one HTTP request per line of a spec file, on a fresh connection each; prints the answers
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import random
import resource
import socket
import struct
import sys
import time

LAB = ipaddress.ip_network("198.18.0.0/15")


def lab(addr):
    if ipaddress.ip_address(addr) not in LAB:
        raise SystemExit(f"refusing {addr}: lab traffic stays in 198.18.0.0/15")
    return addr


def ports(text):
    return [int(p) for p in text.split(",") if p]


# ---------------------------------------------------------------- packets

MAGIC = b"SWPB"
PROTO = {"tcp": 6, "udp": 17, "esp": 50}
VXLAN = bytes([0x08, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0])  # swarmprobe's own VNI 0xFFFFF0


def mapped(addr):
    return b"\x00" * 10 + b"\xff\xff" + socket.inet_aton(addr)


def swpb(key, ptype, proto, tport, rport, sender, target, pad=0, ms=None, nonce=None):
    """A probe laid out exactly like ProbePacket.encode, signed with `key` (a random one: never valid)."""
    ms = int(time.time() * 1000) if ms is None else ms
    body = (MAGIC + bytes([1, ptype, PROTO[proto], 0]) + struct.pack("!HHQ", tport, rport, ms)
            + (nonce or os.urandom(16)) + os.urandom(16) + mapped(sender) + mapped(target)
            + struct.pack("!H", pad) + b"\x00" * pad)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def junk_payloads(rng, sender, target, port, proto, framed, n):
    """n payloads for one listener: random bytes, and probes that look right but carry a wrong MAC."""
    out = []
    for i in range(n):
        k = i % 8
        key = rng.randbytes(32)
        if k == 0:
            p = rng.randbytes(rng.randint(0, 1400))            # plain junk, any size
        elif k == 1:
            p = MAGIC + rng.randbytes(rng.randint(0, 1200))    # our magic, junk after it
        elif k in (2, 3):                                      # well formed, signed with another key
            p = swpb(key, 1, proto, 0 if proto == "esp" else port, port, sender, target, pad=rng.randint(0, 1000))
        elif k == 4:                                           # an "echo", wrong key
            p = swpb(key, 2, proto, 0 if proto == "esp" else port, port, sender, target)
        elif k == 5:                                           # MAC zeroed
            p = swpb(key, 1, proto, port, port, sender, target)[:-32] + b"\x00" * 32
        elif k == 6:                                           # pad field lies about the length
            p = bytearray(swpb(key, 1, proto, port, port, sender, target, pad=40))
            p[84:86] = struct.pack("!H", rng.randint(0, 65535))
            p = bytes(p)
        else:                                                  # truncated probe
            p = swpb(key, 1, proto, port, port, sender, target)[: rng.randint(0, 117)]
        if framed and k % 2 == 0:
            p = VXLAN + p                                      # half of them inside a VXLAN frame of ours
        out.append(p)
    return out


def ipv4(src, dst, proto, payload, ident):
    total = 20 + len(payload)
    # Linux fills in the checksum (always) for IP_HDRINCL sockets.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload


def udp_datagram(src, dst, sport, dport, payload, ident):
    # UDP checksum 0: "none" for IPv4; the receiver accepts it.
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, ident)


class Spoofer:
    """A raw socket writing whole IPv4 packets: any source address (in the lab)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.packets = 0
        self.bytes = 0
        self.errors = 0
        self.ident = random.randint(0, 65535)

    def send(self, src, dst, proto, sport, dport, payload):
        self.ident += 1
        if proto == "esp":
            pkt = ipv4(src, dst, 50, payload, self.ident)
        else:
            pkt = udp_datagram(src, dst, sport, dport, payload, self.ident)
        for _ in range(50):
            try:
                self.s.sendto(pkt, (dst, 0))
                self.packets += 1
                self.bytes += len(pkt)
                return
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as e:
                if e.errno in (105, 11):  # ENOBUFS / EAGAIN: let the queue drain
                    time.sleep(0.001)
                    continue
                self.errors += 1
                return
        self.errors += 1

    def report(self, **extra):
        d = {"packets": self.packets, "bytes": self.bytes, "errors": self.errors}
        d.update(extra)
        return d


def cmd_junk(a):
    rng = random.Random(a.seed)
    sp = Spoofer()
    start = time.monotonic()
    deadline = start + a.seconds
    targets = [("udp", p) for p in ports(a.ports)] + ([("esp", 0)] if a.esp else [])
    per = {}
    for proto, port in targets:
        framed = port in ports(a.framed)
        payloads = junk_payloads(rng, a.src, a.dst, port, proto, framed, a.count)
        before = sp.packets
        for i, p in enumerate(payloads):
            if time.monotonic() > deadline:
                break
            sp.send(a.src, a.dst, proto, rng.randint(1024, 65535), port, p)
            if i % 200 == 199:
                time.sleep(0.002)  # stay under one CPU's worth of softirq backlog
        per[f"{proto}/{port}"] = sp.packets - before
    print(json.dumps(sp.report(per=per, seconds=round(time.monotonic() - start, 3))))


def cmd_replay(a):
    """Each line of the file: `PROTO PORT HEX`. All lines once, then again, `repeat` times in all."""
    lines = []
    with open(a.file) as f:
        for line in f:
            if line.strip():
                proto, port, hx = line.split()
                lines.append((proto, int(port), bytes.fromhex(hx)))
    sp = Spoofer()
    deadline = time.monotonic() + a.seconds
    start = time.monotonic()
    for r in range(a.repeat):
        for proto, port, payload in lines:
            if time.monotonic() > deadline:
                break
            sp.send(a.src, a.dst, proto, a.sport, port, payload)
            if a.pace:
                time.sleep(1.0 / a.pace)
            elif sp.packets % 200 == 199:
                time.sleep(0.002)  # as in junk: no drops in the lab's own queues
        if a.gap and r + 1 < a.repeat:
            time.sleep(a.gap)
    print(json.dumps(sp.report(elapsed=time.monotonic() - start)))


def cmd_flood(a):
    """Junk datagrams from an ordinary UDP socket, cycling through precomputed payloads."""
    rng = random.Random(a.seed)
    pool = {p: junk_payloads(rng, a.src_claim, a.dst, p, "udp", p in ports(a.framed), 512) for p in ports(a.ports)}
    socks = []
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setblocking(False)
        socks.append(s)
    sent = nbytes = dropped = 0
    start = time.monotonic()
    deadline = start + a.seconds
    plist = ports(a.ports)
    i = 0
    while sent < a.packets:
        if (i & 1023) == 0 and sent >= a.min_packets and time.monotonic() > deadline:
            break
        port = plist[i % len(plist)]
        payload = pool[port][(i >> 2) & 511]
        try:
            socks[i & 3].sendto(payload, (a.dst, port))
            sent += 1
            nbytes += 28 + len(payload)
        except (BlockingIOError, OSError):
            dropped += 1
            if dropped % 64 == 0:
                time.sleep(0.0005)
        i += 1
    print(json.dumps({"packets": sent, "bytes": nbytes, "send_failures": dropped,
                      "seconds": round(time.monotonic() - start, 3)}))


# ---------------------------------------------------------------- TCP

async def tcp_conn(dst, port, kind, stats, hold_until):
    """One connection of one kind; records how it ended and after how long the agent hung up."""
    key = f"{port}/{kind}"
    st = stats.setdefault(key, {"attempted": 0, "connected": 0, "failed": 0, "closed_by_agent": 0,
                                "closed_immediately": 0, "held_to_end": 0, "close_after_s": []})
    st["attempted"] += 1
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(dst, port), timeout=3)
    except Exception:
        st["failed"] += 1
        return
    st["connected"] += 1
    t1 = time.monotonic()
    try:
        if kind == "junk":
            writer.write(os.urandom(random.randint(1, 3000)))
            await writer.drain()
        elif kind == "slow":
            # A request that would be valid if it ever finished, one byte a second.
            msg = (b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" if port == a_control
                   else MAGIC + b"\x01\x01\x06\x00" + b"\x00" * 200)
            for b in msg:
                if time.monotonic() > hold_until:
                    break
                writer.write(bytes([b]))
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
                    if data == b"":
                        raise ConnectionResetError()
                except asyncio.TimeoutError:
                    pass
        # Wait for the agent to hang up (or the end of the test).
        remaining = hold_until - time.monotonic()
        if remaining > 0:
            while True:
                data = await asyncio.wait_for(reader.read(65536), timeout=max(0.05, hold_until - time.monotonic()))
                if data == b"":
                    break
            dt = time.monotonic() - t1
            st["closed_by_agent"] += 1
            if dt < 0.2:
                st["closed_immediately"] += 1
            st["close_after_s"].append(round(dt, 2))
        else:
            st["held_to_end"] += 1
    except asyncio.TimeoutError:
        st["held_to_end"] += 1
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        dt = time.monotonic() - t1
        st["closed_by_agent"] += 1
        if dt < 0.2:
            st["closed_immediately"] += 1
        st["close_after_s"].append(round(dt, 2))
    finally:
        try:
            writer.close()
        except Exception:
            pass


a_control = 7950


async def tcp_main(a):
    global a_control
    a_control = a.control_port
    resource.setrlimit(resource.RLIMIT_NOFILE, (16384, 16384))
    stats = {}
    start = time.monotonic()
    hold_until = start + a.seconds
    kinds = a.kinds.split(",")
    plist = ports(a.ports)
    sem = asyncio.Semaphore(a.concurrency)
    tasks = []
    started = 0
    peak = [0]
    live = [0]

    async def one(port, kind):
        async with sem:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
            try:
                await tcp_conn(a.dst, port, kind, stats, hold_until)
            finally:
                live[0] -= 1

    while started < a.connections and time.monotonic() < hold_until - 1:
        port = plist[started % len(plist)]
        kind = kinds[(started // len(plist)) % len(kinds)]
        tasks.append(asyncio.create_task(one(port, kind)))
        started += 1
        if started % 100 == 0:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=a.seconds + 10)
    for st in stats.values():
        c = sorted(st.pop("close_after_s"))
        st["close_after_median_s"] = c[len(c) // 2] if c else None
        st["close_after_max_s"] = c[-1] if c else None
    print(json.dumps({"connections": started, "peak_open": peak[0], "seconds": round(time.monotonic() - start, 2),
                      "by_port_kind": stats}))


def cmd_tcp(a):
    asyncio.run(tcp_main(a))


async def bigbody_main(a):
    """`connections` POSTs with a well-formed but bogus Authorization header and a body just under the
    limit, sent fast and then held: what the agent buffers before it can check the signature."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    chunk = b"{" + b" " * 65534 + b"}"
    res = {"connections": 0, "bytes_sent": 0, "statuses": {}}
    hold_until = time.monotonic() + a.seconds

    async def one():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(a.dst, a.port), timeout=3)
        except Exception:
            res["statuses"]["connect-failed"] = res["statuses"].get("connect-failed", 0) + 1
            return
        res["connections"] += 1
        ts = int(time.time() * 1000)
        head = (f"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: {a.size}\r\n"
                f"Authorization: SWP1 ts={ts},nonce={os.urandom(16).hex()},mac={os.urandom(32).hex()}\r\n\r\n").encode()
        try:
            writer.write(head)
            left = a.size - 1  # everything but the last byte: the agent must hold it all
            while left > 0 and time.monotonic() < hold_until:
                n = min(left, len(chunk))
                writer.write(chunk[:n])
                await writer.drain()
                left -= n
                res["bytes_sent"] += n
            while time.monotonic() < hold_until:
                data = await asyncio.wait_for(reader.read(4096), timeout=max(0.05, hold_until - time.monotonic()))
                if data == b"":
                    res["statuses"]["closed"] = res["statuses"].get("closed", 0) + 1
                    return
                line = data.split(b"\r\n", 1)[0].decode(errors="replace")
                res["statuses"][line] = res["statuses"].get(line, 0) + 1
                return
        except asyncio.TimeoutError:
            res["statuses"]["held"] = res["statuses"].get("held", 0) + 1
        except Exception as e:
            res["statuses"][type(e).__name__] = res["statuses"].get(type(e).__name__, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*[one() for _ in range(a.connections)])
    print(json.dumps(res))


def cmd_bigbody(a):
    asyncio.run(bigbody_main(a))


# ---------------------------------------------------------------- control endpoint

def http_exchange(dst, port, raw, timeout=15):
    """Sends raw bytes on a fresh connection and reads one answer (by its content-length, or to EOF).
    Returns (status, headers, body), or None when the agent closed without answering."""
    s = socket.create_connection((dst, port), timeout=timeout)
    data = b""
    try:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent may answer and close before reading everything (413)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                m = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if m and len(body) >= int(m[0].split(b":", 1)[1]):
                    break
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def cmd_control(a):
    """Each line of the spec file is JSON: {name, method, path, headers{}, body_b64 | body_size | raw_b64}."""
    out = []
    with open(a.file) as f:
        specs = [json.loads(l) for l in f if l.strip()]
    deadline = time.monotonic() + a.seconds
    for spec in specs:
        if time.monotonic() > deadline:
            break
        if "raw_b64" in spec:
            raw = base64.b64decode(spec["raw_b64"])
        else:
            if "body_size" in spec:
                body = b"{" + b" " * (spec["body_size"] - 2) + b"}"
            else:
                body = base64.b64decode(spec.get("body_b64", ""))
            headers = {"Host": a.dst, "Content-Length": str(len(body)), "Connection": "close"}
            headers.update(spec.get("headers", {}))
            if headers.get("Transfer-Encoding") == "chunked":
                del headers["Content-Length"]
                step = 1 << 16
                body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + step]), body[i:i + step])
                                for i in range(0, len(body), step)) + b"0\r\n\r\n"
            head = f"{spec['method']} {spec['path']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            raw = head.encode() + body
        t0 = time.monotonic()
        r = http_exchange(a.dst, a.port, raw)
        entry = {"name": spec["name"], "ms": int((time.monotonic() - t0) * 1000)}
        if r is None:
            entry.update(status=0, headers={}, body_b64="")
        else:
            entry.update(status=r[0], headers=r[1], body_b64=base64.b64encode(r[2]).decode())
        out.append(entry)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("junk")
    p.add_argument("--src", type=lab, required=True, help="spoofed source (the victim)")
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--ports", default="7946,4789")
    p.add_argument("--framed", default="4789", help="ports whose junk is half VXLAN-framed")
    p.add_argument("--esp", action="store_true")
    p.add_argument("--count", type=int, default=2000, help="datagrams per port")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(fn=cmd_junk)

    p = sub.add_parser("replay")
    p.add_argument("--src", type=lab, required=True)
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--gap", type=float, default=0)
    p.add_argument("--sport", type=int, default=7946)
    p.add_argument("--pace", type=float, default=0, help="packets per second at most (0: bursts)")
    p.add_argument("--seconds", type=float, default=20)
    p.set_defaults(fn=cmd_replay)

    p = sub.add_parser("flood")
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--src-claim", type=lab, required=True, help="the sender address the junk probes name")
    p.add_argument("--ports", default="7946,4789")
    p.add_argument("--framed", default="4789")
    p.add_argument("--packets", type=int, default=300_000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--min-packets", type=int, default=0,
                   help="keep sending past --seconds until this many went out (a loaded machine sends slower)")
    p.add_argument("--seed", type=int, default=2)
    p.set_defaults(fn=cmd_flood)

    p = sub.add_parser("tcp")
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--ports", default="2377,7946,7950")
    p.add_argument("--control-port", type=int, default=7950)
    p.add_argument("--connections", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=1500)
    p.add_argument("--kinds", default="half,junk,slow,half,junk", help="the mix of connection kinds, in turn")
    p.add_argument("--seconds", type=float, default=12)
    p.set_defaults(fn=cmd_tcp)

    p = sub.add_parser("bigbody")
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--port", type=int, default=7950)
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--size", type=int, default=(4 << 20))
    p.add_argument("--seconds", type=float, default=8)
    p.set_defaults(fn=cmd_bigbody)

    p = sub.add_parser("control")
    p.add_argument("--dst", type=lab, required=True)
    p.add_argument("--port", type=int, default=7950)
    p.add_argument("--file", required=True)
    p.add_argument("--seconds", type=float, default=40)
    p.set_defaults(fn=cmd_control)

    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
