import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ICMP_DESTINATION_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_ERROR_MAX_QUOTE,
  ICMP_PARAMETER_PROBLEM,
  ICMP_REDIRECT,
  ICMP_TIME_EXCEEDED,
  IcmpMessage,
  UNREACHABLE_FRAGMENTATION_NEEDED,
  parseIcmp,
  writeIcmpEcho,
  writeIcmpError,
} from '../../lib/wire/icmp.js';
import { Ipv4Header, writeIpv4 } from '../../lib/wire/ipv4.js';
import { TcpHeader, writeTcp } from '../../lib/wire/tcp.js';

const u16 = fc.nat(0xffff);
const u32 = fc.nat(0xffffffff);

/** An IPv4 datagram carrying a TCP header with these ports and sequence number. */
function offendingDatagram(srcPort: number, dstPort: number, seq: number, size: number) {
  const ip = new Ipv4Header();
  ip.totalLength = size;
  ip.protocol = 6;
  ip.src = 0xc6120001;
  ip.dst = 0xc6120102;
  ip.dontFragment = true;
  const tcp = new TcpHeader();
  tcp.srcPort = srcPort;
  tcp.dstPort = dstPort;
  tcp.seq = seq;
  const bytes = new Uint8Array(size);
  writeIpv4(bytes, 0, ip);
  writeTcp(bytes, 20, tcp);
  return bytes;
}

describe('ICMP', () => {
  it('round-trips echo requests and replies with their data', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY),
        u16,
        u16,
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(16),
        (type, identifier, sequence, data, pad) => {
          const buf = new Uint8Array(pad + 8 + data.length);
          buf.set(data, pad + 8);
          const length = writeIcmpEcho(buf, pad, type, identifier, sequence, data.length);
          expect(length).toBe(8 + data.length);
          const m = new IcmpMessage();
          expect(parseIcmp(buf, pad, length, m)).toBeUndefined();
          expect(m.type).toBe(type);
          expect(m.code).toBe(0);
          expect(m.identifier).toBe(identifier);
          expect(m.sequence).toBe(sequence);
          expect(m.hasQuote).toBe(false);
          expect(m.bodyOffset).toBe(pad + 8);
          expect(buf.subarray(m.bodyOffset, m.bodyOffset + m.bodyLength)).toEqual(data);
        },
      ),
    );
  });

  it('round-trips errors with the quoted header and 8 bytes of TCP readable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          [ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_FRAGMENTATION_NEEDED],
          [ICMP_DESTINATION_UNREACHABLE, 3],
          [ICMP_TIME_EXCEEDED, 0],
          [ICMP_PARAMETER_PROBLEM, 0],
          [ICMP_REDIRECT, 1],
        ),
        u16,
        u16,
        u32,
        u16,
        fc.integer({ min: 28, max: 1500 }),
        ([type, code], srcPort, dstPort, seq, mtu, size) => {
          const datagram = offendingDatagram(srcPort, dstPort, seq, size);
          const rest = type === ICMP_PARAMETER_PROBLEM ? 0x0c000000 : mtu;
          const buf = new Uint8Array(8 + ICMP_ERROR_MAX_QUOTE);
          const length = writeIcmpError(buf, 0, type, code, rest, datagram, 0, size);
          expect(length).toBe(8 + Math.min(size, ICMP_ERROR_MAX_QUOTE));
          const m = new IcmpMessage();
          expect(parseIcmp(buf, 0, length, m)).toBeUndefined();
          expect(m.type).toBe(type);
          expect(m.code).toBe(code);
          expect(m.rest).toBe(rest);
          if (type === ICMP_DESTINATION_UNREACHABLE) expect(m.nextHopMtu).toBe(mtu);
          if (type === ICMP_PARAMETER_PROBLEM) expect(m.pointer).toBe(12);
          if (type === ICMP_REDIRECT) expect(m.gateway).toBe(mtu);
          expect(m.hasQuote).toBe(true);
          expect(m.quoted.totalLength).toBe(size);
          expect(m.quoted.src).toBe(0xc6120001);
          expect(m.quoted.dst).toBe(0xc6120102);
          expect(m.quoted.protocol).toBe(6);
          expect(m.quotedTransportOffset).toBe(28);
          expect(m.quotedSrcPort).toBe(srcPort);
          expect(m.quotedDstPort).toBe(dstPort);
          expect(m.quotedSeq).toBe(seq);
        },
      ),
    );
  });

  it('quotes a datagram from its own buffer', () => {
    const buf = new Uint8Array(700);
    buf.set(offendingDatagram(1, 2, 3, 600), 100);
    const length = writeIcmpError(buf, 90, ICMP_TIME_EXCEEDED, 0, 0, buf, 100, 600);
    const m = new IcmpMessage();
    expect(parseIcmp(buf, 90, length, m)).toBeUndefined();
    expect(m.quotedSeq).toBe(3);
  });

  it('names every malformation', () => {
    const m = new IcmpMessage();
    expect(parseIcmp(new Uint8Array(7), 0, 7, m)).toBe('icmp-truncated');
    const echo = new Uint8Array(16);
    writeIcmpEcho(echo, 0, ICMP_ECHO_REQUEST, 1, 2, 8);
    echo[15] ^= 1;
    expect(parseIcmp(echo, 0, 16, m)).toBe('icmp-bad-checksum');
    expect(parseIcmp(echo, 0, 16, m, false)).toBeUndefined();

    const datagram = offendingDatagram(1, 2, 3, 100);
    const buf = new Uint8Array(200);
    // Quote of the IP header plus only 7 bytes: RFC 792 asks for 8.
    let length = writeIcmpError(buf, 0, ICMP_DESTINATION_UNREACHABLE, 3, 0, datagram, 0, 27);
    expect(parseIcmp(buf, 0, length, m)).toBe('icmp-bad-quoted-header');
    datagram[0] = 0x65;
    length = writeIcmpError(buf, 0, ICMP_DESTINATION_UNREACHABLE, 3, 0, datagram, 0, 100);
    expect(parseIcmp(buf, 0, length, m)).toBe('icmp-bad-quoted-header');
  });

  it('parses unknown types without judging them', () => {
    const buf = new Uint8Array(8);
    buf[0] = 42;
    buf[2] = ~(42 << 8) >>> 8;
    buf[3] = 0xff;
    const m = new IcmpMessage();
    expect(parseIcmp(buf, 0, 8, m)).toBeUndefined();
    expect(m.type).toBe(42);
    expect(m.hasQuote).toBe(false);
  });
});
