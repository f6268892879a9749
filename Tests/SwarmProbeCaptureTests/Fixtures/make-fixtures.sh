#!/bin/sh
# Regenerates the capture fixtures of SwarmProbeCaptureTests. Run as root:
#   sudo Tests/SwarmProbeCaptureTests/Fixtures/make-fixtures.sh
#
# Live captures: two fresh network namespaces joined by a veth, 198.18.200.1 (a) and 198.18.200.2 (b),
# nothing else reachable. In b, tcpdump records what arrives four ways at once:
#   eth.pcap        on the veth             (EN10MB)
#   any-sll.pcap    on `any`, -y LINUX_SLL  (cooked v1)
#   any-sll2.pcap   on `any`, -y LINUX_SLL2 (cooked v2)
#   nflog.pcap      on nflog:7, fed by an nft rule `log group 7` in an inet input chain at priority 100
# while a sends: a TCP exchange 40001 -> 2377 (SYN, SYN-ACK, "ping-2377", "pong-2377", FINs),
# a SYN 40002 -> 2378 that gets a RST, UDP "ping-7946" 7946 -> 7946 answered "pong-7946",
# UDP 40003 -> 4789 that gets an ICMP port unreachable, and one ESP packet (SPI 0xabcd, seq 1).
#
# Synthetic files (written byte by byte, never sent anywhere; IPv6 from 2001:2::/48, RFC 5180):
#   synthetic-raw-ns.pcap    LINKTYPE_RAW, nanosecond timestamps: IPv4, IPv6 with hop-by-hop and
#                            fragment headers, a non-first fragment, ESP over IPv6
#   synthetic-vlan.pcap      EN10MB with one 802.1Q tag, and with 802.1ad + 802.1Q (QinQ)
#   synthetic-null-be.pcap   DLT_NULL written by a big-endian host
#   synthetic-nflog-be.pcap  NFLOG written by a big-endian host (TLV lengths big-endian)
set -eu

cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "make-fixtures.sh: run as root (namespaces, nft, tcpdump)" >&2; exit 2; }

run=$$
A="spfx-a-$run"
B="spfx-b-$run"
VA="spfa$run"
VB="spfb$run"
PIDS=""

