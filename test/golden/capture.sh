#!/usr/bin/env bash
# Captures the golden frames the wire tests parse, from the kernel's own ARP, ICMP and TCP.
#
# Topology, three network namespaces joined by veth pairs, addresses from 198.18.0.0/15:
#   A  a0 198.18.0.1/24 ── r0 198.18.0.254/24  R  r1 198.18.1.254/24 ── b0 198.18.1.2/24  B
# R forwards; r1 has MTU 1280 while b0 keeps 1500, so a full-size DF packet from A to B makes R
# answer "fragmentation needed" with a next-hop MTU of 1280. tcpdump listens on a0.
#
# Checksum offload, TSO, GSO and GRO are off on every interface: otherwise a capture holds
# partial checksums and super-frames larger than the MTU.
#
# Usage: test/golden/capture.sh [output directory]   (root; iproute2, ethtool, tcpdump,
# iputils-ping, python3). Writes arp-icmp.pcap, fragments.pcap, ip-options.pcap, tcp.pcap,
# rst.pcap and icmp-errors.pcap.
set -euo pipefail

out=$(realpath "${1:-$(dirname "$0")}")
A=utcp-golden-a
R=utcp-golden-r
B=utcp-golden-b
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in $A $R $B; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP
cleanup # leftovers of an earlier run that crashed

for ns in $A $R $B; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1

ip link add a0 netns $A address 02:00:00:00:00:01 type veth \
  peer r0 netns $R address 02:00:00:00:00:fe
ip link add r1 netns $R address 02:00:00:00:01:fe type veth \
  peer b0 netns $B address 02:00:00:00:01:02

ip -n $R link set r1 mtu 1280
for spec in "$A a0 198.18.0.1/24" "$R r0 198.18.0.254/24" "$R r1 198.18.1.254/24" \
  "$B b0 198.18.1.2/24"; do
  read -r ns dev address <<<"$spec"
  ip netns exec "$ns" ethtool -K "$dev" rx off tx off tso off gso off gro off >/dev/null 2>&1
  ip -n "$ns" addr add "$address" dev "$dev"
  ip -n "$ns" link set "$dev" up
done
ip -n $A route add default via 198.18.0.254
ip -n $B route add default via 198.18.1.254

# Fails loudly if an offload stayed on: the frames would not be what the tests expect.
for spec in "$A a0" "$R r0" "$R r1" "$B b0"; do
  read -r ns dev <<<"$spec"
  features=$(ip netns exec "$ns" ethtool -k "$dev")
  for feature in tx-checksumming rx-checksumming tcp-segmentation-offload \
    generic-segmentation-offload generic-receive-offload; do
    if ! grep -q "^$feature: off" <<<"$features"; then
      echo "capture.sh: $feature still on for $dev" >&2
      exit 1
    fi
  done
done

# A TCP server in B: port 8080 answers one line and closes after the client does; port 8081
# swallows a bulk upload.
ip netns exec $B python3 -c '
import socket, threading
def serve(port, handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.1.2", port)); s.listen(4)
    def loop():
        while True:
            c, _ = s.accept(); handle(c)
    threading.Thread(target=loop, daemon=True).start()
def echo(c):
    data = b""
    while not data.endswith(b"\n"):
        data += c.recv(100)
    c.sendall(data.upper())
    while c.recv(100): pass
    c.close()
def sink(c):
    while c.recv(65536): pass
    c.close()
serve(8080, echo); serve(8081, sink)
threading.Event().wait()
' &
pids+=($!)

client() {
  ip netns exec $A python3 -c "$1"
}

capture() {
  local file=$1
  shift
  ip netns exec $A tcpdump -i a0 -nn -U --immediate-mode -Z root -w "$out/$file" \
    2>"$out/.tcpdump.log" &
  local pid=$!
  for _ in $(seq 50); do
    grep -q listening "$out/.tcpdump.log" 2>/dev/null && break
    sleep 0.1
  done
  "$@"
  sleep 0.5
  kill -INT "$pid"
  wait "$pid" || true
  rm -f "$out/.tcpdump.log"
}

sleep 0.5 # the server binds

# ARP request and reply (A does not know R yet), then an echo request and reply.
capture arp-icmp.pcap ip netns exec $A ping -c 1 -W 2 198.18.0.254 >/dev/null

# An echo too big for the MTU without DF: fragments both ways.
capture fragments.pcap ip netns exec $A ping -c 1 -W 2 -M dont -s 2000 198.18.0.254 >/dev/null

# An echo with the Record Route option: IPv4 headers of 60 bytes both ways.
capture ip-options.pcap ip netns exec $A ping -c 1 -W 2 -R 198.18.0.254 >/dev/null

# Handshake with every option Linux sends, one line each way, FIN from both ends.
capture tcp.pcap client '
import socket
s = socket.socket(); s.bind(("198.18.0.1", 40000)); s.connect(("198.18.1.2", 8080))
s.sendall(b"hello golden\n")
data = b""
while not data.endswith(b"\n"):
    data += s.recv(100)
assert data == b"HELLO GOLDEN\n", data
s.close()
'

# A SYN to a closed port: B answers RST+ACK.
capture rst.pcap client '
import socket
s = socket.socket(); s.bind(("198.18.0.1", 40001))
try:
    s.connect(("198.18.1.2", 9))
    raise SystemExit("connected to a closed port")
except ConnectionRefusedError:
    pass
'

# Port unreachable from B (UDP to a closed port), time exceeded from R (TTL 1), and
# fragmentation needed from R, both for a DF echo request and for a full-size TCP segment.
capture icmp-errors.pcap bash -c "
ip netns exec $A python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"198.18.0.1\", 40002))
s.sendto(b\"anyone there?\", (\"198.18.1.2\", 9))
'
sleep 0.2
ip netns exec $A ping -c 1 -W 1 -t 1 198.18.1.2 >/dev/null || true
ip netns exec $A ping -c 1 -W 1 -M do -s 1400 198.18.1.2 >/dev/null || true
ip netns exec $A ip route flush cache
ip netns exec $A python3 -c '
import socket
s = socket.socket(); s.bind((\"198.18.0.1\", 40003)); s.connect((\"198.18.1.2\", 8081))
s.sendall(bytes(range(256)) * 40)
s.close()
'
"

ls -l "$out"/*.pcap
