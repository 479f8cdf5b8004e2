import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../lib/link/clock.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import { DESCRIPTOR_WORDS } from '../../lib/link/types.js';
import { arpRequest, receiveAll, send, sequenceOf, udpFrame } from './frames.js';

describe('memory link pair', () => {
  it('carries frames both ways, unchanged, through the clock', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    const toB = [udpFrame(1), udpFrame(2, { payloadBytes: 1472 })];
    const toA = [udpFrame(3, { payloadBytes: 100 })];
    expect(send(a, toB)).toBe(2);
    expect(send(b, toA)).toBe(1);

    // Nothing arrives inside txSubmit.
    expect(b.rxBurst(64)).toBe(0);
    clock.runUntilIdle();
    expect(receiveAll(b)).toEqual(toB);
    expect(receiveAll(a)).toEqual(toA);
    expect(a.stats()).toMatchObject({ txFrames: 2, rxFrames: 1, rxBytes: toA[0].length });
    expect(b.stats()).toMatchObject({ txFrames: 1, rxFrames: 2 });
    expect(b.stats().txBytes).toBe(toA[0].length);
  });

  it('hands out descriptors inside the arena, with headroom, and honours burst limits', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, burstSize: 8, headroom: 64 });
    expect(a.txAlloc(100)).toBe(8);
    for (let k = 0; k < 8; k++) {
      const offset = a.txDescriptors[k * DESCRIPTOR_WORDS];
      expect(offset % a.frameSize).toBe(64);
      expect(a.txDescriptors[k * DESCRIPTOR_WORDS + 1]).toBe(a.frameSize - 64);
      expect(offset + a.frameSize - 64).toBeLessThanOrEqual(a.memory.length);
    }
    send(
      a,
      Array.from({ length: 20 }, (_, i) => udpFrame(i)),
    );
    clock.runUntilIdle();
    expect(b.rxBurst(5)).toBe(5);
    expect(b.rxBurst(100)).toBe(8);
    const frames = receiveAll(b);
    expect(frames.map(sequenceOf)).toEqual([13, 14, 15, 16, 17, 18, 19]);
  });

  it('wakes the reader once per delivery, never inside its own callback', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    const got: number[] = [];
    let depth = 0;
    b.onReadable(() => {
      depth++;
      expect(depth).toBe(1);
      for (const frame of receiveAll(b)) {
        got.push(sequenceOf(frame));
        // Echo back: a's reply must not re-enter this callback.
        send(b, [udpFrame(sequenceOf(frame) + 1000)]);
      }
      depth--;
    });
    let echoes = 0;
    a.onReadable(() => (echoes += receiveAll(a).length));
    send(a, [udpFrame(1), udpFrame(2)]);
    clock.runUntilIdle();
    expect(got).toEqual([1, 2]);
    expect(echoes).toBe(2);
    expect(b.stats().wakeups).toBe(1);
  });

  it('wakes a reader that registers while frames already wait', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    send(a, [udpFrame(1)]);
    clock.runUntilIdle();
    let woken = 0;
    b.onReadable(() => woken++);
    expect(woken).toBe(0);
    clock.runUntilIdle();
    expect(woken).toBe(1);
  });

  it('drops on a full receive ring, counted by reason, and frees transmit buffers', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, rxFrames: 4, txFrames: 16, burstSize: 16 });
    expect(
      send(
        a,
        Array.from({ length: 10 }, (_, i) => udpFrame(i)),
      ),
    ).toBe(10);
    clock.runUntilIdle();
    expect(b.stats().drops['rx-ring-full']).toBe(6);
    expect(receiveAll(b).map(sequenceOf)).toEqual([0, 1, 2, 3]);
    // Every transmit buffer came back once the frames left the wire.
    expect(a.txAlloc(16)).toBe(16);
  });

  it('counts frames held by the reader against the ring until released', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, rxFrames: 2 });
    send(a, [udpFrame(1), udpFrame(2)]);
    clock.runUntilIdle();
    expect(b.rxBurst(2)).toBe(2);
    send(a, [udpFrame(3)]);
    clock.runUntilIdle();
    expect(b.stats().drops['rx-ring-full']).toBe(1);
    b.rxRelease();
    send(a, [udpFrame(4)]);
    clock.runUntilIdle();
    expect(receiveAll(b).map(sequenceOf)).toEqual([4]);
  });

  it('refuses invalid frames with a named reason and sends the rest', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, mtu: 1500 });
    expect(a.txAlloc(4)).toBe(4);
    const d = a.txDescriptors;
    a.memory.set(udpFrame(1), d[0]);
    d[1] = 60;
    d[DESCRIPTOR_WORDS + 1] = 13;
    d[2 * DESCRIPTOR_WORDS + 1] = 1519;
    d[3 * DESCRIPTOR_WORDS] = d[3 * DESCRIPTOR_WORDS] + a.frameSize;
    d[3 * DESCRIPTOR_WORDS + 1] = 60;
    expect(a.txSubmit(4)).toBe(1);
    expect(a.stats().drops).toMatchObject({
      'tx-runt': 1,
      'tx-oversize': 1,
      'tx-outside-buffer': 1,
    });
    clock.runUntilIdle();
    expect(receiveAll(b)).toHaveLength(1);
  });

  it('takes back buffers reserved but not submitted', () => {
    const clock = new VirtualClock();
    const [a] = createMemoryLinkPair({ clock, txFrames: 8, burstSize: 8 });
    expect(a.txAlloc(8)).toBe(8);
    expect(a.txAlloc(8)).toBe(8);
    a.memory.set(udpFrame(1), a.txDescriptors[0]);
    a.txDescriptors[1] = 60;
    expect(a.txSubmit(1)).toBe(1);
    expect(a.txAlloc(8)).toBe(7);
    a.txSubmit(0);
    clock.runUntilIdle();
    expect(a.txAlloc(8)).toBe(8);
  });

  it('delivers after the latency and at the wire rate, on virtual time', () => {
    const clock = new VirtualClock();
    // 1 Mbit/s: a 125-byte frame takes 1000 µs on the wire.
    const [a, b] = createMemoryLinkPair({ clock, latencyUs: 500, rateBitsPerSecond: 1e6 });
    const arrivals: number[] = [];
    b.onReadable(() => {
      for (const _frame of receiveAll(b)) arrivals.push(clock.now());
    });
    send(
      a,
      [0, 1, 2].map((i) => udpFrame(i, { payloadBytes: 125 - 42 })),
    );
    clock.runUntilIdle();
    expect(arrivals).toEqual([1500, 2500, 3500]);

    // An idle wire starts the next frame at once.
    clock.runUntil(10_000);
    send(a, [udpFrame(9, { payloadBytes: 125 - 42 })]);
    clock.runUntilIdle();
    expect(arrivals[3]).toBe(11_500);
  });

  it('keeps transmit buffers busy while frames are on the wire: back-pressure', () => {
    const clock = new VirtualClock();
    const [a] = createMemoryLinkPair({ clock, txFrames: 4, rateBitsPerSecond: 1e6 });
    expect(
      send(
        a,
        Array.from({ length: 6 }, (_, i) => udpFrame(i)),
      ),
    ).toBe(4);
    expect(a.txAlloc(4)).toBe(0);
    clock.advance(500);
    expect(a.txAlloc(4)).toBe(1);
    a.txSubmit(0);
  });

  it('steers by destination IPv4 address and ARP target', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    b.setSteering({ mode: 'addresses', ipv4: ['198.18.0.2', '198.18.0.3'] });
    send(a, [
      udpFrame(1, { destination: [198, 18, 0, 2] }),
      udpFrame(2, { destination: [198, 18, 0, 9] }),
      udpFrame(3, { destination: [198, 18, 0, 3] }),
      arpRequest([198, 18, 0, 2]),
      arpRequest([198, 18, 0, 7]),
      udpFrame(4).subarray(0, 20),
    ]);
    clock.runUntilIdle();
    const frames = receiveAll(b);
    expect(frames.length).toBe(3);
    expect(frames.slice(0, 2).map(sequenceOf)).toEqual([1, 3]);
    expect(frames[2][12]).toBe(0x08);
    expect(frames[2][13]).toBe(0x06);
    expect(b.stats().drops['not-steered']).toBe(3);

    b.setSteering({ mode: 'all' });
    send(a, [udpFrame(5, { destination: [198, 18, 0, 9] })]);
    clock.runUntilIdle();
    expect(receiveAll(b).map(sequenceOf)).toEqual([5]);
    expect(() => b.setSteering({ mode: 'addresses', ipv4: ['198.18.0.256'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_IP_ADDRESS' }),
    );
  });

  it('steers 802.1Q-tagged frames by the inner header', () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock });
    b.setSteering({ mode: 'addresses', ipv4: ['198.18.0.2'] });
    const plain = udpFrame(1);
    const tagged = new Uint8Array(plain.length + 4);
    tagged.set(plain.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 0x05], 12);
    tagged.set(plain.subarray(12), 16);
    send(a, [tagged]);
    clock.runUntilIdle();
    expect(receiveAll(b)).toEqual([tagged]);
  });

  it('drops what is in flight when closed, and what is sent to a closed link', async () => {
    const clock = new VirtualClock();
    const [a, b] = createMemoryLinkPair({ clock, latencyUs: 100 });
    send(a, [udpFrame(1), udpFrame(2)]);
    await b.close();
    clock.runUntilIdle();
    expect(b.stats().drops['link-closed']).toBe(2);
    expect(b.rxBurst(8)).toBe(0);
    expect(b.txAlloc(8)).toBe(0);
    send(b, [udpFrame(3)]);
    await a.close();
    expect(clock.pending).toBe(0);
  });

  it('rejects shapes that cannot hold the MTU', () => {
    const clock = new VirtualClock();
    expect(() => createMemoryLinkPair({ clock, mtu: 9000, frameSize: 2048 })).toThrow(RangeError);
    const [a] = createMemoryLinkPair({ clock, mtu: 9000 });
    expect(a.frameSize - a.headroom).toBeGreaterThanOrEqual(9018);
  });
});

