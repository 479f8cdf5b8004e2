import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import {
  ACK,
  OPT_EOL,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  SYN,
  TcpHeader,
  TcpOptions,
  fillTcpChecksum,
  parseTcp,
  tcpChecksumOk,
  tcpHeaderLength,
  writeTcp,
} from '../../lib/wire/tcp.js';

const optionSizes: Record<number, number> = {
  [OPT_EOL]: 1,
  [OPT_NOP]: 1,
  [OPT_MSS]: 4,
  [OPT_WINDOW_SCALE]: 3,
  [OPT_SACK_PERMITTED]: 2,
  [OPT_TIMESTAMP]: 10,
};

const u32 = fc.nat(0xffffffff);
const u16 = fc.nat(0xffff);

/** A header whose option layout fits in 40 bytes; EOL, when present, is last. */
const arbitraryHeader = fc
  .record({
    srcPort: u16,
    dstPort: u16,
    seq: u32,
    ack: u32,
    flags: fc.nat(255),
    window: u16,
    checksum: u16,
    urgentPointer: u16,
    mss: u16,
    windowScale: fc.nat(255),
    tsVal: u32,
    tsEcr: u32,
    sackBlocks: fc.array(u32, { minLength: 2, maxLength: 8 }),
    kinds: fc.array(
      fc.constantFrom(
        OPT_NOP,
        OPT_MSS,
        OPT_WINDOW_SCALE,
        OPT_SACK_PERMITTED,
        OPT_SACK,
        OPT_TIMESTAMP,
      ),
      { maxLength: 12 },
    ),
    endWithEol: fc.boolean(),
  })
  .map((r) => {
    const h = new TcpHeader();
    Object.assign(h, {
      srcPort: r.srcPort,
      dstPort: r.dstPort,
      seq: r.seq,
      ack: r.ack,
      flags: r.flags,
      window: r.window,
      checksum: r.checksum,
      urgentPointer: r.urgentPointer,
    });
    const o = h.options;
    const blocks = r.sackBlocks.length >> 1;
    let used = 0;
    for (const kind of [...r.kinds, ...(r.endWithEol ? [OPT_EOL] : [])]) {
      const size = kind === OPT_SACK ? 2 + 8 * blocks : optionSizes[kind];
      if (used + size > 40) break;
      used += size;
      o.push(kind);
      if (kind === OPT_MSS) o.mss = r.mss;
      if (kind === OPT_WINDOW_SCALE) o.windowScale = r.windowScale;
      if (kind === OPT_SACK_PERMITTED) o.sackPermitted = true;
      if (kind === OPT_TIMESTAMP) {
        o.timestamp = true;
        o.tsVal = r.tsVal;
        o.tsEcr = r.tsEcr;
      }
      if (kind === OPT_SACK) {
        o.sackBlockCount = blocks;
        o.sackBlocks.set(r.sackBlocks.slice(0, 2 * blocks));
      }
    }
    return h;
  });

function optionBytes(o: TcpOptions): number {
  let size = 0;
  for (let k = 0; k < o.kindCount; k++) {
    const kind = o.kinds[k];
    size += kind === OPT_SACK ? 2 + 8 * o.sackBlockCount : optionSizes[kind];
  }
  return size;
}

function sameHeader(a: TcpHeader, b: TcpHeader): void {
  for (const key of [
    'srcPort',
    'dstPort',
    'seq',
    'ack',
    'flags',
    'window',
    'checksum',
    'urgentPointer',
  ] as const) {
    expect(a[key], key).toBe(b[key]);
  }
  const x = a.options;
  const y = b.options;
  expect(x.mss).toBe(y.mss);
  expect(x.windowScale).toBe(y.windowScale);
  expect(x.sackPermitted).toBe(y.sackPermitted);
  expect(x.timestamp).toBe(y.timestamp);
  if (y.timestamp) {
    expect(x.tsVal).toBe(y.tsVal);
    expect(x.tsEcr).toBe(y.tsEcr);
  }
  expect(x.sackBlockCount).toBe(y.sackBlockCount);
  expect([...x.sackBlocks.subarray(0, 2 * x.sackBlockCount)]).toEqual([
    ...y.sackBlocks.subarray(0, 2 * y.sackBlockCount),
  ]);
  expect([...x.kinds.subarray(0, x.kindCount)]).toEqual([...y.kinds.subarray(0, y.kindCount)]);
}

