import { describe, expect, it } from 'vitest';
import { loadNative } from '../../lib/link/native.js';

const addon = loadNative() as unknown as {
  verifyIpv4Frame(frame: Uint8Array): boolean;
  fillIpv4Frame(frame: Uint8Array): boolean;
};

/** RFC 1071 one's complement sum of 16-bit big-endian words, written out the slow way. */
function sum16(bytes: Uint8Array, start = 0): number {
  let sum = start;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** An Ethernet II + IPv4 frame with the given transport payload, checksums left zero. */
function frame(protocol: number, transport: Uint8Array, fragment = 0): Uint8Array {
  const f = new Uint8Array(14 + 20 + transport.length);
  f.set([0x08, 0x00], 12);
  const ip = f.subarray(14);
  ip[0] = 0x45;
  ip[2] = (20 + transport.length) >> 8;
  ip[3] = (20 + transport.length) & 0xff;
  ip[6] = fragment >> 8;
  ip[7] = fragment & 0xff;
  ip[8] = 64;
  ip[9] = protocol;
  ip.set([198, 18, 0, 2, 198, 18, 0, 10], 12);
  f.set(transport, 34);
  return f;
}

function expectedChecksums(f: Uint8Array, pseudo: boolean): [number, number] {
  const ip = f.subarray(14, 34);
  const header = (~sum16(ip) & 0xffff) >>> 0;
  const payload = f.subarray(34);
  let start = 0;
  if (pseudo) {
    const p = new Uint8Array(12);
    p.set(ip.subarray(12, 20));
    p[9] = ip[9];
    p[10] = payload.length >> 8;
    p[11] = payload.length & 0xff;
    start = sum16(p);
  }
  return [header, ~sum16(payload, start) & 0xffff];
}

describe('checksums in the burst calls', () => {
  it('fills IPv4 and TCP, UDP, ICMP checksums as RFC 1071 computes them', () => {
    const odd = Uint8Array.from({ length: 41 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const [protocol, at, pseudo] of [
      [6, 16, true],
      [17, 6, true],
      [1, 2, false],
    ] as const) {
      const transport = odd.slice();
      transport[at] = transport[at + 1] = 0;
      const f = frame(protocol, transport);
      expect(addon.verifyIpv4Frame(f)).toBe(false);
      const [header, sum] = expectedChecksums(f, pseudo);
      expect(addon.fillIpv4Frame(f)).toBe(true);
      expect((f[24] << 8) | f[25]).toBe(header);
      expect((f[34 + at] << 8) | f[35 + at]).toBe(sum === 0 && protocol === 17 ? 0xffff : sum);
      expect(addon.verifyIpv4Frame(f)).toBe(true);
      f[40] ^= 0x01;
      expect(addon.verifyIpv4Frame(f)).toBe(false);
    }
  });

  it('leaves fragments, other EtherTypes and truncated frames to the stack', () => {
    const transport = new Uint8Array(20);
    const fragment = frame(6, transport, 0x2000);
    expect(addon.fillIpv4Frame(fragment)).toBe(false);
    const arp = frame(6, transport);
    arp[13] = 0x06;
    expect(addon.fillIpv4Frame(arp)).toBe(false);
    const good = frame(6, transport);
    addon.fillIpv4Frame(good);
    expect(addon.verifyIpv4Frame(good.subarray(0, good.length - 1))).toBe(false);
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: i % 80 }, () => (Math.random() * 256) | 0);
      expect(typeof addon.verifyIpv4Frame(junk)).toBe('boolean');
      addon.fillIpv4Frame(junk);
    }
  });
});
