#!/usr/bin/env python3
"""Writes the seed corpora in Fuzz/Corpus/<Target>/ (small, valid and near-valid inputs).

Run from anywhere: python3 Fuzz/make-corpus.py. Deterministic: the same files every time.
The key is the fuzzers' fixed test key (FuzzCheck.keyBytes): 32 bytes of 0x42.
"""
import hashlib
import hmac
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "Corpus")
KEY = bytes([0x42]) * 32
NOW = 1_700_000_000_000  # FuzzCheck.now


def v4(a):
    return bytes(10) + b"\xff\xff" + bytes(int(x) for x in a.split("."))


def v6(groups):
    return b"".join(struct.pack(">H", g) for g in groups)


def probe(ptype=1, proto=17, tport=4789, rport=7946, time=NOW, nonce=bytes(range(1, 17)),
          run=bytes(range(101, 117)), sender=v4("10.0.0.1"), target=v4("10.0.0.2"), pad=0):
    b = b"SWPB" + bytes([1, ptype, proto, 0]) + struct.pack(">HHQ", tport, rport, time)
    b += nonce + run + sender + target + struct.pack(">H", pad) + bytes(pad)
    return b + hmac.new(KEY, b, hashlib.sha256).digest()


VXLAN = bytes([0x08, 0, 0, 0, 0xFF, 0xFF, 0xF0, 0])


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def probe_corpus():
    t = "FuzzProbePacket"
    p = probe()
    write(t, "probe-udp", p)
    write(t, "echo-tcp-pad1", probe(ptype=2, proto=6, tport=2377, rport=40001, pad=1))
    write(t, "probe-esp-v6-pad100", probe(proto=50, tport=0, rport=0, sender=v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
                                          target=v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]), pad=100))
    write(t, "probe-vxlan", VXLAN + probe(tport=4789, rport=4789))
    write(t, "probe-stale-time-max", probe(time=2**64 - 1))
    write(t, "probe-bad-mac", p[:-1] + bytes([p[-1] ^ 1]))
    write(t, "probe-truncated", p[:100])
    write(t, "probe-pad-mismatch", p[:84] + struct.pack(">H", 7) + p[86:])


def sign(method, path, body, ts, nonce):
    text = "swarmprobe-control-v1\n%s\n%s\n%d\n%s\n%s" % (method, path, ts, nonce, hashlib.sha256(body).hexdigest())
    mac = hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()
    return "SWP1 ts=%d,nonce=%s,mac=%s" % (ts, nonce, mac)


def control_corpus():
    t = "FuzzControl"
    nonce = "000102030405060708090a0b0c0d0e0f"
    run = '{"run_id":"00112233445566778899aabbccddeeff","timeout_ms":2000,"attempts":3,' \
          '"nodes":[{"name":"m1","address":"10.0.0.1"},{"name":"m2","address":"10.0.0.2"},{"name":"w1","address":"2001:db8::3"}],' \
          '"probes":[{"target":"10.0.0.2","kind":"2377/tcp"},{"target":"2001:db8::3","kind":"4789/udp","observed":true},' \
          '{"target":"10.0.0.2","kind":"7946/udp"}]}'
    log = '{"run_id":"00112233445566778899aabbccddeeff"}'
    for name, path, body in [("run-signed", "/v1/run", run), ("log-signed", "/v1/log", log)]:
        write(t, name, sign("POST", path, body.encode(), NOW, nonce) + "\n" + body)
    write(t, "run-bad-timeout", "SWP1 ts=1,nonce=00,mac=00\n" + run.replace('"timeout_ms":2000', '"timeout_ms":0'))
    write(t, "run-self-probe", "SWP1 ts=1\n" + run.replace('{"target":"10.0.0.2","kind":"7946/udp"}]', '{"target":"10.0.0.1","kind":"7946/udp"}]'))
    write(t, "run-bad-kind", "SWP1 \n" + run.replace("2377/tcp", "esp/tcp"))
    write(t, "run-missing-field", "\n" + run.replace('"attempts":3,', ""))
    write(t, "token-line", "4242424242424242424242424242424242424242424242424242424242424242\n" + log)
    write(t, "header-odd", "SWP1 ts = 5 ,nonce=,mac=zz,extra\n[]")