/** A Linux-style SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const linuxSyn = Buffer.from(
  'c0a8' + // source port 49320
    '0050' + // destination port 80
    '12345678' + // seq
    '00000000' + // ack
    'a002' + // data offset 10, SYN
    'faf0' + // window 64240
    'beef' + // checksum
    '0000' + // urgent pointer
    '020405b4' + // MSS 1460
    '0402' + // SACK permitted
    '080a 0001e240 00000000'.replace(/ /g, '') + // TSval 123456, TSecr 0
    '01' + // NOP
    '030307', // window scale 7
  'hex',
);

describe('TCP header', () => {
  it('parses a Linux-style SYN with all its options', () => {
    const h = new TcpHeader();
    const buf = new Uint8Array(linuxSyn);
    expect(parseTcp(buf, 0, buf.length, h)).toBeUndefined();
    expect(h.srcPort).toBe(49320);
    expect(h.dstPort).toBe(80);
    expect(h.seq).toBe(0x12345678);
    expect(h.ack).toBe(0);
    expect(h.headerLength).toBe(40);
    expect(h.flags).toBe(SYN);
    expect(h.window).toBe(64240);
    expect(h.checksum).toBe(0xbeef);
    expect(h.options.mss).toBe(1460);
    expect(h.options.sackPermitted).toBe(true);
    expect(h.options.timestamp).toBe(true);
    expect(h.options.tsVal).toBe(123456);
    expect(h.options.tsEcr).toBe(0);
    expect(h.options.windowScale).toBe(7);
    expect([...h.options.kinds.subarray(0, h.options.kindCount)]).toEqual([
      OPT_MSS,
      OPT_SACK_PERMITTED,
      OPT_TIMESTAMP,
      OPT_NOP,
      OPT_WINDOW_SCALE,
    ]);
    expect(h.payloadOffset).toBe(40);
    expect(h.payloadLength).toBe(0);

    const out = new Uint8Array(60);
    expect(writeTcp(out, 0, h)).toBe(40);
    expect(Buffer.from(out.subarray(0, 40)).equals(linuxSyn)).toBe(true);
  });

  it('parses SACK blocks, high sequence numbers and a payload', () => {
    const bytes = Buffer.from(
      '1f900bb8 ffffffff 80000001 8010 0100 0000 0000'.replace(/ /g, '') +
        '0101 050a fffffff0 00000010'.replace(/ /g, '') +
        '68656c6c6f',
      'hex',
    );
    bytes[12] = 8 << 4; // 32-byte header: 20 + NOP NOP SACK(10)
    const h = new TcpHeader();
    const buf = new Uint8Array(bytes);
    expect(parseTcp(buf, 0, buf.length, h)).toBeUndefined();
    expect(h.seq).toBe(0xffffffff);
    expect(h.ack).toBe(0x80000001);
    expect(h.flags).toBe(ACK);
    expect(h.options.sackBlockCount).toBe(1);
    expect(h.options.sackBlocks[0]).toBe(0xfffffff0);
    expect(h.options.sackBlocks[1]).toBe(0x10);
    expect(h.payloadOffset).toBe(32);
    expect(Buffer.from(buf.subarray(h.payloadOffset)).toString()).toBe('hello');
  });

  it('skips unknown options by their length', () => {
    const bytes = new Uint8Array(28 + 3);
    bytes[12] = 7 << 4;
    bytes.set([30, 4, 0xaa, 0xbb, OPT_WINDOW_SCALE, 3, 9, OPT_EOL], 20);
    const h = new TcpHeader();
    expect(parseTcp(bytes, 0, bytes.length, h)).toBeUndefined();
    expect(h.options.windowScale).toBe(9);
    expect(h.payloadLength).toBe(3);
  });

  it('names every malformation instead of throwing', () => {
    const h = new TcpHeader();
    const base = (): Uint8Array => {
      const b = new Uint8Array(40);
      b[12] = 10 << 4;
      return b;
    };
    expect(parseTcp(new Uint8Array(19), 0, 19, h)).toBe('tcp-truncated');
    expect(parseTcp(new Uint8Array(40), 30, 20, h)).toBe('tcp-truncated');
    expect(parseTcp(new Uint8Array(40), -1, 20, h)).toBe('tcp-truncated');

    const lowOffset = base();
    lowOffset[12] = 4 << 4;
    expect(parseTcp(lowOffset, 0, 40, h)).toBe('tcp-bad-data-offset');
    const pastEnd = base();
    pastEnd[12] = 11 << 4;
    expect(parseTcp(pastEnd, 0, 40, h)).toBe('tcp-bad-data-offset');

    const cases: number[][] = [
      [OPT_MSS, 0],
      [OPT_MSS, 1],
      [OPT_MSS, 3, 0],
      [OPT_WINDOW_SCALE, 4, 0, 0],
      [OPT_SACK_PERMITTED, 3, 0],
      [OPT_TIMESTAMP, 8, 0, 0, 0, 0, 0, 0],
      [OPT_SACK, 2],
      [OPT_SACK, 9, 0, 0, 0, 0, 0, 0, 0],
      [99, 30],
      [99, 0],
    ];
    for (const option of cases) {
      const b = base();
      b.set(option, 20);
      expect(parseTcp(b, 0, 40, h), option.join(',')).toBe('tcp-bad-option-length');
    }
    const lastByte = base();
    lastByte.fill(OPT_NOP, 20, 39);
    lastByte[39] = OPT_MSS;
    expect(parseTcp(lastByte, 0, 40, h)).toBe('tcp-bad-option-length');
  });

  it('round-trips every header and option layout', () => {
    fc.assert(
      fc.property(arbitraryHeader, fc.nat(64), fc.nat(100), (header, pad, payload) => {
        const headerLength = tcpHeaderLength(header.options);
        const buf = new Uint8Array(pad + headerLength + payload);
        expect(writeTcp(buf, pad, header)).toBe(headerLength);
        const parsed = new TcpHeader();
        expect(parseTcp(buf, pad, headerLength + payload, parsed)).toBeUndefined();
        // Zero padding after the last option reads back as one EOL.
        const kinds = header.options;
        const last = kinds.kindCount > 0 ? kinds.kinds[kinds.kindCount - 1] : -1;
        if (last !== OPT_EOL && tcpHeaderLength(kinds) - 20 > optionBytes(kinds)) {
          kinds.push(OPT_EOL);
        }
        sameHeader(parsed, header);
        expect(parsed.headerLength).toBe(headerLength);
        expect(parsed.payloadOffset).toBe(pad + headerLength);
        expect(parsed.payloadLength).toBe(payload);

        const again = new Uint8Array(buf.length);
        writeTcp(again, pad, parsed);
        expect(again.subarray(pad, pad + headerLength)).toEqual(
          buf.subarray(pad, pad + headerLength),
        );
      }),
    );
  });

  it('writes sequence numbers modulo 2^32', () => {
    const h = new TcpHeader();
    h.seq = 2 ** 32 + 5;
    h.ack = -1;
    const buf = new Uint8Array(20);
    writeTcp(buf, 0, h);
    const parsed = new TcpHeader();
    parseTcp(buf, 0, 20, parsed);
    expect(parsed.seq).toBe(5);
    expect(parsed.ack).toBe(0xffffffff);
  });

  it('refuses to write more than 40 bytes of options', () => {
    const h = new TcpHeader();
    for (let k = 0; k < 5; k++) h.options.push(OPT_TIMESTAMP);
    expect(() => writeTcp(new Uint8Array(80), 0, h)).toThrow(RangeError);
  });

  it('fills and verifies the checksum over the pseudo-header', () => {
    fc.assert(
      fc.property(arbitraryHeader, fc.uint8Array({ maxLength: 200 }), u32, u32, (h, p, s, d) => {
        const headerLength = tcpHeaderLength(h.options);
        const length = headerLength + p.length;
        const buf = new Uint8Array(length);
        writeTcp(buf, 0, h);
        buf.set(p, headerLength);
        const pseudo = ipv4PseudoHeaderSum(s, d, 6, length);
        fillTcpChecksum(buf, 0, length, pseudo);
        expect(tcpChecksumOk(buf, 0, length, pseudo)).toBe(true);
        buf[length - 1] ^= 0x01;
        expect(tcpChecksumOk(buf, 0, length, pseudo)).toBe(false);
      }),
    );
  });
});
