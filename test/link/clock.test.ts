import { describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../lib/link/clock.js';

describe('VirtualClock', () => {
  it('runs timers in deadline order, equal deadlines in the order they were armed', () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    clock.at(30, () => seen.push(`c@${clock.now()}`));
    clock.at(10, () => seen.push(`a@${clock.now()}`));
    clock.at(30, () => seen.push(`d@${clock.now()}`));
    clock.at(20, () => seen.push(`b@${clock.now()}`));
    expect(clock.advance(25)).toBe(2);
    expect(clock.now()).toBe(25);
    expect(clock.runUntilIdle()).toBe(2);
    expect(seen).toEqual(['a@10', 'b@20', 'c@30', 'd@30']);
    expect(clock.now()).toBe(30);
  });

  it('cancels and re-arms a timer without running it twice', () => {
    const clock = new VirtualClock(1000);
    let runs = 0;
    const timer = clock.timer(() => runs++);
    timer.start(1500);
    timer.start(1200);
    expect(clock.pending).toBe(1);
    expect(clock.nextDeadline()).toBe(1200);
    timer.cancel();
    expect(timer.armed).toBe(false);
    clock.runUntil(2000);
    expect(runs).toBe(0);
    timer.start(2500);
    clock.runUntilIdle();
    expect(runs).toBe(1);
    expect(clock.now()).toBe(2500);
  });

  it('runs a timer armed for the past at the current time, after ones already due', () => {
    const clock = new VirtualClock(100);
    const seen: number[] = [];
    clock.at(100, () => {
      seen.push(1);
      clock.at(5, () => seen.push(3));
    });
    clock.at(100, () => seen.push(2));
    clock.runUntilIdle();
    expect(seen).toEqual([1, 2, 3]);
    expect(clock.now()).toBe(100);
  });

  it('stops a timer that re-arms itself forever', () => {
    const clock = new VirtualClock();
    const timer = clock.timer(() => timer.start(clock.now() + 1));
    timer.start(0);
    expect(() => clock.runUntilIdle(1000)).toThrow(/still busy/);
  });

  it('keeps a heap order under many random operations', () => {
    const clock = new VirtualClock();
    const order: number[] = [];
    let seed = 7;
    const timers = Array.from({ length: 200 }, (_, i) => clock.timer(() => order.push(i)));
    for (let round = 0; round < 2000; round++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const timer = timers[seed % timers.length];
      if (seed & 0x100) timer.start(seed % 10_000);
      else timer.cancel();
    }
    const expected = timers
      .map((timer, i) => ({ i, armed: timer.armed, deadline: timer.deadline }))
      .filter((entry) => entry.armed)
      .sort((a, b) => a.deadline - b.deadline);
    const deadlines: number[] = [];
    clock.runUntilIdle();
    for (const i of order) deadlines.push(timers[i].deadline);
    expect(order.length).toBe(expected.length);
    expect(deadlines).toEqual([...deadlines].sort((a, b) => a - b));
  });
});

describe('RealClock', () => {
  it('gives integer microseconds of wall time and runs a timer no earlier than asked', async () => {
    const clock = new RealClock();
    const start = clock.now();
    expect(Number.isSafeInteger(start)).toBe(true);
    expect(Math.abs(start - Date.now() * 1000)).toBeLessThan(5_000_000);
    const ranAt = await new Promise<number>((resolve) => {
      clock.at(start + 3000, () => resolve(clock.now()));
    });
    expect(ranAt).toBeGreaterThanOrEqual(start + 3000);
  });

  it('does not run a cancelled timer', async () => {
    const clock = new RealClock();
    let ran = false;
    const timer = clock.at(clock.now() + 1000, () => (ran = true));
    timer.cancel();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ran).toBe(false);
    expect(timer.armed).toBe(false);
  });
});

describe('RealClock timers due now', () => {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('runs them on the next turn of the event loop, not a millisecond later', async () => {
    const clock = new RealClock();
    let ranAt = -1;
    const armedAt = clock.now();
    clock.at(armedAt, () => (ranAt = clock.now()));
    clock.at(armedAt - 5000, () => {});
    await nextTurn();
    expect(ranAt).toBeGreaterThanOrEqual(armedAt);
  });

  it('runs due timers in deadline order, equal deadlines as armed, later ones not early', async () => {
    const clock = new RealClock();
    const now = clock.now();
    const seen: string[] = [];
    const future = now + 3000;
    let futureRanAt = -1;
    clock.at(future, () => {
      futureRanAt = clock.now();
      seen.push('future');
    });
    clock.at(now - 5, () => seen.push('b'));
    clock.at(now - 10, () => seen.push('a1'));
    clock.at(now - 10, () => seen.push('a2'));
    const moved = clock.at(now, () => seen.push('moved'));
    const cancelled = clock.at(now - 20, () => seen.push('cancelled'));
    cancelled.cancel();
    moved.start(now + 2000);
    await nextTurn();
    expect(seen).toEqual(['a1', 'a2', 'b']);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['a1', 'a2', 'b', 'moved', 'future']);
    expect(futureRanAt).toBeGreaterThanOrEqual(future);
  });

  it('lets I/O and other timers run while a timer keeps re-arming itself for now', async () => {
    const clock = new RealClock();
    let runs = 0;
    const timer = clock.timer(() => {
      runs++;
      timer.start(clock.now());
    });
    timer.start(clock.now());
    await nextTurn();
    expect(runs).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).toBeGreaterThan(1);
    timer.cancel();
    expect(timer.armed).toBe(false);
  });
});

describe('clock arguments', () => {
  it('refuses deadlines that are not finite', () => {
    const clock = new VirtualClock();
    expect(() => clock.at(Infinity, () => {})).toThrow(RangeError);
    expect(() => clock.at(Number.NaN, () => {})).toThrow(RangeError);
    expect(() => new RealClock().at(Infinity, () => {})).toThrow(RangeError);
  });

  it('waits out a real deadline beyond what setTimeout takes in one go', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const clock = new RealClock({ unref: true });
    let ran = false;
    const timer = clock.at(clock.now() + 30 * 24 * 3600 * 1e6, () => (ran = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('warning', onWarning);
    expect(timer.armed).toBe(true);
    timer.cancel();
    expect(ran).toBe(false);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