cleanup() {
    for p in $PIDS; do kill -INT "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
for ns in "$A" "$B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
ip -n "$A" link set "$VA" address 02:00:00:c6:12:01
ip -n "$B" link set "$VB" address 02:00:00:c6:12:02
ip -n "$A" addr add 198.18.200.1/24 dev "$VA"
ip -n "$B" addr add 198.18.200.2/24 dev "$VB"
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
ip netns exec "$B" nft -f - <<'EOF'
table inet spfx {
    chain input {
        type filter hook input priority 100; policy accept;
        ip saddr 198.18.200.1 log group 7 queue-threshold 1
    }
}
EOF

capture() {  # file, tcpdump arguments...
    f=$1; shift
    rm -f "$f"
    ip netns exec "$B" tcpdump -q -U -s 2048 -w "$f" "$@" 2>/dev/null &
    PIDS="$PIDS $!"
}
capture eth.pcap -i "$VB"
capture any-sll.pcap -i any -y LINUX_SLL
capture any-sll2.pcap -i any -y LINUX_SLL2
capture nflog.pcap -i nflog:7
sleep 1

TRAFFIC='
import socket, struct, sys, time
A, B = "198.18.200.1", "198.18.200.2"
if sys.argv[1] == "server":
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((B, 2377)); t.listen(1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((B, 7946))
    print("ready", flush=True)
    c, _ = t.accept(); assert c.recv(100) == b"ping-2377"; c.sendall(b"pong-2377"); time.sleep(0.2); c.close()
    data, peer = u.recvfrom(100); assert data == b"ping-7946"; u.sendto(b"pong-7946", peer)
else:
    c = socket.socket(); c.bind((A, 40001)); c.connect((B, 2377)); c.sendall(b"ping-2377")
    assert c.recv(100) == b"pong-2377"; time.sleep(0.3); c.close(); time.sleep(0.2)
    r = socket.socket(); r.bind((A, 40002))
    try: r.connect((B, 2378))
    except ConnectionRefusedError: pass
    r.close(); time.sleep(0.2)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((A, 7946)); u.settimeout(2)
    u.sendto(b"ping-7946", (B, 7946)); assert u.recvfrom(100)[0] == b"pong-7946"; time.sleep(0.2)
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.bind((A, 40003)); v.sendto(b"vxlan?", (B, 4789)); time.sleep(0.2)
    e = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
    e.sendto(struct.pack("!II", 0xABCD, 1) + b"esp-probe-payload", (B, 0))
    time.sleep(0.3)
'
ip netns exec "$B" python3 -c "$TRAFFIC" server > /tmp/spfx-server-$run &
SERVER=$!
PIDS="$PIDS $SERVER"  # so a failed client does not leave the server waiting in accept()
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q ready /tmp/spfx-server-$run 2>/dev/null && break; sleep 0.2; done
rm -f /tmp/spfx-server-$run
ip netns exec "$A" python3 -c "$TRAFFIC" client
wait "$SERVER"
sleep 0.5
cleanup
PIDS=""

python3 - <<'EOF'
import struct

def pcap(path, linktype, records, endian="<", nano=False):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        for sec, frac, data in records:
            f.write(struct.pack(endian + "IIII", sec, frac, len(data), len(data)))
            f.write(data)

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ipv4(src, dst, proto, payload, frag=0, ident=1):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def ipv6(src, dst, nxt, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64, bytes(src), bytes(dst)) + payload

def udp(sp, dp, data): return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
def tcp(sp, dp, flags, data=b""): return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 65535, 0, 0) + data

V4A, V4B = [198, 18, 201, 1], [198, 18, 201, 2]
V6A = [0x20, 0x01, 0, 2] + [0] * 11 + [1]
V6B = [0x20, 0x01, 0, 2] + [0] * 11 + [2]
T = 1_700_000_000

hop = bytes([17, 0, 1, 4, 0, 0, 0, 0])                 # hop-by-hop, next UDP, PadN
frag_first = struct.pack("!BBHI", 6, 0, 0x0001, 7)     # fragment, next TCP, offset 0, more fragments
frag_later = struct.pack("!BBHI", 6, 0, 0x00B8, 7)     # offset 23*8: not the first fragment
pcap("synthetic-raw-ns.pcap", 101, [
    (T, 123_456_789, ipv4(V4A, V4B, 17, udp(7946, 7946, b"v4-udp"))),
    (T, 123_457_999, ipv6(V6A, V6B, 0, hop + udp(40000, 4789, b"v6-hbh-udp"))),
    (T + 1, 1_000, ipv6(V6A, V6B, 44, frag_first + tcp(40001, 2377, 0x02))),
    (T + 1, 2_000, ipv6(V6A, V6B, 44, frag_later + b"later-fragment-bytes")),
    (T + 1, 3_000, ipv6(V6B, V6A, 50, struct.pack("!II", 0x1234, 9) + b"v6-esp")),
    (T + 1, 4_000, ipv4(V4A, V4B, 6, tcp(40001, 2377, 0x02), frag=0x0003)),  # non-first IPv4 fragment
    (T + 1, 5_000, ipv4(V4A, V4B, 1, b"\x08\x00\xf7\xff\x00\x00\x00\x00")),  # ICMP echo
], nano=True)

mac_b, mac_a = bytes.fromhex("0200000c6102"), bytes.fromhex("0200000c6101")
eth = mac_b + mac_a
pcap("synthetic-vlan.pcap", 1, [
    (T, 1, eth + struct.pack("!HHH", 0x8100, 42, 0x0800) + ipv4(V4A, V4B, 6, tcp(40001, 2377, 0x12, b"vlan42"))),
    (T, 2, eth + struct.pack("!HHHHH", 0x88A8, 100, 0x8100, 42, 0x86DD) + ipv6(V6A, V6B, 17, udp(7946, 7946, b"qinq"))),
    (T, 3, eth + struct.pack("!HHH", 0x8100, 42, 0x0806) + bytes(28)),    # ARP in a VLAN
])

pcap("synthetic-null-be.pcap", 0, [
    (T, 10, struct.pack(">I", 2) + ipv4(V4A, V4B, 17, udp(7946, 7946, b"null-v4"))),
    (T, 11, struct.pack(">I", 24) + ipv6(V6A, V6B, 6, tcp(40001, 2377, 0x04))),
], endian=">")

def tlv(t, v, endian):
    n = 4 + len(v)
    return struct.pack(endian + "HH", n, t) + v + bytes((4 - n % 4) % 4)

def nflog(endian, packet):
    return (struct.pack("!BBH", 2, 0, 7)
            + tlv(1, struct.pack("!HBB", 0x0800, 1, 0), endian)          # NFULA_PACKET_HDR
            + tlv(10, b"swarm\0", endian)                                 # NFULA_PREFIX
            + tlv(9, packet, endian))                                     # NFULA_PAYLOAD

pcap("synthetic-nflog-be.pcap", 239, [
    (T, 20, nflog(">", ipv4(V4A, V4B, 17, udp(7946, 7946, b"nflog-be")))),
    (T, 21, nflog(">", ipv4(V4A, V4B, 50, struct.pack("!II", 0xABCD, 2) + b"esp"))),
], endian=">")
EOF

chown 0:0 ./*.pcap  # tcpdump wrote them as its own user
ls -l ./*.pcap
