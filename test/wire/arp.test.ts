import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST, ArpPacket, parseArp, writeArp } from '../../lib/wire/arp.js';

describe('ARP', () => {
  it('round-trips requests and replies', () => {
    fc.assert(
      fc.property(
        fc.record({
          operation: fc.constantFrom(ARP_REQUEST, ARP_REPLY),
          senderMac: fc.nat(2 ** 48 - 1),
          senderIp: fc.nat(0xffffffff),
          targetMac: fc.nat(2 ** 48 - 1),
          targetIp: fc.nat(0xffffffff),
        }),
        fc.nat(32),
        fc.nat(18),
        (fields, pad, padding) => {
          const packet = Object.assign(new ArpPacket(), fields);
          const buf = new Uint8Array(pad + 28 + padding);
          expect(writeArp(buf, pad, packet)).toBe(28);
          const parsed = new ArpPacket();
          expect(parseArp(buf, pad, 28 + padding, parsed)).toBeUndefined();
          expect({ ...parsed }).toEqual(fields);
        },
      ),
    );
  });

  it('names what it does not support', () => {
    const packet = new ArpPacket();
    packet.operation = ARP_REQUEST;
    const good = new Uint8Array(28);
    writeArp(good, 0, packet);
    const parsed = new ArpPacket();
    expect(parseArp(good, 0, 27, parsed)).toBe('arp-truncated');
    expect(parseArp(good, 1, 28, parsed)).toBe('arp-truncated');
    for (const [at, value] of [
      [1, 6], // hardware type IEEE 802
      [2, 0x86], // protocol type IPv6
      [4, 8], // hardware address length
      [5, 16], // protocol address length
    ]) {
      const bad = good.slice();
      bad[at] = value;
      expect(parseArp(bad, 0, 28, parsed), `byte ${at}`).toBe('arp-unsupported');
    }
    const rarp = good.slice();
    rarp[7] = 3;
    expect(parseArp(rarp, 0, 28, parsed)).toBe('arp-bad-operation');
  });
});
