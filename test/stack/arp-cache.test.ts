import { describe, expect, it } from 'vitest';
import { ArpCache } from '../../lib/stack/arp-cache.js';
import { EthernetHeader } from '../../lib/wire/ethernet.js';

const MAC = 0x020000000009;

/** The MAC `lookup` puts in a frame's destination, or undefined when it finds none. */
function lookup(arp: ArpCache, address: number, now: number): number | undefined {
  const frame = new EthernetHeader();
  return arp.lookup(address, now, frame) ? frame.dst : undefined;
}

function cache(options = {}) {
  const drops: string[] = [];
  return { arp: new ArpCache(options, (reason) => drops.push(reason)), drops };
}

describe('ArpCache', () => {
  it('holds packets until the answer, then hands them back in order', () => {
    const { arp } = cache();
    expect(arp.hold(10, Uint8Array.of(1), 0)).toBe(true);
    expect(arp.hold(10, Uint8Array.of(2), 0)).toBe(false);
    expect(arp.pendingPacketCount).toBe(2);
    const ready = arp.learn(10, MAC, 5, false);
    expect(ready.map((p) => p[0])).toEqual([1, 2]);
    expect(lookup(arp, 10, 6)).toBe(MAC);
    expect(arp.pendingPacketCount).toBe(0);
    expect(arp.pendingByteCount).toBe(0);
  });

  it('learns unsolicited senders only when asked to create (RFC 826 merge)', () => {
    const { arp } = cache();
    arp.learn(11, MAC, 0, false);
    expect(lookup(arp, 11, 0)).toBeUndefined();
    arp.learn(11, MAC, 0, true);
    expect(lookup(arp, 11, 0)).toBe(MAC);
  });

  it('bounds the queue per next hop and counts what it drops', () => {
    const { arp, drops } = cache({ pendingPackets: 2 });
    for (let i = 0; i < 5; i++) arp.hold(12, Uint8Array.of(i), 0);
    expect(arp.pendingPacketCount).toBe(2);
    expect(drops).toEqual(Array(3).fill('arp-pending-queue-full'));
    expect(arp.learn(12, MAC, 1, false).map((p) => p[0])).toEqual([3, 4]);
  });

  it('re-requests at the interval, then gives up and drops the held packets', () => {
    const { arp, drops } = cache({ requestInterval: 100, requestAttempts: 3 });
    arp.hold(13, Uint8Array.of(1), 0);
    expect(arp.nextDeadline()).toBe(100);
    expect(arp.expire(50)).toEqual({ requests: [], failures: [] });
    expect(arp.expire(100).requests).toEqual([13]);
    expect(arp.expire(200).requests).toEqual([13]);
    expect(arp.expire(300)).toEqual({ requests: [], failures: [13] });
    expect(drops).toEqual(['arp-unresolved']);
    expect(arp.size).toBe(0);
    expect(arp.pendingPacketCount).toBe(0);
  });

  it('forgets entries after their lifetime', () => {
    const { arp } = cache({ entryLifetime: 1000 });
    arp.learn(14, MAC, 0, true);
    expect(lookup(arp, 14, 999)).toBe(MAC);
    expect(lookup(arp, 14, 1000)).toBeUndefined();
    arp.expire(1000);
    expect(arp.size).toBe(0);
  });

  it('evicts the oldest entry past the size bound, counting its held packets', () => {
    const { arp, drops } = cache({ maxEntries: 2 });
    arp.hold(1, Uint8Array.of(1), 0);
    arp.learn(2, MAC, 0, true);
    arp.learn(3, MAC, 0, true);
    expect(arp.size).toBe(2);
    expect(lookup(arp, 3, 0)).toBe(MAC);
    expect(drops).toEqual(['arp-entry-evicted']);
    expect(arp.pendingPacketCount).toBe(0);
  });
});
