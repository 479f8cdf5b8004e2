/**
 * Time for everything that waits: links delivering frames, impairment delays, the stack's
 * timers. Time is an integer count of microseconds. Code takes a `Clock` instead of calling
 * `setTimeout` so that tests and simulations can run on a `VirtualClock`, where hours pass in
 * milliseconds and every run with the same inputs happens in the same order.
 */
export interface Clock {
  /** Microseconds, an integer, never decreasing. */
  now(): number;
  /** A reusable timer for `callback`, not yet armed. Make one per user, not one per event. */
  timer(callback: () => void): ClockTimer;
  /** Runs `callback` once at time `at` (or as soon as possible if `at` has passed). */
  at(at: number, callback: () => void): ClockTimer;
}

export interface ClockTimer {
  /** Arms (or re-arms) the timer for time `at`. */
  start(at: number): void;
  cancel(): void;
  readonly armed: boolean;
  /** The time the timer is armed for; meaningless when not armed. */
  readonly deadline: number;
}

/**
 * Virtual time that moves only when told to. Timers due at the same time run in the order
 * they were armed, so a run is a function of its inputs alone. A callback sees `now()` equal
 * to its own deadline; a timer armed for a time already past runs at the current time.
 */
export class VirtualClock implements Clock {
  #now: number;
  // Binary min-heap ordered by (deadline, sequence).
  #heap: VirtualTimer[] = [];
  #sequence = 0;

  constructor(start = 0) {
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError('bad start time');
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  timer(callback: () => void): ClockTimer {
    return new VirtualTimer(this, callback);
  }

  at(at: number, callback: () => void): ClockTimer {
    const timer = new VirtualTimer(this, callback);
    timer.start(at);
    return timer;
  }

  /** Timers armed and not yet run. */
  get pending(): number {
    return this.#heap.length;
  }

  /** Deadline of the next timer, or `undefined` when none is armed. */
  nextDeadline(): number | undefined {
    return this.#heap.length > 0 ? this.#heap[0].deadline : undefined;
  }

  /** Moves time forward by `micros`, running every timer due on the way. */
  advance(micros: number): number {
    return this.runUntil(this.#now + micros);
  }

  /** Runs every timer due at or before `time`, then sets the time to `time`. */
  runUntil(time: number): number {
    if (!Number.isSafeInteger(time)) throw new RangeError('time must be an integer of µs');
    let ran = 0;
    while (this.#heap.length > 0 && this.#heap[0].deadline <= time) {
      this.#runFirst();
      ran++;
    }
    if (time > this.#now) this.#now = time;
    return ran;
  }

  /**
   * Runs timers, jumping time to each deadline, until none is left. `maxTimers` bounds the work
   * so a timer that re-arms itself forever fails loudly instead of hanging.
   */
  runUntilIdle(maxTimers = 10_000_000): number {
    let ran = 0;
    while (this.#heap.length > 0) {
      if (ran >= maxTimers) {
        throw new Error(`VirtualClock: still busy after ${maxTimers} timers`);
      }
      this.#runFirst();
      ran++;
    }
    return ran;
  }

  #runFirst(): void {
    const timer = this.#heap[0];
    this.#remove(timer);
    if (timer.deadline > this.#now) this.#now = timer.deadline;
    timer.callback();
  }

  /** @internal */
  arm(timer: VirtualTimer, at: number): void {
    if (!Number.isFinite(at)) throw new RangeError(`timer deadline must be finite: ${at}`);
    if (timer.heapIndex >= 0) this.#remove(timer);
    timer.deadline = at > this.#now ? Math.ceil(at) : this.#now;
    timer.sequence = this.#sequence++;
    timer.heapIndex = this.#heap.length;
    this.#heap.push(timer);
    this.#siftUp(timer.heapIndex);
  }

  /** @internal */
  disarm(timer: VirtualTimer): void {
    if (timer.heapIndex >= 0) this.#remove(timer);
  }

  #remove(timer: VirtualTimer): void {
    const heap = this.#heap;
    const index = timer.heapIndex;
    const last = heap.pop() as VirtualTimer;
    timer.heapIndex = -1;
    if (last === timer) return;
    heap[index] = last;
    last.heapIndex = index;
    this.#siftUp(index);
    this.#siftDown(last.heapIndex);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const timer = heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (!before(timer, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const timer = heap[index];
    const length = heap.length;
    while (true) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], timer)) break;
      heap[index] = heap[child];
      heap[index].heapIndex = index;
      index = child;
    }
    heap[index] = timer;
    timer.heapIndex = index;
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.sequence < b.sequence);
}