describe('memory link under arbitrary use', () => {
  type Step =
    | { kind: 'send'; from: 0 | 1; frames: number; lengths: number[]; shift: number[] }
    | { kind: 'receive'; at: 0 | 1; max: number; release: boolean }
    | { kind: 'time'; micros: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('send' as const),
      from: fc.constantFrom(0 as const, 1 as const),
      frames: fc.integer({ min: -2, max: 40 }),
      lengths: fc.array(fc.oneof(fc.integer({ min: 0, max: 1600 }), fc.constant(60)), {
        maxLength: 40,
      }),
      shift: fc.array(fc.integer({ min: -300, max: 3000 }), { maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant('receive' as const),
      at: fc.constantFrom(0 as const, 1 as const),
      max: fc.integer({ min: -1, max: 70 }),
      release: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('time' as const), micros: fc.nat(3000) }),
  );

  it('never throws, keeps every descriptor inside the arena and accounts for every frame', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const clock = new VirtualClock();
        const links = createMemoryLinkPair({
          clock,
          rxFrames: 16,
          txFrames: 16,
          burstSize: 8,
          latencyUs: 100,
          rateBitsPerSecond: 1e8,
        });
        for (const s of steps) {
          if (s.kind === 'send') {
            const link = links[s.from];
            const granted = link.txAlloc(s.frames);
            for (let k = 0; k < granted; k++) {
              const d = k * DESCRIPTOR_WORDS;
              expect(link.txDescriptors[d] + link.txDescriptors[d + 1]).toBeLessThanOrEqual(
                link.memory.length,
              );
              link.txDescriptors[d + 1] = s.lengths[k] ?? 60;
              link.txDescriptors[d] += s.shift[k] ?? 0;
            }
            link.txSubmit(s.frames);
          } else if (s.kind === 'receive') {
            const link = links[s.at];
            const count = link.rxBurst(s.max);
            expect(count).toBeGreaterThanOrEqual(0);
            for (let k = 0; k < count; k++) {
              const d = k * DESCRIPTOR_WORDS;
              const end = link.rxDescriptors[d] + link.rxDescriptors[d + 1];
              expect(end).toBeLessThanOrEqual(link.memory.length);
            }
            if (s.release) link.rxRelease();
          } else {
            clock.advance(s.micros);
          }
        }
        clock.runUntilIdle();
        for (const [sender, receiver] of [links, [links[1], links[0]]]) {
          const sent = sender.stats();
          const got = receiver.stats();
          expect(sent.txOnWire).toBe(0);
          expect(sent.txFrames).toBe(got.rxFrames + got.drops['rx-ring-full']);
          // Every transmit buffer is back once the wire is empty.
          expect(sender.txAlloc(100)).toBe(8);
          sender.txSubmit(0);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('memory link on real time', () => {
  it('delivers after its latency', async () => {
    const clock = new RealClock();
    const [a, b] = createMemoryLinkPair({ clock, latencyUs: 5000 });
    const sentAt = clock.now();
    const arrivedAt = await new Promise<number>((resolve) => {
      b.onReadable(() => {
        receiveAll(b);
        resolve(clock.now());
      });
      send(a, [udpFrame(1)]);
    });
    expect(arrivedAt - sentAt).toBeGreaterThanOrEqual(5000);
    await a.close();
    await b.close();
  });
});
