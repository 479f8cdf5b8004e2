import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembler } from '../../lib/stack/reassembly.js';

function reassembler(options = {}) {
  const drops: string[] = [];
  return { r: new Reassembler(options, (reason) => drops.push(reason)), drops };
}

function payload(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 255);
}

describe('Reassembler', () => {
  it('reassembles fragments arriving in any order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (count, blocks, seed) => {
          const { r, drops } = reassembler();
          const size = blocks * 8;
          const data = payload(size * count - 3);
          const order = Array.from({ length: count }, (_, i) => i);
          let s = seed;
          for (let i = order.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [order[i], order[j]] = [order[j], order[i]];
          }
          let whole: Uint8Array | undefined;
          for (const [n, i] of order.entries()) {
            const part = data.subarray(i * size, Math.min(data.length, (i + 1) * size));
            whole = r.add(1, 2, 6, 77, i * size, i < count - 1, part, 0);
            if (n < count - 1) expect(whole).toBeUndefined();
          }
          expect(whole).toEqual(data);
          expect(r.heldBytes).toBe(0);
          expect(r.datagramCount).toBe(0);
          expect(drops).toEqual([]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('drops the whole datagram on overlap', () => {
    const { r, drops } = reassembler();
    expect(r.add(1, 2, 6, 1, 0, true, payload(16), 0)).toBeUndefined();
    expect(r.add(1, 2, 6, 1, 8, false, payload(16), 0)).toBeUndefined();
    expect(drops).toEqual(['ip-fragment-overlap']);
    expect(r.heldBytes).toBe(0);
  });

  it('keeps to its memory bound', () => {
    const { r, drops } = reassembler({ memoryLimit: 64 });
    expect(r.add(1, 2, 6, 1, 0, true, payload(48), 0)).toBeUndefined();
    expect(r.add(1, 2, 6, 2, 0, true, payload(48), 0)).toBeUndefined();
    expect(drops).toEqual(['ip-reassembly-memory']);
    expect(r.heldBytes).toBe(48);
  });

  it('times out incomplete datagrams', () => {
    const { r, drops } = reassembler({ timeout: 1000 });
    r.add(1, 2, 6, 1, 0, true, payload(8), 0);
    expect(r.nextDeadline()).toBe(1000);
    r.expire(999);
    expect(r.datagramCount).toBe(1);
    r.expire(1000);
    expect(r.datagramCount).toBe(0);
    expect(r.heldBytes).toBe(0);
    expect(drops).toEqual(['ip-reassembly-timeout']);
  });

  it('rejects a middle fragment whose length is not a multiple of 8', () => {
    const { r, drops } = reassembler();
    expect(r.add(1, 2, 6, 1, 0, true, payload(10), 0)).toBeUndefined();
    expect(drops).toEqual(['ip-fragment-malformed']);
  });
});
