/**
 * A hashed timing wheel (Varghese and Lauck, "Hashed and Hierarchical Timing Wheels", 1987)
 * holding at most one deadline per small integer id, such as a connection's index. Each id
 * owns a fixed place in a few typed arrays and is threaded onto its slot's list through them,
 * so scheduling, moving and cancelling a deadline allocate nothing.
 *
 * Time is in µs and cut into ticks of `tickUs`; a deadline lives in slot
 * `floor(deadline / tickUs) % slots`. A slot also holds deadlines a whole turn or more ahead;
 * `expire` skips those, which costs a little when many deadlines lie further out than
 * `tickUs * slots`. A bitmap of non-empty slots lets `expire` and the search for the earliest
 * deadline step over empty slots 32 at a time.
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
  /** Bit `slot % 32` of word `slot >> 5` is set while the slot's list is not empty. */
  readonly #occupied: Uint32Array;
  #dueHead = NONE;
  #dueTail = NONE;
  #size = 0;
  /** Every tick before this one has been expired; entries are filed at or after it. */
  #currentTick: number;
  #expiring = false;
  /** The earliest deadline, or NaN when it must be searched for again. */
  #earliest = Infinity;
  /**
   * No entry is filed under an earlier tick. Raised to the earliest entry's tick when that entry
   * moves or goes, so the search that follows starts there rather than at `#currentTick`, which
   * stays put for as long as deadlines keep being pushed back and `expire` is never called.
   */
  #lowTick: number;

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
    this.#occupied = new Uint32Array(Math.ceil(this.slots / 32));
    this.#currentTick = Math.floor((options.now ?? 0) / this.tickUs);
    this.#lowTick = this.#currentTick;
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
        this.#forgetEarliest(id);
      }
      this.#unlink(id);
    } else {
      this.#size++;
    }
    if (deadline < this.#earliest) this.#earliest = deadline;

    let tick = Math.floor(deadline / this.tickUs);
    if (!(tick >= this.#currentTick)) tick = this.#currentTick;
    if (tick < this.#lowTick) this.#lowTick = tick;
    const slot = tick % this.slots;
    this.#deadline[id] = deadline;
    this.#tick[id] = tick;
    this.#slotOf[id] = slot;
    this.#next[id] = NONE;
    this.#previous[id] = this.#tail[slot];
    if (this.#tail[slot] === NONE) {
      this.#head[slot] = id;
      this.#occupied[slot >>> 5] |= 1 << (slot & 31);
    } else {
      this.#next[this.#tail[slot]] = id;
    }
    this.#tail[slot] = id;
  }

  /** Removes `id`'s deadline; true if it had one. */
  cancel(id: number): boolean {
    if (!this.has(id)) return false;
    if (this.#deadline[id] === this.#earliest) this.#forgetEarliest(id);
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
    const first = this.#currentTick % this.slots;
    for (let part = 0; part < 2; part++) {
      const from = part === 0 ? first : 0;
      const end = part === 0 ? Math.min(first + span, this.slots) : first + span - this.slots;
      for (let slot = this.#nextOccupied(from, end); slot !== NONE;) {
        let id = this.#head[slot];
        while (id !== NONE) {
          const following = this.#next[id];
          if (this.#deadline[id] <= now) {
            this.#unlink(id);
            this.#appendDue(id);
          }
          id = following;
        }
        slot = this.#nextOccupied(slot + 1, end);
      }
    }
    this.#currentTick = nowTick;
    if (this.#lowTick < nowTick) this.#lowTick = nowTick;
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
   * moves or fires; then the next call searches the non-empty slots from that deadline's tick
   * on, up to one turn, and the ids filed there.
   */
  nextDeadline(): number {
    if (this.#size === 0) return (this.#earliest = Infinity);
    if (!Number.isNaN(this.#earliest)) return this.#earliest;
    this.#earliest = this.#search();
    return this.#earliest;
  }

  /** `id` holds the earliest deadline and moves or goes: the rest lie at or after its tick. */
  #forgetEarliest(id: number): void {
    if (this.#tick[id] > this.#lowTick) this.#lowTick = this.#tick[id];
    this.#earliest = NaN;
  }

  /**
   * Walks the non-empty slots in tick order from `#lowTick` for one turn. Within a turn a tick
   * has a slot to itself, so the first slot holding an entry of its own tick holds the earliest
   * deadline. Entries there of later turns are noted on the way: if no slot holds one of its
   * own tick, every entry has been seen and the earliest of them is the answer.
   */
  #search(): number {
    // Limitation: when every deadline lies more than a turn ahead, a search walks every entry;
    // fixing it needs a coarser second wheel (Varghese and Lauck's hierarchical scheme).
    const start = Math.max(this.#lowTick, this.#currentTick);
    const first = start % this.slots;
    let later = Infinity;
    for (let part = 0; part < 2; part++) {
      const end = part === 0 ? this.slots : first;
      const firstTick = part === 0 ? start - first : start - first + this.slots;
      for (let slot = this.#nextOccupied(part === 0 ? first : 0, end); slot !== NONE;) {
        const tick = firstTick + slot;
        let earliest = Infinity;
        for (let id = this.#head[slot]; id !== NONE; id = this.#next[id]) {
          const deadline = this.#deadline[id];
          if (this.#tick[id] !== tick) {
            if (deadline < later) later = deadline;
          } else if (deadline < earliest) {
            earliest = deadline;
          }
        }
        if (earliest !== Infinity) {
          this.#lowTick = tick;
          return earliest;
        }
        slot = this.#nextOccupied(slot + 1, end);
      }
    }
    return later;
  }

  /** The first non-empty slot in `[from, end)`, or NONE. */
  #nextOccupied(from: number, end: number): number {
    if (from >= end) return NONE;
    let word = from >>> 5;
    let bits = this.#occupied[word] & (-1 << (from & 31));
    const lastWord = (end - 1) >>> 5;
    for (;;) {
      if (bits !== 0) {
        const slot = (word << 5) + 31 - Math.clz32(bits & -bits);
        return slot < end ? slot : NONE;
      }
      if (++word > lastWord) return NONE;
      bits = this.#occupied[word];
    }
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
    else {
      this.#tail[slot] = previous;
      if (previous === NONE) this.#occupied[slot >>> 5] &= ~(1 << (slot & 31));
    }
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
