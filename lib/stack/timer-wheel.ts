/**
 * A hashed timing wheel (Varghese and Lauck, "Hashed and Hierarchical Timing Wheels", 1987)
 * holding at most one deadline per small integer id, such as a connection's index. Each id
 * owns a fixed place in a few typed arrays and is threaded onto its slot's list through them,
 * so scheduling, moving and cancelling a deadline allocate nothing.
 *
 * Time is in µs and cut into ticks of `tickUs`; a deadline lives in slot
 * `floor(deadline / tickUs) % slots`. A slot also holds deadlines a whole turn or more ahead;
 * `expire` skips those, which costs a little when many deadlines lie further out than
 * `tickUs * slots`.
 */
export interface TimerWheelOptions {
  /** Width of a tick, µs. Default 1000. */
  tickUs?: number;
  /** Slots in the wheel. Default 4096: with 1 ms ticks, a turn of about four seconds. */
  slots?: number;
  /** Ids the arrays hold before they grow. Default 64. */
  capacity?: number;
  /** The time the wheel starts at, µs. Default 0. */
  now?: number;
}

const NONE = -1;
/** `slotOf` for an entry found due and waiting for its callback. */
const DUE = -2;

export class TimerWheel {
  readonly tickUs: number;
  readonly slots: number;

  #next: Int32Array;
  #previous: Int32Array;
  #slotOf: Int32Array;
  #deadline: Float64Array;
  /** The tick an entry was filed under: its deadline's, or the current tick if that passed. */
  #tick: Float64Array;
  readonly #head: Int32Array;
  readonly #tail: Int32Array;
  #dueHead = NONE;
  #dueTail = NONE;
  #size = 0;
  /** Every tick before this one has been expired; entries are filed at or after it. */
  #currentTick: number;
  #expiring = false;
  /** The earliest deadline, or NaN when it must be searched for again. */
  #earliest = Infinity;

  constructor(options: TimerWheelOptions = {}) {
    this.tickUs = options.tickUs ?? 1000;
    this.slots = options.slots ?? 4096;
    const capacity = options.capacity ?? 64;
    if (!Number.isSafeInteger(this.tickUs) || this.tickUs < 1) {
      throw new RangeError('tickUs must be a positive integer');
    }
    if (!Number.isSafeInteger(this.slots) || this.slots < 1) {
      throw new RangeError('slots must be a positive integer');
    }
    this.#next = new Int32Array(capacity);
    this.#previous = new Int32Array(capacity);
    this.#slotOf = new Int32Array(capacity).fill(NONE);
    this.#deadline = new Float64Array(capacity);
    this.#tick = new Float64Array(capacity);
    this.#head = new Int32Array(this.slots).fill(NONE);
    this.#tail = new Int32Array(this.slots).fill(NONE);
    this.#currentTick = Math.floor((options.now ?? 0) / this.tickUs);
  }

  /** Deadlines held. */
  get size(): number {
    return this.#size;
  }

  /** `id`'s deadline, or -1 if it has none. */
  deadline(id: number): number {
    return id < this.#slotOf.length && this.#slotOf[id] !== NONE ? this.#deadline[id] : -1;
  }

  has(id: number): boolean {
    return id < this.#slotOf.length && this.#slotOf[id] !== NONE;
  }

