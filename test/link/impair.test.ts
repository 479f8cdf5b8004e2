import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../lib/link/clock.js';
import { impair, Random, type ImpairOptions } from '../../lib/link/impair.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import type { Link } from '../../lib/link/types.js';
import { checksum } from '../../lib/wire/checksum.js';
import { receiveAll, send, sequenceOf, udpFrame } from './frames.js';

/** A fingerprint of every arrival time and every byte received, in order. */
function digest(arrivals: Arrival[]): string {
  const hash = createHash('sha256');
  for (const arrival of arrivals) {
    hash.update(`${arrival.at}:${arrival.frame.length};`);
    hash.update(arrival.frame);
  }
  return `${arrivals.length} ${hash.digest('hex')}`;
}

interface Arrival {
  at: number;
  frame: Uint8Array;
}

/** Sends `count` frames from `from`, one every `gapUs`, and records what `to` receives. */
function run(
  clock: VirtualClock,
  from: Link,
  to: Link,
  count: number,
  gapUs: number,
  payloadBytes = 100,
): Arrival[] {
  const arrivals: Arrival[] = [];
  to.onReadable(() => {
    for (const frame of receiveAll(to)) arrivals.push({ at: clock.now(), frame });
  });
  let next = 0;
  const sender = clock.timer(() => {
    send(from, [udpFrame(next, { payloadBytes })]);
    next++;
    if (next < count) sender.start(clock.now() + gapUs);
  });
  sender.start(clock.now());
  clock.runUntilIdle();
  return arrivals;
}

function impairedPair(options: Omit<ImpairOptions, 'clock'>, memory = {}) {
  const clock = new VirtualClock();
  const [a, b] = createMemoryLinkPair({ clock, rxFrames: 4096, txFrames: 4096, ...memory });
  return { clock, a: impair(a, { clock, ...options }), b };
}

const everything = {
  loss: 0.05,
  duplicate: 0.05,
  corrupt: 0.05,
  reorder: 0.05,
  delayUs: 2000,
  jitterUs: 500,
  rateBitsPerSecond: 50e6,
};

