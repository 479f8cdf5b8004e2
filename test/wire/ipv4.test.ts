import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksum } from '../../lib/wire/checksum.js';
import {
  Ipv4Header,
  formatIpv4,
  parseIpv4,
  parseIpv4Address,
  parseQuotedIpv4,
  writeIpv4,
} from '../../lib/wire/ipv4.js';

const u32 = fc.nat(0xffffffff);

const arbitraryHeader = fc
  .record({
    tos: fc.nat(255),
    payload: fc.nat(200),
    identification: fc.nat(0xffff),
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.nat(0x1fff).map((units) => units * 8),
    ttl: fc.nat(255),
    protocol: fc.nat(255),
    src: u32,
    dst: u32,
  })
  .map(({ payload, ...fields }) => {
    const h = Object.assign(new Ipv4Header(), fields);
    h.totalLength = 20 + payload;
    return h;
  });

describe('IPv4', () => {
  it('round-trips headers, fragment fields included', () => {
    fc.assert(
      fc.property(arbitraryHeader, fc.nat(32), fc.nat(30), (h, pad, padding) => {
        const buf = new Uint8Array(pad + h.totalLength + padding);
        expect(writeIpv4(buf, pad, h)).toBe(20);
        expect(checksum(buf, pad, 20)).toBe(0);
        const parsed = new Ipv4Header();
        expect(parseIpv4(buf, pad, h.totalLength + padding, parsed)).toBeUndefined();
        for (const key of [
          'tos',
          'totalLength',
          'identification',
          'dontFragment',
          'moreFragments',
          'fragmentOffset',
          'ttl',
          'protocol',
          'src',
          'dst',
        ] as const) {
          expect(parsed[key], key).toBe(h[key]);
        }
        expect(parsed.headerLength).toBe(20);
        expect(parsed.fragment).toBe(h.moreFragments || h.fragmentOffset !== 0);
        expect(parsed.payloadOffset).toBe(pad + 20);
        expect(parsed.payloadLength).toBe(h.totalLength - 20);
      }),
    );
  });

  it('skips options by the header length', () => {
    const h = new Ipv4Header();
    h.totalLength = 24 + 4;
    const buf = new Uint8Array(28);
    writeIpv4(buf, 0, h);
    // Move to a 24-byte header holding one option (Router Alert, RFC 2113) and fix the sum.
    buf[0] = 0x46;
    buf.set([0x94, 0x04, 0, 0], 20);
    buf[10] = 0;
    buf[11] = 0;
    const sum = checksum(buf, 0, 24);
    buf[10] = sum >>> 8;
    buf[11] = sum & 0xff;
    const parsed = new Ipv4Header();
    expect(parseIpv4(buf, 0, 28, parsed)).toBeUndefined();
    expect(parsed.headerLength).toBe(24);
    expect(parsed.payloadOffset).toBe(24);
    expect(parsed.payloadLength).toBe(4);
  });

  it('names every malformation', () => {
    const h = new Ipv4Header();
    h.totalLength = 40;
    const good = new Uint8Array(40);
    writeIpv4(good, 0, h);
    const parsed = new Ipv4Header();
    const withByte = (at: number, value: number): Uint8Array => {
      const b = good.slice();
      b[at] = value;
      return b;
    };
    expect(parseIpv4(good, 0, 19, parsed)).toBe('ipv4-truncated');
    expect(parseIpv4(good, 30, 20, parsed)).toBe('ipv4-truncated');
    expect(parseIpv4(withByte(0, 0x65), 0, 40, parsed)).toBe('ipv4-bad-version');
    expect(parseIpv4(withByte(0, 0x44), 0, 40, parsed)).toBe('ipv4-bad-header-length');
    expect(parseIpv4(withByte(0, 0x4f), 0, 40, parsed)).toBe('ipv4-bad-header-length');
    expect(parseIpv4(withByte(3, 19), 0, 40, parsed)).toBe('ipv4-bad-total-length');
    expect(parseIpv4(withByte(3, 41), 0, 40, parsed)).toBe('ipv4-bad-total-length');
    expect(parseIpv4(good, 0, 39, parsed)).toBe('ipv4-bad-total-length');
    expect(parseIpv4(withByte(8, 63), 0, 40, parsed)).toBe('ipv4-bad-checksum');
    expect(parseIpv4(withByte(8, 63), 0, 40, parsed, false)).toBeUndefined();
  });

  it('reads a quote cut short, needing the header and 8 bytes', () => {
    const h = new Ipv4Header();
    h.totalLength = 1500;
    const buf = new Uint8Array(28);
    writeIpv4(buf, 0, h);
    buf[8] = 1; // a quote may carry a header changed after its checksum
    const parsed = new Ipv4Header();
    expect(parseQuotedIpv4(buf, 0, 28, parsed)).toBeUndefined();
    expect(parsed.totalLength).toBe(1500);
    expect(parsed.payloadLength).toBe(8);
    expect(parseQuotedIpv4(buf, 0, 27, parsed)).toBe('ipv4-truncated');
    buf[3] = 27;
    buf[2] = 0;
    expect(parseQuotedIpv4(buf, 0, 28, parsed)).toBe('ipv4-bad-total-length');
  });

  it('formats and parses dotted quads', () => {
    fc.assert(
      fc.property(u32, (address) => {
        expect(parseIpv4Address(formatIpv4(address))).toBe(address);
      }),
    );
    expect(formatIpv4(0xc6120001)).toBe('198.18.0.1');
    for (const bad of ['198.18.0', '198.18.0.256', '198.18.0.01', '198.18.0.1.', 'a.b.c.d', '']) {
      expect(parseIpv4Address(bad), bad).toBeUndefined();
    }
  });
});
