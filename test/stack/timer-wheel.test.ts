import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../lib/stack/timer-wheel.js';

function expireAll(wheel: TimerWheel, now: number): Array<[number, number]> {
  const fired: Array<[number, number]> = [];
  wheel.expire(now, (id, deadline) => fired.push([id, deadline]));
  return fired;
}

describe('TimerWheel', () => {
  it('fires due deadlines once, in tick order, and keeps the rest', () => {
    const wheel = new TimerWheel({ tickUs: 100, slots: 8 });
    wheel.schedule(1, 250);
    wheel.schedule(2, 120);
    wheel.schedule(3, 5000);
    wheel.schedule(4, 199);
    expect(wheel.size).toBe(4);
    expect(wheel.nextDeadline()).toBe(120);
    expect(expireAll(wheel, 199)).toEqual([
      [2, 120],
      [4, 199],
    ]);
    expect(expireAll(wheel, 199)).toEqual([]);
    expect(wheel.nextDeadline()).toBe(250);
    // 5000 is several turns ahead and shares a slot with nearer ticks: it must wait.
    expect(expireAll(wheel, 1000)).toEqual([[1, 250]]);
    expect(wheel.has(3)).toBe(true);
    expect(wheel.nextDeadline()).toBe(5000);
    expect(expireAll(wheel, 4999)).toEqual([]);
    expect(expireAll(wheel, 5000)).toEqual([[3, 5000]]);
    expect(wheel.size).toBe(0);
    expect(wheel.nextDeadline()).toBe(Infinity);
  });

  it('moves and cancels deadlines', () => {
    const wheel = new TimerWheel({ tickUs: 10, slots: 16 });
    wheel.schedule(5, 100);
    wheel.schedule(5, 300);
    expect(wheel.size).toBe(1);
    expect(wheel.deadline(5)).toBe(300);
    expect(expireAll(wheel, 200)).toEqual([]);
    expect(wheel.cancel(5)).toBe(true);
    expect(wheel.cancel(5)).toBe(false);
    expect(wheel.deadline(5)).toBe(-1);
    expect(expireAll(wheel, 1000)).toEqual([]);
  });

  it('fires a deadline set in the past at the next expire', () => {
    const wheel = new TimerWheel({ tickUs: 10, slots: 4, now: 1000 });
    wheel.schedule(0, 5);
    expect(wheel.nextDeadline()).toBe(5);
    expect(expireAll(wheel, 1000)).toEqual([[0, 5]]);
  });

  it('lets the callback reschedule and cancel; new due deadlines wait for the next call', () => {
    const wheel = new TimerWheel({ tickUs: 10, slots: 4 });
    for (let id = 0; id < 4; id++) wheel.schedule(id, 10 * id);
    const fired: number[] = [];
    wheel.expire(40, (id) => {
      fired.push(id);
      if (id === 0) wheel.cancel(2);
      if (id === 1) wheel.schedule(1, 35);
      if (id === 3) wheel.schedule(7, 0);
    });
    expect(fired).toEqual([0, 1, 3]);
    expect(expireAll(wheel, 40)).toEqual([
      [1, 35],
      [7, 0],
    ]);
    wheel.schedule(1, 60);
    expect(() => wheel.expire(60, () => wheel.expire(60, () => {}))).toThrow(/own callback/);
  });

  it('grows to large ids and refuses bad ones', () => {
    const wheel = new TimerWheel({ capacity: 2 });
    wheel.schedule(10_000, 5000);
    wheel.schedule(1, 4000);
    expect(expireAll(wheel, 6000)).toEqual([
      [1, 4000],
      [10_000, 5000],
    ]);
    expect(() => wheel.schedule(-1, 0)).toThrow(RangeError);
    expect(() => wheel.schedule(1.5, 0)).toThrow(RangeError);
    expect(() => wheel.schedule(1, Number.NaN)).toThrow(RangeError);
  });

  it('after a long gap, expires everything due across every turn', () => {
    const wheel = new TimerWheel({ tickUs: 1, slots: 8 });
    for (let id = 0; id < 100; id++) wheel.schedule(id, id * 7);
    const fired = expireAll(wheel, 350);
    expect(fired.map(([id]) => id).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 51 }, (_, i) => i),
    );
    expect(wheel.size).toBe(49);
    expect(wheel.nextDeadline()).toBe(357);
  });

  it('tracks the earliest while deadlines are pushed back turn after turn without expiring', () => {
    const wheel = new TimerWheel({ tickUs: 10, slots: 8 });
    for (let id = 0; id < 5; id++) wheel.schedule(id, 1000 + id * 37);
    for (let step = 0; step < 200; step++) {
      const id = step % 5;
      wheel.schedule(id, 1000 + step * 23 + (id % 2) * 500);
      const model = Array.from({ length: 5 }, (_, other) => wheel.deadline(other));
      expect(wheel.nextDeadline()).toBe(Math.min(...model));
    }
    wheel.cancel(wheel.nextDeadline() === wheel.deadline(4) ? 4 : 0);
    const left = [0, 1, 2, 3, 4].filter((id) => wheel.has(id)).map((id) => wheel.deadline(id));
    expect(wheel.nextDeadline()).toBe(Math.min(...left));
  });

  type Operation =
    | { kind: 'schedule'; id: number; delay: number }
    | { kind: 'cancel'; id: number }
    | { kind: 'expire'; advance: number; rescheduleEvery: number };

  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({
      kind: fc.constant('schedule' as const),
      id: fc.nat(40),
      delay: fc.integer({ min: -500, max: 5000 }),
    }),
    fc.record({ kind: fc.constant('cancel' as const), id: fc.nat(40) }),
    fc.record({
      kind: fc.constant('expire' as const),
      advance: fc.oneof(fc.nat(300), fc.nat(20_000)),
      rescheduleEvery: fc.integer({ min: 0, max: 4 }),
    }),
  );

  it('agrees with a plain map of deadlines under any sequence of operations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(operation, fc.boolean()), { maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 32 }),
        (operations, tickUs, slots) => {
          const wheel = new TimerWheel({ tickUs, slots, capacity: 4 });
          const model = new Map<number, number>();
          let now = 0;
          for (const [op, peek] of operations) {
            if (op.kind === 'schedule') {
              wheel.schedule(op.id, now + op.delay);
              model.set(op.id, now + op.delay);
            } else if (op.kind === 'cancel') {
              expect(wheel.cancel(op.id)).toBe(model.delete(op.id));
            } else {
              now += op.advance;
              const due = [...model].filter(([, deadline]) => deadline <= now);
              for (const [id] of due) model.delete(id);
              const fired: Array<[number, number]> = [];
              wheel.expire(now, (id, deadline) => {
                fired.push([id, deadline]);
                // Some callbacks set a new deadline, sometimes one already due.
                if (op.rescheduleEvery > 0 && id % op.rescheduleEvery === 0) {
                  const again = now + (id % 3) * 100 - 50;
                  wheel.schedule(id, again);
                  model.set(id, again);
                }
              });
              const byId = (a: [number, number], b: [number, number]) => a[0] - b[0];
              expect(fired.sort(byId)).toEqual(due.sort(byId));
            }
            expect(wheel.size).toBe(model.size);
            // Looking only now and then lets the remembered earliest deadline go stale.
            if (peek) expect(wheel.nextDeadline()).toBe(Math.min(...model.values()));
          }
          for (let id = 0; id <= 40; id++) expect(wheel.deadline(id)).toBe(model.get(id) ?? -1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