  /** Sets `id`'s deadline, replacing any it had. A deadline already past fires next expire. */
  schedule(id: number, deadline: number): void {
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new RangeError(`timer id must be a non-negative integer, got ${id}`);
    }
    if (!Number.isFinite(deadline)) throw new RangeError(`deadline must be finite: ${deadline}`);
    if (id >= this.#slotOf.length) this.#grow(id + 1);
    if (this.#slotOf[id] !== NONE) {
      if (this.#deadline[id] === this.#earliest && deadline > this.#earliest) {
        this.#earliest = NaN;
      }
      this.#unlink(id);
    } else {
      this.#size++;
    }
    if (deadline < this.#earliest) this.#earliest = deadline;

    let tick = Math.floor(deadline / this.tickUs);
    if (!(tick >= this.#currentTick)) tick = this.#currentTick;
    const slot = tick % this.slots;
    this.#deadline[id] = deadline;
    this.#tick[id] = tick;
    this.#slotOf[id] = slot;
    this.#next[id] = NONE;
    this.#previous[id] = this.#tail[slot];
    if (this.#tail[slot] === NONE) this.#head[slot] = id;
    else this.#next[this.#tail[slot]] = id;
    this.#tail[slot] = id;
  }

  /** Removes `id`'s deadline; true if it had one. */
  cancel(id: number): boolean {
    if (!this.has(id)) return false;
    if (this.#deadline[id] === this.#earliest) this.#earliest = NaN;
    this.#unlink(id);
    this.#size--;
    return true;
  }

  /**
   * Calls `callback` for every deadline at or before `now`, removing it first. The callback may
   * schedule and cancel freely; a deadline it sets at or before `now` fires on the next call.
   * Deadlines in the same tick fire in the order they were set; across ticks, in tick order
   * within one turn of the wheel. Returns how many fired.
   */
  expire(now: number, callback: (id: number, deadline: number) => void): number {
    if (this.#expiring) throw new Error('TimerWheel.expire called from its own callback');
    const nowTick = Math.max(Math.floor(now / this.tickUs), this.#currentTick);
    const span = Math.min(nowTick - this.#currentTick + 1, this.slots);
    for (let i = 0; i < span; i++) {
      const slot = (this.#currentTick + i) % this.slots;
      let id = this.#head[slot];
      while (id !== NONE) {
        const following = this.#next[id];
        if (this.#deadline[id] <= now) {
          this.#unlink(id);
          this.#appendDue(id);
        }
        id = following;
      }
    }
    this.#currentTick = nowTick;
    if (this.#dueHead !== NONE) this.#earliest = NaN;

    let fired = 0;
    this.#expiring = true;
    try {
      while (this.#dueHead !== NONE) {
        const id = this.#dueHead;
        this.#unlink(id);
        this.#size--;
        fired++;
        callback(id, this.#deadline[id]);
      }
    } finally {
      this.#expiring = false;
    }
    return fired;
  }

  /**
   * The earliest deadline held, or `Infinity`. It is remembered until the deadline holding it
   * moves or fires; then the next call searches up to one turn of slots and the ids filed there.
   */
  nextDeadline(): number {
    if (this.#size === 0) return (this.#earliest = Infinity);
    if (!Number.isNaN(this.#earliest)) return this.#earliest;
    this.#earliest = this.#search();
    return this.#earliest;
  }

  #search(): number {
    for (let i = 0; i < this.slots; i++) {
      const tick = this.#currentTick + i;
      let earliest = Infinity;
      for (let id = this.#head[tick % this.slots]; id !== NONE; id = this.#next[id]) {
        if (this.#tick[id] === tick && this.#deadline[id] < earliest) {
          earliest = this.#deadline[id];
        }
      }
      if (earliest !== Infinity) return earliest;
    }
    let earliest = Infinity;
    for (let slot = 0; slot < this.slots; slot++) {
      for (let id = this.#head[slot]; id !== NONE; id = this.#next[id]) {
        if (this.#deadline[id] < earliest) earliest = this.#deadline[id];
      }
    }
    return earliest;
  }

  #appendDue(id: number): void {
    this.#slotOf[id] = DUE;
    this.#next[id] = NONE;
    this.#previous[id] = this.#dueTail;
    if (this.#dueTail === NONE) this.#dueHead = id;
    else this.#next[this.#dueTail] = id;
    this.#dueTail = id;
  }

  #unlink(id: number): void {
    const slot = this.#slotOf[id];
    const previous = this.#previous[id];
    const next = this.#next[id];
    if (previous !== NONE) this.#next[previous] = next;
    else if (slot === DUE) this.#dueHead = next;
    else this.#head[slot] = next;
    if (next !== NONE) this.#previous[next] = previous;
    else if (slot === DUE) this.#dueTail = previous;
    else this.#tail[slot] = previous;
    this.#slotOf[id] = NONE;
  }

  #grow(needed: number): void {
    const capacity = Math.max(needed, this.#slotOf.length * 2);
    const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const bigger = make(capacity);
      bigger.set(old);
      return bigger;
    };
    this.#next = grow(this.#next, (n) => new Int32Array(n));
    this.#previous = grow(this.#previous, (n) => new Int32Array(n));
    this.#slotOf = grow(this.#slotOf, (n) => new Int32Array(n).fill(NONE));
    this.#deadline = grow(this.#deadline, (n) => new Float64Array(n));
    this.#tick = grow(this.#tick, (n) => new Float64Array(n));
  }
}