class VirtualTimer implements ClockTimer {
  deadline = 0;
  sequence = 0;
  heapIndex = -1;

  constructor(
    private readonly clock: VirtualClock,
    readonly callback: () => void,
  ) {}

  start(at: number): void {
    this.clock.arm(this, at);
  }

  cancel(): void {
    this.clock.disarm(this);
  }

  get armed(): boolean {
    return this.heapIndex >= 0;
  }
}

export interface RealClockOptions {
  /** Let the process exit while timers are armed (`timeout.unref()`). Default false. */
  unref?: boolean;
}

// Limitation: real timers run up to about a millisecond late, as setTimeout allows; fixing it
// needs a finer timer (a native timerfd, or busy-polling the clock for near deadlines).
/**
 * Wall time from a monotonic source: microseconds since the Unix epoch, taken as
 * `performance.timeOrigin + performance.now()`, so it never jumps when the system clock is set
 * and pcap timestamps read as real dates. Timers sit on `setTimeout`, which has millisecond
 * resolution: a timer runs no earlier than its deadline and up to about a millisecond late.
 */
export class RealClock implements Clock {
  readonly #origin = Math.round(performance.timeOrigin * 1000);
  #last = 0;

  constructor(readonly options: RealClockOptions = {}) {}

  now(): number {
    const now = this.#origin + Math.floor(performance.now() * 1000);
    // performance.now() is monotonic; this only guards against float rounding between calls.
    if (now > this.#last) this.#last = now;
    return this.#last;
  }

  timer(callback: () => void): ClockTimer {
    return new RealTimer(this, callback);
  }

  at(at: number, callback: () => void): ClockTimer {
    const timer = new RealTimer(this, callback);
    timer.start(at);
    return timer;
  }
}

const MAX_TIMEOUT_MS = 0x7fffffff;

class RealTimer implements ClockTimer {
  deadline = 0;
  #timeout: NodeJS.Timeout | undefined;
  readonly #fire = (): void => {
    this.#timeout = undefined;
    // libuv caches loop time in milliseconds, so a timeout can end a fraction of a millisecond
    // before the µs deadline; wait out the rest rather than run early.
    if (this.clock.now() < this.deadline) {
      this.#arm();
      return;
    }
    this.callback();
  };

  constructor(
    private readonly clock: RealClock,
    private readonly callback: () => void,
  ) {}

  start(at: number): void {
    if (!Number.isFinite(at)) throw new RangeError(`timer deadline must be finite: ${at}`);
    this.deadline = at;
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#arm();
  }

  cancel(): void {
    if (this.#timeout === undefined) return;
    clearTimeout(this.#timeout);
    this.#timeout = undefined;
  }

  get armed(): boolean {
    return this.#timeout !== undefined;
  }

  #arm(): void {
    // setTimeout takes at most 2^31 - 1 ms; a later deadline is reached in several waits.
    const wait = Math.min(
      Math.max(0, Math.ceil((this.deadline - this.clock.now()) / 1000)),
      MAX_TIMEOUT_MS,
    );
    this.#timeout = setTimeout(this.#fire, wait);
    if (this.clock.options.unref) this.#timeout.unref();
  }
}