def copy_yaml(target, sources):
    for src in sources:
        for name in sorted(os.listdir(src)):
            if name.endswith(".yaml"):
                shutil.copyfile(os.path.join(src, name), os.path.join(CORPUS, target, name))


def yaml_corpora():
    os.makedirs(os.path.join(CORPUS, "FuzzInventory"), exist_ok=True)
    os.makedirs(os.path.join(CORPUS, "FuzzProfile"), exist_ok=True)
    fixtures = os.path.join(ROOT, "Tests", "SwarmProbeCoreTests", "Fixtures")
    copy_yaml("FuzzInventory", [os.path.join(fixtures, "inventories")])
    copy_yaml("FuzzProfile", [os.path.join(ROOT, "probes"), os.path.join(fixtures, "profiles")])
    write("FuzzInventory", "readme-example.yaml", """nodes:
  - name: m1                 # 1-63 letters, digits, - _ .
    address: 10.0.1.11       # the advertise address (IPv4 or IPv6)
    role: manager            # manager | worker
  - name: w1
    address: 10.0.1.21
    role: worker
    control: 10.0.0.21:7950  # optional: where the agent's control endpoint is (default address:7950)
  - name: w2
    address: "::ffff:10.0.1.22"
    role: worker
    control: "[fd00::22]:7951"
""")
    write("FuzzInventory", "anchors-flow.yaml", """defaults: &d {role: worker}
nodes: [{name: a, address: 10.0.0.1, role: manager}, {<<: *d, name: b, address: "2001:db8::2"}]
""")


# FuzzDissector: the first byte is the index into FuzzDissector.linkTypes (11 = dissectIP).
LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 239, 276]


def pcap_frames(path):
    d = open(path, "rb").read()
    e = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(e + "I", d[20:24])[0]
    o, frames = 24, []
    while o < len(d):
        _, _, caplen, _ = struct.unpack(e + "IIII", d[o:o + 16])
        frames.append(d[o + 16:o + 16 + caplen])
        o += 16 + caplen
    return link, frames


def ipv4_udp(src, dst, sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")))
    return ip + udp


def dissector_corpus():
    t = "FuzzDissector"
    fixtures = os.path.join(ROOT, "Tests", "SwarmProbeCaptureTests", "Fixtures")
    for name in sorted(os.listdir(fixtures)):
        if not name.endswith(".pcap") or name == "synthetic-nflog-be.pcap":  # libpcap swaps its TLVs on reading
            continue
        link, frames = pcap_frames(os.path.join(fixtures, name))
        for i, f in enumerate(frames):
            write(t, "%s-%02d" % (name[:-5], i), bytes([LINK_TYPES.index(link)]) + f)
    raw = ipv4_udp("198.18.0.1", "198.18.0.2", 4789, 4789, VXLAN + probe(tport=4789, rport=4789))
    write(t, "raw-ipv4-vxlan-probe", bytes([LINK_TYPES.index(12)]) + raw)
    write(t, "ipv4-linktype", bytes([LINK_TYPES.index(228)]) + raw)
    write(t, "openbsd-raw", bytes([LINK_TYPES.index(14)]) + raw)
    write(t, "loop-be", bytes([LINK_TYPES.index(108)]) + struct.pack(">I", 2) + raw)
    write(t, "dissect-ip", bytes([len(LINK_TYPES)]) + raw)


if __name__ == "__main__":
    shutil.rmtree(CORPUS, ignore_errors=True)
    probe_corpus()
    control_corpus()
    yaml_corpora()
    dissector_corpus()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
    count = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    print("Fuzz/Corpus: %d files, %d bytes" % (count, total))
