"""Peer side of the link tests: plain AF_PACKET sockets, run inside the peer namespace.

  peer.py send IFNAME DST_MAC ETHERTYPE COUNT LENGTH   sends COUNT frames, payload = index
  peer.py recv IFNAME ETHERTYPE COUNT TIMEOUT          counts frames of ETHERTYPE; prints JSON

Each frame carries a 4-byte big-endian sequence number right after the Ethernet header, so
the receiving side can check that every frame arrived exactly once.
"""
import json
import socket
import struct
import sys
import time


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def send(ifname, dst, ethertype, count, length):
    ethertype = int(ethertype, 0)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    s.bind((ifname, ethertype))
    src = s.getsockname()[4]
    header = mac_bytes(dst) + src + struct.pack("!H", ethertype)
    padding = bytes(max(0, int(length) - 18))
    sent = 0
    for index in range(int(count)):
        frame = header + struct.pack("!I", index) + padding
        while True:
            try:
                s.send(frame)
                break
            except BlockingIOError:
                time.sleep(0.0001)
            except OSError as error:
                if error.errno != 105:  # ENOBUFS: the qdisc is full, wait a moment
                    raise
                time.sleep(0.0001)
        sent += 1
    print(json.dumps({"sent": sent}), flush=True)


def recv(ifname, ethertype, count, timeout):
    ethertype = int(ethertype, 0)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    s.bind((ifname, ethertype))
    s.settimeout(float(timeout))
    print("ready", flush=True)
    seen = set()
    frames = 0
    lengths = []
    sources = set()
    try:
        while frames < int(count):
            data, address = s.recvfrom(65536)
            if address[2] == socket.PACKET_OUTGOING:
                continue
            frames += 1
            lengths.append(len(data))
            sources.add(data[6:12].hex(":"))
            seen.add(struct.unpack("!I", data[14:18])[0])
    except socket.timeout:
        pass
    print(json.dumps({
        "frames": frames,
        "distinct": len(seen),
        "lengths": sorted(set(lengths)),
        "sources": sorted(sources),
        "first": sorted(seen)[:16],
    }), flush=True)


if __name__ == "__main__":
    {"send": send, "recv": recv}[sys.argv[1]](*sys.argv[2:])
