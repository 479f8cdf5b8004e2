import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ethernetHeader } from './records.js';
import { ARP_REQUEST, ArpPacket, writeArp } from '../../lib/wire/arp.js';
import { ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  writeEthernet,
} from '../../lib/wire/ethernet.js';
import { Frame, parseFrame } from '../../lib/wire/frame.js';
import { ICMP_ECHO_REQUEST, writeIcmpEcho } from '../../lib/wire/icmp.js';
import { Ipv4Header, PROTOCOL_ICMP, PROTOCOL_TCP, writeIpv4 } from '../../lib/wire/ipv4.js';
import { WIRE_DROP_REASONS } from '../../lib/wire/reasons.js';
import {
  ACK,
  OPT_NOP,
  OPT_TIMESTAMP,
  TcpHeader,
  fillTcpChecksum,
  writeTcp,
} from '../../lib/wire/tcp.js';

const SRC = 0xc6120001;
const DST = 0xc6120002;

/** An Ethernet/IPv4/TCP frame with timestamps and `payload` bytes, optionally VLAN-tagged. */
function tcpFrame(payload: number, vlanTci = -1, seq = 1000): Uint8Array {
  const tcp = new TcpHeader();
  tcp.srcPort = 40000;
  tcp.dstPort = 80;
  tcp.seq = seq;
  tcp.ack = 2000;
  tcp.flags = ACK;
  tcp.window = 501;
  tcp.options.push(OPT_NOP);
  tcp.options.push(OPT_NOP);
  tcp.options.push(OPT_TIMESTAMP);
  tcp.options.timestamp = true;
  tcp.options.tsVal = 7;
  const ip = new Ipv4Header();
  ip.protocol = PROTOCOL_TCP;
  ip.src = SRC;
  ip.dst = DST;
  ip.dontFragment = true;
  ip.totalLength = 20 + 32 + payload;
  const buf = new Uint8Array(18 + ip.totalLength);
  let at = writeEthernet(
    buf,
    0,
    ethernetHeader(0x020000000002, 0x020000000001, ETHERTYPE_IPV4, vlanTci),
  );
  at += writeIpv4(buf, at, ip);
  const headerLength = writeTcp(buf, at, tcp);
  for (let i = 0; i < payload; i++) buf[at + headerLength + i] = i;
  fillTcpChecksum(buf, at, 32 + payload, ipv4PseudoHeaderSum(SRC, DST, PROTOCOL_TCP, 32 + payload));
  return buf.subarray(0, at + 32 + payload);
}

describe('whole frames', () => {
  it('parses an Ethernet/IPv4/TCP frame, tagged or not, and verifies its checksums', () => {
    fc.assert(
      fc.property(fc.nat(1448), fc.option(fc.nat(0xffff), { nil: undefined }), (size, tci) => {
        const buf = tcpFrame(size, tci ?? -1);
        const frame = new Frame();
        expect(parseFrame(buf, 0, buf.length, frame)).toBeUndefined();
        expect(frame.kind).toBe('tcp');
        expect(frame.ethernet.vlan).toBe(tci !== undefined);
        expect(frame.tcp.payloadLength).toBe(size);
        expect(frame.tcp.options.tsVal).toBe(7);
      }),
    );
  });

  it('names a bad TCP checksum, unless the link verified it', () => {
    const buf = tcpFrame(100);
    buf[buf.length - 1] ^= 0x40;
    const frame = new Frame();
    expect(parseFrame(buf, 0, buf.length, frame)).toBe('tcp-bad-checksum');
    expect(parseFrame(buf, 0, buf.length, frame, true)).toBeUndefined();
    buf[14 + 8] ^= 1; // the TTL, under the IPv4 header checksum
    expect(parseFrame(buf, 0, buf.length, frame)).toBe('ipv4-bad-checksum');
  });

  it('ignores Ethernet padding after a short datagram', () => {
    const buf = new Uint8Array(100);
    buf.set(tcpFrame(0));
    buf.fill(0xee, 66);
    const frame = new Frame();
    expect(parseFrame(buf, 0, 100, frame)).toBeUndefined();
    expect(frame.tcp.payloadLength).toBe(0);
  });

  it('recognises fragments and leaves their transport alone', () => {
    const buf = tcpFrame(100);
    const frame = new Frame();
    const ip = new Ipv4Header();
    ip.protocol = PROTOCOL_TCP;
    ip.src = SRC;
    ip.dst = DST;
    ip.moreFragments = true;
    ip.dontFragment = true;
    ip.totalLength = buf.length - 14;
    writeIpv4(buf, 14, ip);
    expect(parseFrame(buf, 0, buf.length, frame)).toBeUndefined();
    expect(frame.kind).toBe('ipv4-fragment');
    expect(frame.ipv4.moreFragments).toBe(true);
  });

  it('tells ARP, ICMP and other EtherTypes apart', () => {
    const frame = new Frame();
    const arp = new Uint8Array(42);
    writeEthernet(arp, 0, ethernetHeader(0xffffffffffff, 1, ETHERTYPE_ARP));
    const packet = new ArpPacket();
    packet.operation = ARP_REQUEST;
    writeArp(arp, 14, packet);
    expect(parseFrame(arp, 0, 42, frame)).toBeUndefined();
    expect(frame.kind).toBe('arp');
    expect(parseFrame(arp, 0, 41, frame)).toBe('arp-truncated');

    const icmp = new Uint8Array(14 + 20 + 8);
    writeEthernet(icmp, 0, ethernetHeader(2, 1, ETHERTYPE_IPV4));
    const ip = new Ipv4Header();
    ip.protocol = PROTOCOL_ICMP;
    ip.totalLength = 28;
    writeIpv4(icmp, 14, ip);
    writeIcmpEcho(icmp, 34, ICMP_ECHO_REQUEST, 1, 1, 0);
    expect(parseFrame(icmp, 0, icmp.length, frame)).toBeUndefined();
    expect(frame.kind).toBe('icmp');
    icmp[41] ^= 1;
    expect(parseFrame(icmp, 0, icmp.length, frame, true)).toBe('icmp-bad-checksum');

    const ipv6 = new Uint8Array(60);
    writeEthernet(ipv6, 0, ethernetHeader(2, 1, ETHERTYPE_IPV6));
    expect(parseFrame(ipv6, 0, 60, frame)).toBeUndefined();
    expect(frame.kind).toBe('other');
  });

  it('lists every reason once', () => {
    expect(new Set(WIRE_DROP_REASONS).size).toBe(WIRE_DROP_REASONS.length);
    for (const reason of WIRE_DROP_REASONS) expect(reason).toMatch(/^(eth|arp|ipv4|icmp|tcp)-/);
  });
});
