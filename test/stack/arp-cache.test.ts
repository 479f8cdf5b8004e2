import { describe, expect, it } from 'vitest';
import { ArpCache } from '../../lib/stack/arp-cache.js';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 9);

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
    expect(arp.lookup(10, 6)).toEqual(MAC);
    expect(arp.pendingPacketCount).toBe(0);
    expect(arp.pendingByteCount).toBe(0);
  });

  it('learns unsolicited senders only when asked to create (RFC 826 merge)', () => {
    const { arp } = cache();
    arp.learn(11, MAC, 0, false);
    expect(arp.lookup(11, 0)).toBeUndefined();
    arp.learn(11, MAC, 0, true);
    expect(arp.lookup(11, 0)).toEqual(MAC);
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
    expect(arp.lookup(14, 999)).toEqual(MAC);
    expect(arp.lookup(14, 1000)).toBeUndefined();
    arp.expire(1000);
    expect(arp.size).toBe(0);
  });

  it('evicts the oldest entry past the size bound, counting its held packets', () => {
    const { arp, drops } = cache({ maxEntries: 2 });
    arp.hold(1, Uint8Array.of(1), 0);
    arp.learn(2, MAC, 0, true);
    arp.learn(3, MAC, 0, true);
    expect(arp.size).toBe(2);
    expect(arp.lookup(3, 0)).toEqual(MAC);
    expect(drops).toEqual(['arp-entry-evicted']);
    expect(arp.pendingPacketCount).toBe(0);
  });
});
