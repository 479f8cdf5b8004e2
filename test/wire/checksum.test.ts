import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksum,
  finishChecksum,
  foldSum,
  ipv4PseudoHeaderSum,
  pseudoHeaderSum,
  sumWords,
} from '../../lib/wire/checksum.js';

/** Straightforward RFC 1071 sum, word by word with end-around carry at every step. */
function referenceSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

describe('Internet checksum', () => {
  it('matches the worked example of RFC 1071 4.1', () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(sumWords(bytes, 0, bytes.length)).toBe(0xddf2);
    expect(finishChecksum(0xddf2)).toBe(0x220d);
  });

  it('checks a real IPv4 header to zero', () => {
    // 198.18.0.1 -> 198.18.0.2, TTL 64, TCP, total length 60, id 0x1c46, DF.
    const header = Uint8Array.from(
      Buffer.from('450000 3c1c4640 004006 0000 c6120001 c6120002'.replace(/ /g, ''), 'hex'),
    );
    const value = checksum(header, 0, 20);
    header[10] = value >>> 8;
    header[11] = value & 0xff;
    expect(checksum(header, 0, 20)).toBe(0);
  });

  it('agrees with a word-by-word reference at any offset and length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.nat(16),
        fc.nat(0xffff),
        (bytes, pad, initial) => {
          const buf = new Uint8Array(pad + bytes.length);
          buf.set(bytes, pad);
          const ours = foldSum(sumWords(buf, pad, bytes.length, initial));
          const ref = foldSum(referenceSum(bytes) + initial);
          expect(ours % 0xffff).toBe(ref % 0xffff);
        },
      ),
    );
  });

  it('agrees across views with any byte offset, shared memory, and many memories in turn', () => {
    const memories = [new ArrayBuffer(4099), new SharedArrayBuffer(4096), new ArrayBuffer(4100)];
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.nat(40),
        fc.nat(16),
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        (which, viewOffset, pad, bytes) => {
          const view = new Uint8Array(memories[which], viewOffset, 2100);
          view.set(bytes, pad);
          const ours = sumWords(view, pad, bytes.length);
          expect(ours % 0xffff).toBe(foldSum(referenceSum(bytes)) % 0xffff);
        },
      ),
    );
  });

  it('is the same summed in two pieces split at an even boundary', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (bytes, cut) => {
        const at = (cut % (bytes.length + 1)) & ~1;
        const whole = sumWords(bytes, 0, bytes.length);
        const split = sumWords(bytes, at, bytes.length - at, sumWords(bytes, 0, at));
        expect(finishChecksum(split)).toBe(finishChecksum(whole));
      }),
    );
  });

  it('verifies to zero once the checksum is inserted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 1600 }), (bytes) => {
        bytes[0] = 0;
        bytes[1] = 0;
        const value = checksum(bytes, 0, bytes.length);
        bytes[0] = value >>> 8;
        bytes[1] = value & 0xff;
        expect(checksum(bytes, 0, bytes.length)).toBe(0);
      }),
    );
  });

  it('builds the IPv4 pseudo-header from bytes or from 32-bit addresses alike', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc.nat(0xffffffff),
        fc.nat(255),
        fc.nat(0xffff),
        (src, dst, protocol, length) => {
          const bytes = new Uint8Array(12);
          const view = new DataView(bytes.buffer);
          view.setUint32(0, src);
          view.setUint32(4, dst);
          view.setUint16(8, protocol);
          view.setUint16(10, length);
          const expected = sumWords(bytes, 0, 12);
          const fromBytes = pseudoHeaderSum(bytes, 0, bytes, 4, 4, protocol, length);
          expect(finishChecksum(fromBytes)).toBe(finishChecksum(expected));
          const fromNumbers = ipv4PseudoHeaderSum(src, dst, protocol, length);
          expect(finishChecksum(fromNumbers)).toBe(finishChecksum(expected));
        },
      ),
    );
  });

  it('builds the IPv6 pseudo-header of RFC 8200 8.1', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(255),
        fc.nat(0xffffffff),
        (addresses, nextHeader, length) => {
          const bytes = new Uint8Array(40);
          bytes.set(addresses, 0);
          const view = new DataView(bytes.buffer);
          view.setUint32(32, length);
          bytes[39] = nextHeader;
          const expected = sumWords(bytes, 0, 40);
          const ours = pseudoHeaderSum(addresses, 0, addresses, 16, 6, nextHeader, length);
          expect(finishChecksum(ours)).toBe(finishChecksum(expected));
        },
      ),
    );
  });
});
