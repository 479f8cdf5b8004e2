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

/** A timer in a `TimerHeap`. */
interface HeapTimer {
  deadline: number;
  /** Order of arming: breaks ties between equal deadlines. */
  sequence: number;
  /** Place in the heap, -1 when not armed. */
  heapIndex: number;
  readonly callback: () => void;
}

/** Binary min-heap of timers ordered by (deadline, sequence); each knows its place in it. */
class TimerHeap<T extends HeapTimer> {
  readonly items: T[] = [];

  get first(): T | undefined {
    return this.items[0];
  }

  push(timer: T): void {
    timer.heapIndex = this.items.length;
    this.items.push(timer);
    this.#siftUp(timer.heapIndex);
  }

  remove(timer: T): void {
    const heap = this.items;
    const index = timer.heapIndex;
    const last = heap.pop() as T;
    timer.heapIndex = -1;
    if (last === timer) return;
    heap[index] = last;
    last.heapIndex = index;
    this.#siftUp(index);
    this.#siftDown(last.heapIndex);
  }

  #siftUp(index: number): void {
    const heap = this.items;
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
    const heap = this.items;
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

function before(a: HeapTimer, b: HeapTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.sequence < b.sequence);
}

/**
 * Virtual time that moves only when told to. Timers due at the same time run in the order
 * they were armed, so a run is a function of its inputs alone. A callback sees `now()` equal
 * to its own deadline; a timer armed for a time already past runs at the current time.
 */
export class VirtualClock implements Clock {
  #now: number;
  readonly #heap = new TimerHeap<VirtualTimer>();
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
    return this.#heap.items.length;
  }

  /** Deadline of the next timer, or `undefined` when none is armed. */
  nextDeadline(): number | undefined {
    return this.#heap.first?.deadline;
  }

  /** Moves time forward by `micros`, running every timer due on the way. */
  advance(micros: number): number {
    return this.runUntil(this.#now + micros);
  }

  /** Runs every timer due at or before `time`, then sets the time to `time`. */
  runUntil(time: number): number {
    if (!Number.isSafeInteger(time)) throw new RangeError('time must be an integer of µs');
    let ran = 0;
    for (let first = this.#heap.first; first !== undefined && first.deadline <= time;) {
      this.#run(first);
      ran++;
      first = this.#heap.first;
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
    for (let first = this.#heap.first; first !== undefined; first = this.#heap.first) {
      if (ran >= maxTimers) {
        throw new Error(`VirtualClock: still busy after ${maxTimers} timers`);
      }
      this.#run(first);
      ran++;
    }
    return ran;
  }

  #run(timer: VirtualTimer): void {
    this.#heap.remove(timer);
    if (timer.deadline > this.#now) this.#now = timer.deadline;
    timer.callback();
  }

  /** @internal */
  arm(timer: VirtualTimer, at: number): void {
    if (!Number.isFinite(at)) throw new RangeError(`timer deadline must be finite: ${at}`);
    if (timer.heapIndex >= 0) this.#heap.remove(timer);
    timer.deadline = at > this.#now ? Math.ceil(at) : this.#now;
    timer.sequence = this.#sequence++;
    this.#heap.push(timer);
  }

  /** @internal */
  disarm(timer: VirtualTimer): void {
    if (timer.heapIndex >= 0) this.#heap.remove(timer);
  }
}

class VirtualTimer implements ClockTimer, HeapTimer {
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

// Limitation: real timers due in the future run up to about a millisecond late, as setTimeout
// allows; fixing it needs a finer timer (a native timerfd, or busy-polling for near deadlines).
/**
 * Wall time from a monotonic source: microseconds since the Unix epoch, taken as
 * `performance.timeOrigin + performance.now()`, so it never jumps when the system clock is set
 * and pcap timestamps read as real dates.
 *
 * The clock keeps its armed timers in one heap and holds one Node handle for the earliest: a
 * `setImmediate` when it is due already (a `setTimeout` would add a millisecond), else a
 * `setTimeout`, which has millisecond resolution. A timer runs no earlier than its deadline;
 * due timers run in deadline order, equal deadlines in the order they were armed. Timers armed
 * by a callback for a time already past run on the next turn of the event loop, after I/O, so
 * a timer re-arming itself for now cannot starve the process.
 */
export class RealClock implements Clock {
  readonly #origin = Math.round(performance.timeOrigin * 1000);
  #last = 0;
  readonly #heap = new TimerHeap<RealTimer>();
  #sequence = 0;
  #immediate: NodeJS.Immediate | undefined;
  #timeout: NodeJS.Timeout | undefined;
  /** The deadline `#timeout` waits for. */
  #timeoutFor = 0;
  readonly #run = (): void => this.#runDue();

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

  /** @internal */
  arm(timer: RealTimer, at: number): void {
    if (!Number.isFinite(at)) throw new RangeError(`timer deadline must be finite: ${at}`);
    const wasFirst = this.#heap.first === timer;
    if (timer.heapIndex >= 0) this.#heap.remove(timer);
    timer.deadline = at;
    timer.sequence = this.#sequence++;
    this.#heap.push(timer);
    if (wasFirst || this.#heap.first === timer) this.#wait();
  }

  /** @internal */
  disarm(timer: RealTimer): void {
    if (timer.heapIndex < 0) return;
    const wasFirst = this.#heap.first === timer;
    this.#heap.remove(timer);
    if (wasFirst) this.#wait();
  }

  #runDue(): void {
    this.#immediate = undefined;
    this.#timeout = undefined;
    const now = this.now();
    // Only timers armed before this run: one armed by a callback waits for the next.
    const last = this.#sequence;
    try {
      for (let first = this.#heap.first; first !== undefined; first = this.#heap.first) {
        if (first.deadline > now || first.sequence >= last) break;
        this.#heap.remove(first);
        first.callback();
      }
    } finally {
      this.#wait();
    }
  }

  /** Points the one Node handle at the earliest timer, or lets it go when none is armed. */
  #wait(): void {
    const first = this.#heap.first;
    const wait = first === undefined ? -1 : Math.ceil((first.deadline - this.now()) / 1000);
    if (first === undefined || wait > 0) {
      if (this.#immediate !== undefined) clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    if (first === undefined || wait <= 0 || this.#timeoutFor !== first.deadline) {
      if (this.#timeout !== undefined) clearTimeout(this.#timeout);
      this.#timeout = undefined;
    }
    if (first === undefined) return;

    if (wait <= 0) {
      if (this.#immediate !== undefined) return;
      this.#immediate = setImmediate(this.#run);
      if (this.options.unref) this.#immediate.unref();
    } else if (this.#timeout === undefined) {
      // setTimeout takes at most 2^31 - 1 ms; a later deadline is reached in several waits.
      // libuv keeps loop time in milliseconds, so a timeout may end a fraction of a millisecond
      // before the µs deadline: `#runDue` then finds nothing due and waits out the rest.
      this.#timeout = setTimeout(this.#run, Math.min(wait, MAX_TIMEOUT_MS));
      this.#timeoutFor = first.deadline;
      if (this.options.unref) this.#timeout.unref();
    }
  }
}

const MAX_TIMEOUT_MS = 0x7fffffff;

class RealTimer implements ClockTimer, HeapTimer {
  deadline = 0;
  sequence = 0;
  heapIndex = -1;

  constructor(
    private readonly clock: RealClock,
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