describe('impairment wrapper', () => {
  it('passes frames through unchanged and in order when asked for nothing', () => {
    const { clock, a, b } = impairedPair({ seed: 1 });
    const arrivals = run(clock, a, b, 100, 10);
    expect(arrivals.map((arrival) => sequenceOf(arrival.frame))).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(arrivals.map((arrival) => arrival.frame)).toEqual(
      Array.from({ length: 100 }, (_, i) => udpFrame(i, { payloadBytes: 100 })),
    );
    const back = run(clock, b, a, 10, 10);
    expect(back.map((arrival) => sequenceOf(arrival.frame))).toEqual(
      Array.from({ length: 10 }, (_, i) => i),
    );
    expect(a.stats()).toMatchObject({ txFrames: 100, rxFrames: 10 });
  });

  it('repeats a run exactly for the same seed, and not for another', () => {
    const trace = (seed: number) => {
      const { clock, a, b } = impairedPair({ seed, tx: everything, rx: everything });
      const there = digest(run(clock, a, b, 2000, 20));
      const back = digest(run(clock, b, a, 2000, 20));
      return { there, back, stats: a.stats() };
    };
    const first = trace(42);
    const second = trace(42);
    const other = trace(43);
    expect(second).toEqual(first);
    expect(other.there).not.toEqual(first.there);
    expect(other.back).not.toEqual(first.back);
    // Both directions were impaired, each with its own draws.
    for (const key of ['impairedTx', 'impairedRx'] as const) {
      const counts = first.stats[key] as Record<string, number>;
      for (const what of ['lost', 'duplicated', 'corrupted', 'reordered']) {
        expect(counts[what]).toBeGreaterThan(0);
      }
    }
    expect(first.stats.impairedTx).not.toEqual(first.stats.impairedRx);
  });

  it('loses about the asked share of frames and counts each one', () => {
    const { clock, a, b } = impairedPair({ seed: 7, tx: { loss: 0.2 } });
    const arrivals = run(clock, a, b, 5000, 1);
    const lost = (a.stats().impairedTx as Record<string, number>).lost;
    expect(arrivals.length + lost).toBe(5000);
    expect(lost / 5000).toBeGreaterThan(0.17);
    expect(lost / 5000).toBeLessThan(0.23);
    expect(a.stats().drops['impair-tx-loss']).toBe(lost);
  });

  it('duplicates frames', () => {
    const { clock, a, b } = impairedPair({ seed: 8, tx: { duplicate: 0.3 } });
    const arrivals = run(clock, a, b, 1000, 1);
    const duplicated = (a.stats().impairedTx as Record<string, number>).duplicated;
    expect(duplicated).toBeGreaterThan(250);
    expect(arrivals.length).toBe(1000 + duplicated);
    const sequences = arrivals.map((arrival) => sequenceOf(arrival.frame));
    expect(new Set(sequences).size).toBe(1000);
  });

  it('flips exactly one bit in each corrupted frame', () => {
    const { clock, a, b } = impairedPair({ seed: 9, tx: { corrupt: 0.5 } });
    const arrivals = run(clock, a, b, 400, 1, 200);
    expect(arrivals.length).toBe(400);
    let damaged = 0;
    arrivals.forEach((arrival, i) => {
      const original = udpFrame(i, { payloadBytes: 200 });
      let bits = 0;
      for (let k = 0; k < original.length; k++) {
        let x = original[k] ^ arrival.frame[k];
        for (; x; x &= x - 1) bits++;
      }
      expect(bits).toBeLessThanOrEqual(1);
      damaged += bits;
    });
    expect(damaged).toBe((a.stats().impairedTx as Record<string, number>).corrupted);
    expect(damaged).toBeGreaterThan(150);
  });

  it('marks ECN-capable IPv4 frames CE, fixing the header checksum, and no others', () => {
    // RFC 3168 5: the four ECN codepoints in turn; each frame's IPv4 header checksum is right.
    const frame = (i: number): Uint8Array => {
      const bytes = udpFrame(i, { tos: 0xb8 | (i % 4) });
      bytes.set([0, 0], 24);
      const value = checksum(bytes, 14, 20);
      bytes.set([value >>> 8, value & 0xff], 24);
      return bytes;
    };
    const trace = (seed: number) => {
      const clock = new VirtualClock();
      const [a, b] = createMemoryLinkPair({ clock });
      const marking = impair(a, { clock, seed, tx: { congestionMark: 0.5 } });
      const arrivals: Uint8Array[] = [];
      b.onReadable(() => arrivals.push(...receiveAll(b)));
      for (let i = 0; i < 400; i += 40) {
        send(
          marking,
          Array.from({ length: 40 }, (_, k) => frame(i + k)),
        );
        clock.runUntilIdle();
      }
      return { arrivals, counts: marking.stats().impairedTx as Record<string, number> };
    };

    const { arrivals, counts } = trace(13);
    expect(arrivals.length).toBe(400);
    let marked = 0;
    arrivals.forEach((arrival, i) => {
      const sent = frame(i);
      expect(checksum(arrival, 14, 20)).toBe(0);
      if (arrival[15] === sent[15]) {
        expect(arrival).toEqual(sent);
        return;
      }
      // Only ECT(1) and ECT(0) are marked, to CE, the DSCP kept.
      expect([1, 2]).toContain(sent[15] & 3);
      expect(arrival[15]).toBe(sent[15] | 3);
      marked++;
    });
    expect(marked).toBe(counts.congestionMarked);
    expect(marked).toBeGreaterThan(70);
    expect(marked).toBeLessThan(130);
    expect(trace(13).arrivals).toEqual(arrivals);
  });

  it('delays every frame by the delay plus a jitter within bounds', () => {
    const { clock, a, b } = impairedPair({ seed: 10, tx: { delayUs: 3000, jitterUs: 1000 } });
    const arrivals = run(clock, a, b, 500, 100);
    expect(arrivals.length).toBe(500);
    const lateness = arrivals.map((arrival) => arrival.at - sequenceOf(arrival.frame) * 100);
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(3000);
    expect(Math.max(...lateness)).toBeLessThanOrEqual(4000);
    expect(new Set(lateness).size).toBeGreaterThan(100);
    // Jitter larger than the gap between frames lets frames overtake each other.
    const order = arrivals.map((arrival) => sequenceOf(arrival.frame));
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('reorders: held-back frames arrive after later ones, none lost', () => {
    const { clock, a, b } = impairedPair({
      seed: 11,
      tx: { reorder: 0.1, reorderDelayUs: 250 },
    });
    const arrivals = run(clock, a, b, 1000, 100);
    const order = arrivals.map((arrival) => sequenceOf(arrival.frame));
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < order.length; i++) if (order[i] < order[i - 1]) inversions++;
    const reordered = (a.stats().impairedTx as Record<string, number>).reordered;
    expect(reordered).toBeGreaterThan(60);
    expect(inversions).toBeGreaterThan(reordered * 0.8);
  });

  it('limits the rate and drops what overflows the queue', () => {
    // 1 Mbit/s, 125-byte frames: one per 1000 µs; the queue holds 10 frames.
    const { clock, a, b } = impairedPair({
      seed: 12,
      tx: { rateBitsPerSecond: 1e6, queueBytes: 1250 },
    });
    const arrivals = run(clock, a, b, 40, 100, 125 - 42);
    const stats = a.stats();
    const dropped = stats.drops['impair-tx-queue-full'];
    expect(dropped).toBeGreaterThan(0);
    expect(arrivals.length + dropped).toBe(40);
    const gaps = arrivals.slice(1).map((arrival, i) => arrival.at - arrivals[i].at);
    expect(gaps.every((gap) => gap === 1000)).toBe(true);
    expect(arrivals[0].at).toBe(1000);
    // Offered 10 Mbit/s for 4 ms through 1 Mbit/s with 10 frames of queue: about 14 pass.
    expect(arrivals.length).toBeGreaterThanOrEqual(13);
    expect(arrivals.length).toBeLessThanOrEqual(15);
  });

  it('impairs received frames on their own, with back-pressure into a small pool', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, rxFrames: 256, txFrames: 256 });
    const slow = impair(b, { clock, seed: 3, frames: 8, rx: { delayUs: 1000 } });
    send(
      a,
      Array.from({ length: 200 }, (_, i) => udpFrame(i)),
    );
    const got: number[] = [];
    slow.onReadable(() => {
      for (const frame of receiveAll(slow)) got.push(sequenceOf(frame));
    });
    clock.runUntilIdle();
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(b.stats().drops['rx-ring-full']).toBe(0);
    expect(clock.now()).toBeGreaterThanOrEqual(25 * 1000);
  });

  it('waits for the inner link to free transmit buffers instead of dropping', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, txFrames: 4, rateBitsPerSecond: 1e6 });
    const wrapped = impair(a, { clock, seed: 4, tx: { delayUs: 10 } });
    expect(
      send(
        wrapped,
        Array.from({ length: 30 }, (_, i) => udpFrame(i)),
      ),
    ).toBe(30);
    const arrivals: number[] = [];
    b.onReadable(() => {
      for (const frame of receiveAll(b)) arrivals.push(sequenceOf(frame));
    });
    clock.runUntilIdle();
    expect(arrivals).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((wrapped.stats().impairedTx as Record<string, number>).innerBusy).toBeGreaterThan(0);
  });

  it('wraps a wrapper, and closes all the way down', async () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    const twice = impair(impair(a, { clock, seed: 5, tx: { delayUs: 100 } }), {
      clock,
      seed: 6,
      tx: { delayUs: 200 },
    });
    const arrivals = run(clock, twice, b, 3, 0);
    expect(arrivals.map((arrival) => arrival.at)).toEqual([300, 300, 300]);
    await twice.close();
    expect(a.txAlloc(1)).toBe(0);
    expect(clock.runUntilIdle()).toBe(0);
  });

  it('refuses probabilities out of range', () => {
    const clock = new VirtualClock();
    const [a] = createMemoryLinkPair({ clock });
    expect(() => impair(a, { clock, seed: 1, tx: { loss: 1.5 } })).toThrow(RangeError);
    expect(() => impair(a, { clock, seed: 1, rx: { delayUs: -1 } })).toThrow(RangeError);
  });
});

describe('Random', () => {
  it('is a function of its seed, and spreads evenly', () => {
    const one = new Random(1);
    const again = new Random(1);
    const values = Array.from({ length: 1000 }, () => one.uint32());
    expect(Array.from({ length: 1000 }, () => again.uint32())).toEqual(values);
    expect(new Random(2).uint32()).not.toBe(values[0]);
    const buckets = new Array(10).fill(0);
    const random = new Random(99);
    for (let i = 0; i < 100_000; i++) buckets[random.below(10)]++;
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});

describe('impairment wrapper under arbitrary use', () => {
  it('never throws and accounts for every frame each way', () => {
    const impairment = fc.record({
      loss: fc.double({ min: 0, max: 0.5, noNaN: true }),
      duplicate: fc.double({ min: 0, max: 0.5, noNaN: true }),
      corrupt: fc.double({ min: 0, max: 1, noNaN: true }),
      reorder: fc.double({ min: 0, max: 0.5, noNaN: true }),
      delayUs: fc.nat(5000),
      jitterUs: fc.nat(5000),
      rateBitsPerSecond: fc.constantFrom(0, 1e6, 1e8),
      queueBytes: fc.integer({ min: 1, max: 20_000 }),
    });
    const step = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), up: fc.boolean(), frames: fc.nat(20) }),
      fc.record({ kind: fc.constant('receive' as const), up: fc.boolean(), max: fc.nat(20) }),
      fc.record({ kind: fc.constant('time' as const), micros: fc.nat(5000) }),
    );
    fc.assert(
      fc.property(
        fc.integer(),
        impairment,
        impairment,
        fc.array(step, { maxLength: 40 }),
        (seed, tx, rx, steps) => {
          const clock = new VirtualClock();
          const [a, b] = createMemoryLinkPair({ clock, rxFrames: 64, txFrames: 16, burstSize: 8 });
          const wrapped = impair(a, { clock, seed, tx, rx, frames: 12 });
          let sequence = 0;
          for (const s of steps) {
            if (s.kind === 'send') {
              const frames = Array.from({ length: s.frames }, () => udpFrame(sequence++));
              send(s.up ? wrapped : b, frames);
            } else if (s.kind === 'receive') {
              (s.up ? b : wrapped).rxBurst(s.max);
            } else {
              clock.advance(s.micros);
            }
          }
          // Drain both ends until nothing moves: a full pool refills only as frames are read.
          for (let round = 0; round < 100; round++) {
            clock.runUntilIdle();
            if (receiveAll(wrapped).length + receiveAll(b).length === 0) break;
          }
          expect(clock.pending).toBe(0);
          const outer = wrapped.stats();
          const inner = a.stats();
          const out = outer.impairedTx as Record<string, number>;
          const into = outer.impairedRx as Record<string, number>;
          expect(inner.txFrames).toBe(outer.txFrames - out.lost - out.queueFull + out.duplicated);
          expect(outer.rxFrames).toBe(
            inner.rxFrames - into.lost - into.queueFull + into.duplicated,
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('impairment wrapper on real time', () => {
  it('delays frames by wall-clock time', async () => {
    const clock = new RealClock();
    const [a, b] = createMemoryLinkPair({ clock });
    const slow = impair(a, { clock, seed: 1, tx: { delayUs: 4000 } });
    const sentAt = clock.now();
    const arrivedAt = await new Promise<number>((resolve) => {
      b.onReadable(() => {
        receiveAll(b);
        resolve(clock.now());
      });
      send(slow, [udpFrame(1)]);
    });
    expect(arrivedAt - sentAt).toBeGreaterThanOrEqual(4000);
    await slow.close();
    await b.close();
  });
});
