import { debuglog } from 'node:util';
import { read16, write16 } from '../wire/bytes.js';
import { foldSum } from '../wire/checksum.js';
import {
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  VLAN_TAG_LENGTH,
} from '../wire/ethernet.js';
import { IPV4_MIN_HEADER_LENGTH } from '../wire/ipv4.js';
import type { Clock, ClockTimer } from './clock.js';
import { DESCRIPTOR_WORDS, type Link, type LinkStats, type Steering } from './types.js';

const debug = debuglog('utcp');

const MAX_LINK_HEADER = 18;
const MIN_FRAME = 14;

/** What happens to frames going one way. Probabilities are per frame, from 0 to 1. */
export interface Impairment {
  loss?: number;
  /** A second copy follows the frame, impaired on its own (delay, rate). */
  duplicate?: number;
  /** One random bit of the frame is flipped. */
  corrupt?: number;
  /**
   * An IPv4 frame whose ECN field is ECT(0) or ECT(1) leaves marked CE, as a congested AQM
   * router marks instead of dropping (RFC 3168 5); its header checksum is fixed. Other frames
   * are never marked and draw nothing.
   */
  congestionMark?: number;
  /** Held back `reorderDelayUs` more than its fellows, so later frames overtake it. */
  reorder?: number;
  /** Default: twice `delayUs`, and at least 1000 µs. */
  reorderDelayUs?: number;
  /** Fixed one-way delay, µs. */
  delayUs?: number;
  /** Extra delay drawn evenly from 0 to `jitterUs`; frames may then overtake each other. */
  jitterUs?: number;
  /** Bits per second through a bottleneck; 0 for none. Counted on the frame's own bytes. */
  rateBitsPerSecond?: number;
  /** Bytes the bottleneck queues; a frame that does not fit is dropped. Default 64 KiB. */
  queueBytes?: number;
}

export interface ImpairOptions {
  clock: Clock;
  /** Same seed, same inputs, same clock: the same frames, corrupted alike, in the same order. */
  seed: number;
  /** Frames the wrapper's user sends. */
  tx?: Impairment;
  /** Frames the wrapper's user receives. */
  rx?: Impairment;
  /** Buffers each way: frames held for delay, rate or reordering, plus those lent out. */
  frames?: number;
}

/** Counts of what the wrapper did to frames going one way. */
export interface ImpairmentCounts extends Record<string, number> {
  lost: number;
  duplicated: number;
  corrupted: number;
  congestionMarked: number;
  reordered: number;
  delayed: number;
  queueFull: number;
  /** Copies not made for want of a free slot. */
  duplicateSkipped: number;
  /** Times the inner link had no transmit buffer for a frame that was due. */
  innerBusy: number;
}

const DROP_REASONS = [
  'tx-runt',
  'tx-oversize',
  'tx-outside-buffer',
  'impair-tx-loss',
  'impair-tx-queue-full',
  'impair-rx-loss',
  'impair-rx-queue-full',
  'impair-rx-too-long',
] as const;
type DropReason = (typeof DROP_REASONS)[number];

// Limitation: each copy between the wrapper's arena and the inner link's makes a subarray view,
// one small allocation per frame each way; fixing it needs a copy that takes two arrays and
// offsets without a view (a native memcpy, or arenas sharing one buffer).
/**
 * Wraps any link in seeded loss, duplication, corruption, congestion marking, reordering,
 * delay, jitter and rate limiting, each way on its own. The wrapper has its own arena and
 * copies each frame in and out, because it must hold frames longer than the inner link lends
 * them.
 */
export function impair(link: Link, options: ImpairOptions): ImpairedLink {
  return new ImpairedLink(link, options);
}

/** A small, fast, seedable generator: sfc32 seeded through splitmix32. */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** In [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}

export class ImpairedLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  readonly memory: Uint8Array;
  readonly frameSize: number;
  readonly headroom: number;
  readonly burstSize: number;
  readonly rxDescriptors: Uint32Array;
  readonly txDescriptors: Uint32Array;

  readonly #clock: Clock;
  readonly #tx: Direction;
  readonly #rx: Direction;
  #closed = false;

  #txReserved: Uint32Array;
  #txReservedCount = 0;
  readonly #txRetryTimer: ClockTimer;

  readonly #rxReady: Uint32Array;
  #rxReadyHead = 0;
  #rxReadyCount = 0;
  readonly #rxHeld: Uint32Array;
  #rxHeldCount = 0;
  #innerMayHaveFrames = false;
  readonly #pullTimer: ClockTimer;

  #readable: (() => void) | null = null;
  #inReadable = false;
  #readableAgain = false;
  readonly #wakeTimer: ClockTimer;

  #rxFrameCount = 0;
  #rxByteCount = 0;
  #txFrameCount = 0;
  #txByteCount = 0;
  readonly #drops: Record<DropReason, number>;

  constructor(
    readonly inner: Link,
    options: ImpairOptions,
  ) {
    const frames = options.frames ?? 1024;
    if (!Number.isSafeInteger(frames) || frames < 1) throw new RangeError('frames must be ≥ 1');
    this.#clock = options.clock;
    this.name = `${inner.name}~impaired`;
    this.mtu = inner.mtu;
    this.mac = inner.mac;
    this.frameSize = inner.frameSize;
    this.headroom = inner.headroom;
    this.burstSize = inner.burstSize;
    this.memory = new Uint8Array(2 * frames * this.frameSize);
    this.rxDescriptors = new Uint32Array(this.burstSize * DESCRIPTOR_WORDS);
    this.txDescriptors = new Uint32Array(this.burstSize * DESCRIPTOR_WORDS);

    // Slots 0 .. frames-1 carry frames out, frames .. 2*frames-1 carry them in.
    const seed = options.seed >>> 0;
    this.#tx = new Direction('tx', options.tx ?? {}, new Random(seed), frames, 0, this);
    this.#rx = new Direction(
      'rx',
      options.rx ?? {},
      new Random(seed ^ 0x5bd1e995),
      frames,
      frames,
      this,
    );
    this.#tx.onDue = () => this.#sendDue();
    this.#rx.onDue = () => this.#receiveDue();

    this.#txReserved = new Uint32Array(this.burstSize);
    this.#txRetryTimer = this.#clock.timer(() => this.#sendDue());
    this.#rxReady = new Uint32Array(frames);
    this.#rxHeld = new Uint32Array(this.burstSize);
    this.#pullTimer = this.#clock.timer(() => this.#pull());
    this.#wakeTimer = this.#clock.timer(() => this.#wake());

    const drops = {} as Record<DropReason, number>;
    for (const reason of DROP_REASONS) drops[reason] = 0;
    this.#drops = drops;

    inner.onReadable(() => this.#pull());
    // Frames may already wait on the inner link; its wake-up fired before we listened.
    this.#pullTimer.start(this.#clock.now());
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  rxBurst(max: number): number {
    this.rxRelease();
    if (this.#closed) return 0;
    const count = Math.min(whole(max), this.burstSize, this.#rxReadyCount);
    const ringSize = this.#rxReady.length;
    for (let i = 0; i < count; i++) {
      const slot = this.#rxReady[this.#rxReadyHead];
      this.#rxReadyHead = this.#rxReadyHead + 1 === ringSize ? 0 : this.#rxReadyHead + 1;
      this.#rxHeld[i] = slot;
      this.rxDescriptors[i * DESCRIPTOR_WORDS] = this.#rx.offset[slot];
      this.rxDescriptors[i * DESCRIPTOR_WORDS + 1] = this.#rx.length[slot];
      this.rxDescriptors[i * DESCRIPTOR_WORDS + 2] = 0;
    }
    this.#rxReadyCount -= count;
    this.#rxHeldCount = count;
    return count;
  }

  rxRelease(): void {
    if (this.#rxHeldCount === 0) return;
    for (let i = 0; i < this.#rxHeldCount; i++) this.#rx.free(this.#rxHeld[i]);
    this.#rxHeldCount = 0;
    if (this.#innerMayHaveFrames && !this.#pullTimer.armed) {
      this.#pullTimer.start(this.#clock.now());
    }
  }

  txAlloc(count: number): number {
    this.#returnReserved(0);
    if (this.#closed) return 0;
    const granted = Math.min(whole(count), this.burstSize, this.#tx.freeCount);
    for (let i = 0; i < granted; i++) {
      const slot = this.#tx.take();
      this.#txReserved[i] = slot;
      this.txDescriptors[i * DESCRIPTOR_WORDS] = this.#tx.start(slot) + this.headroom;
      this.txDescriptors[i * DESCRIPTOR_WORDS + 1] = this.frameSize - this.headroom;
      this.txDescriptors[i * DESCRIPTOR_WORDS + 2] = 0;
    }
    this.#txReservedCount = granted;
    return granted;
  }

  /** Counts a frame as sent once the impairments take it, even if they then lose it. */
  txSubmit(count: number): number {
    const submitted = Math.min(whole(count), this.#txReservedCount);
    let sent = 0;
    for (let i = 0; i < submitted; i++) {
      const slot = this.#txReserved[i];
      const offset = this.txDescriptors[i * DESCRIPTOR_WORDS];
      const length = this.txDescriptors[i * DESCRIPTOR_WORDS + 1];
      const reason = this.#invalid(slot, offset, length);
      if (reason !== undefined) {
        this.drop(reason);
        this.#tx.free(slot);
        continue;
      }
      this.#txFrameCount++;
      this.#txByteCount += length;
      this.#tx.admit(slot, offset, length);
      sent++;
    }
    this.#returnReserved(submitted);
    return sent;
  }

  onReadable(callback: (() => void) | null): void {
    this.#readable = callback;
    if (callback !== null && this.#rxReadyCount > 0 && !this.#wakeTimer.armed) {
      this.#wakeTimer.start(this.#clock.now());
    }
  }

  setSteering(steering: Steering): void {
    this.inner.setSteering(steering);
  }

  /** The wrapper's own figures; drops include the inner link's. */
  stats(): LinkStats {
    const inner = this.inner.stats();
    const drops: Record<string, number> = { ...inner.drops };
    for (const reason of DROP_REASONS) drops[reason] = (drops[reason] ?? 0) + this.#drops[reason];
    return {
      rxFrames: this.#rxFrameCount,
      rxBytes: this.#rxByteCount,
      txFrames: this.#txFrameCount,
      txBytes: this.#txByteCount,
      drops,
      impairedTx: { ...this.#tx.counts },
      impairedRx: { ...this.#rx.counts },
      txHeld: this.#tx.held,
      rxHeld: this.#rx.held,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#readable = null;
    this.inner.onReadable(null);
    this.#tx.stop();
    this.#rx.stop();
    this.#txRetryTimer.cancel();
    this.#pullTimer.cancel();
    this.#wakeTimer.cancel();
    await this.inner.close();
  }

  /** @internal */
  drop(reason: DropReason): void {
    this.#drops[reason]++;
    if (debug.enabled) debug('%s: dropped a frame: %s', this.name, reason);
  }

  #invalid(slot: number, offset: number, length: number): DropReason | undefined {
    if (length < MIN_FRAME) return 'tx-runt';
    if (length > this.mtu + MAX_LINK_HEADER) return 'tx-oversize';
    const start = this.#tx.start(slot);
    if (offset < start || offset + length > start + this.frameSize) return 'tx-outside-buffer';
    return undefined;
  }

  #returnReserved(from: number): void {
    for (let i = from; i < this.#txReservedCount; i++) this.#tx.free(this.#txReserved[i]);
    this.#txReservedCount = 0;
  }

  /** Passes frames whose time has come to the inner link, as many as it has buffers for. */
  #sendDue(): void {
    if (this.#closed) return;
    const inner = this.inner;
    const tx = this.#tx;
    const now = this.#clock.now();
    while (tx.hasDue(now)) {
      const granted = inner.txAlloc(inner.burstSize);
      let filled = 0;
      while (filled < granted && tx.hasDue(now)) {
        const slot = tx.pop();
        const d = filled * DESCRIPTOR_WORDS;
        const length = tx.length[slot];
        const offset = tx.offset[slot];
        if (length > inner.txDescriptors[d + 1]) {
          this.drop('tx-oversize');
        } else {
          inner.memory.set(this.memory.subarray(offset, offset + length), inner.txDescriptors[d]);
          inner.txDescriptors[d + 1] = length;
          filled++;
        }
        tx.free(slot);
      }
      inner.txSubmit(filled);
      if (granted === 0) {
        // The inner link is out of buffers; it frees them as its frames leave, so look again
        // shortly rather than drop what the impairments decided to deliver.
        tx.counts.innerBusy++;
        if (!this.#txRetryTimer.armed) this.#txRetryTimer.start(now + 50);
        return;
      }
    }
    tx.rearm();
  }

  /** Copies frames in from the inner link while there is room to hold them. */
  #pull(): void {
    if (this.#closed) return;
    const inner = this.inner;
    const rx = this.#rx;
    this.#innerMayHaveFrames = false;
    while (true) {
      if (rx.freeCount === 0) {
        this.#innerMayHaveFrames = true;
        break;
      }
      const count = inner.rxBurst(Math.min(inner.burstSize, rx.freeCount));
      if (count === 0) break;
      for (let k = 0; k < count; k++) {
        const offset = inner.rxDescriptors[k * DESCRIPTOR_WORDS];
        const length = inner.rxDescriptors[k * DESCRIPTOR_WORDS + 1];
        if (length > this.frameSize - this.headroom) {
          // Only a link that lends frames larger than its own buffers could send this.
          this.drop('impair-rx-too-long');
          continue;
        }
        const slot = rx.take();
        const target = rx.start(slot) + this.headroom;
        this.memory.set(inner.memory.subarray(offset, offset + length), target);
        // The rest of this burst is already lent to us: a duplicate must leave them a slot.
        rx.admit(slot, target, length, count - k - 1);
      }
    }
    inner.rxRelease();
  }

  /** Moves frames whose time has come to the ready ring and wakes the reader. */
  #receiveDue(): void {
    if (this.#closed) return;
    const rx = this.#rx;
    const now = this.#clock.now();
    const ringSize = this.#rxReady.length;
    let moved = 0;
    while (rx.hasDue(now)) {
      const slot = rx.pop();
      let tail = this.#rxReadyHead + this.#rxReadyCount;
      if (tail >= ringSize) tail -= ringSize;
      this.#rxReady[tail] = slot;
      this.#rxReadyCount++;
      this.#rxFrameCount++;
      this.#rxByteCount += rx.length[slot];
      moved++;
    }
    rx.rearm();
    if (moved > 0) this.#wake();
  }

  #wake(): void {
    if (this.#readable === null) return;
    if (this.#inReadable) {
      this.#readableAgain = true;
      return;
    }
    this.#inReadable = true;
    try {
      do {
        this.#readableAgain = false;
        this.#readable?.();
      } while (this.#readableAgain && this.#readable !== null);
    } finally {
      this.#inReadable = false;
    }
  }
}

/**
 * One way through the wrapper: a pool of frame slots, the bottleneck's bookkeeping, and a heap
 * of frames ordered by release time (ties by arrival, so runs repeat exactly).
 */
class Direction {
  readonly counts: ImpairmentCounts = {
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    congestionMarked: 0,
    reordered: 0,
    delayed: 0,
    queueFull: 0,
    duplicateSkipped: 0,
    innerBusy: 0,
  };
  readonly offset: Uint32Array;
  readonly length: Uint32Array;
  onDue: () => void = () => {};

  readonly #loss: number;
  readonly #duplicate: number;
  readonly #corrupt: number;
  readonly #congestionMark: number;
  readonly #reorder: number;
  readonly #reorderDelayUs: number;
  readonly #delayUs: number;
  readonly #jitterUs: number;
  readonly #rate: number;
  readonly #queueBytes: number;

  readonly #free: Uint32Array;
  freeCount: number;
  readonly #release: Float64Array;
  readonly #order: Float64Array;
  readonly #heap: Uint32Array;
  #heapCount = 0;
  #arrivals = 0;

  // Frames in the bottleneck, oldest first: when each finishes and how big it is.
  readonly #queueEnd: Float64Array;
  readonly #queueLength: Uint32Array;
  #queueHead = 0;
  #queueCount = 0;
  #queuedBytes = 0;
  #busyUntil = 0;

  readonly #timer: ClockTimer;

  constructor(
    readonly way: 'tx' | 'rx',
    impairment: Impairment,
    readonly random: Random,
    readonly slots: number,
    readonly firstSlot: number,
    readonly link: ImpairedLink,
  ) {
    this.#loss = probability('loss', impairment.loss);
    this.#duplicate = probability('duplicate', impairment.duplicate);
    this.#corrupt = probability('corrupt', impairment.corrupt);
    this.#congestionMark = probability('congestionMark', impairment.congestionMark);
    this.#reorder = probability('reorder', impairment.reorder);
    this.#delayUs = micros('delayUs', impairment.delayUs ?? 0);
    this.#jitterUs = micros('jitterUs', impairment.jitterUs ?? 0);
    this.#reorderDelayUs = micros(
      'reorderDelayUs',
      impairment.reorderDelayUs ?? Math.max(1000, 2 * this.#delayUs),
    );
    this.#rate = impairment.rateBitsPerSecond ?? 0;
    if (!(this.#rate >= 0)) throw new RangeError('rateBitsPerSecond must be 0 or more');
    this.#queueBytes = impairment.queueBytes ?? 65536;
    if (!(this.#queueBytes > 0)) throw new RangeError('queueBytes must be more than 0');

    this.offset = new Uint32Array(slots);
    this.length = new Uint32Array(slots);
    this.#free = new Uint32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i;
    this.freeCount = slots;
    this.#release = new Float64Array(slots);
    this.#order = new Float64Array(slots);
    this.#heap = new Uint32Array(slots);
    this.#queueEnd = new Float64Array(slots);
    this.#queueLength = new Uint32Array(slots);
    this.#timer = link.clock.timer(() => this.onDue());
  }

  /** Frames held: waiting for their release time. */
  get held(): number {
    return this.#heapCount;
  }

  /** Arena offset where slot `slot` begins. */
  start(slot: number): number {
    return (this.firstSlot + slot) * this.link.frameSize;
  }

  take(): number {
    return this.#free[--this.freeCount];
  }

  free(slot: number): void {
    this.#free[this.freeCount++] = slot;
  }

  /**
   * Decides the fate of one frame in `slot`: lost, marked, corrupted, copied, queued, delayed.
   * A copy is made only if more than `keepFree` slots stay free.
   */
  admit(slot: number, offset: number, length: number, keepFree = 0): void {
    const random = this.random;
    if (random.chance(this.#loss)) {
      this.counts.lost++;
      this.link.drop(this.way === 'tx' ? 'impair-tx-loss' : 'impair-rx-loss');
      this.free(slot);
      return;
    }
    const memory = this.link.memory;
    if (this.#congestionMark > 0) {
      // Marked before any corruption, which the receiver's checksums must still catch.
      const ip = ecnCapableIpv4(memory, offset, length);
      if (ip >= 0 && random.chance(this.#congestionMark)) {
        markCongestionExperienced(memory, ip);
        this.counts.congestionMarked++;
      }
    }
    if (random.chance(this.#corrupt)) {
      const bit = random.below(length * 8);
      memory[offset + (bit >>> 3)] ^= 1 << (bit & 7);
      this.counts.corrupted++;
    }
    if (random.chance(this.#duplicate)) {
      if (this.freeCount > keepFree) {
        const copy = this.take();
        const target = this.start(copy) + (offset - this.start(slot));
        memory.copyWithin(target, offset, offset + length);
        this.counts.duplicated++;
        this.#schedule(copy, target, length);
      } else {
        this.counts.duplicateSkipped++;
      }
    }
    this.#schedule(slot, offset, length);
  }

  #schedule(slot: number, offset: number, length: number): void {
    const random = this.random;
    const now = this.link.clock.now();
    let release = now;
    if (this.#rate > 0) {
      this.#drain(now);
      if (this.#queuedBytes + length > this.#queueBytes) {
        this.counts.queueFull++;
        this.link.drop(this.way === 'tx' ? 'impair-tx-queue-full' : 'impair-rx-queue-full');
        this.free(slot);
        return;
      }
      const begin = Math.max(now, this.#busyUntil);
      this.#busyUntil = begin + (length * 8 * 1e6) / this.#rate;
      let tail = this.#queueHead + this.#queueCount;
      if (tail >= this.slots) tail -= this.slots;
      this.#queueEnd[tail] = this.#busyUntil;
      this.#queueLength[tail] = length;
      this.#queueCount++;
      this.#queuedBytes += length;
      release = Math.ceil(this.#busyUntil);
    }
    let extra = this.#delayUs;
    if (this.#jitterUs > 0) extra += random.below(this.#jitterUs + 1);
    if (random.chance(this.#reorder)) {
      extra += this.#reorderDelayUs;
      this.counts.reordered++;
    }
    if (extra > 0) this.counts.delayed++;
    release += extra;

    this.offset[slot] = offset;
    this.length[slot] = length;
    this.#release[slot] = release;
    this.#order[slot] = this.#arrivals++;
    this.#push(slot);
    if (!this.#timer.armed || this.#timer.deadline > release) this.#timer.start(release);
  }

  /** Forgets frames that have left the bottleneck by `now`. */
  #drain(now: number): void {
    while (this.#queueCount > 0 && this.#queueEnd[this.#queueHead] <= now) {
      this.#queuedBytes -= this.#queueLength[this.#queueHead];
      this.#queueHead = this.#queueHead + 1 === this.slots ? 0 : this.#queueHead + 1;
      this.#queueCount--;
    }
  }

  hasDue(now: number): boolean {
    return this.#heapCount > 0 && this.#release[this.#heap[0]] <= now;
  }

  rearm(): void {
    if (this.#heapCount > 0) this.#timer.start(this.#release[this.#heap[0]]);
  }

  stop(): void {
    this.#timer.cancel();
  }

  pop(): number {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap[--this.#heapCount];
    if (this.#heapCount > 0) this.#siftDown(last);
    return top;
  }

  #before(a: number, b: number): boolean {
    const ra = this.#release[a];
    const rb = this.#release[b];
    return ra < rb || (ra === rb && this.#order[a] < this.#order[b]);
  }

  #push(slot: number): void {
    const heap = this.#heap;
    let index = this.#heapCount++;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(slot, heap[parent])) break;
      heap[index] = heap[parent];
      index = parent;
    }
    heap[index] = slot;
  }

  #siftDown(slot: number): void {
    const heap = this.#heap;
    const count = this.#heapCount;
    let index = 0;
    while (true) {
      let child = 2 * index + 1;
      if (child >= count) break;
      if (child + 1 < count && this.#before(heap[child + 1], heap[child])) child++;
      if (!this.#before(heap[child], slot)) break;
      heap[index] = heap[child];
      index = child;
    }
    heap[index] = slot;
  }
}

/**
 * Where the IPv4 header of the frame at `offset` starts, if the frame is IPv4 (after at most one
 * 802.1Q tag) with ECN field ECT(0) or ECT(1); otherwise -1.
 */
function ecnCapableIpv4(memory: Uint8Array, offset: number, length: number): number {
  if (length < ETHERNET_HEADER_LENGTH) return -1;
  let ip = offset + ETHERNET_HEADER_LENGTH;
  let etherType = read16(memory, offset + 12);
  if (etherType === ETHERTYPE_VLAN) {
    if (length < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) return -1;
    etherType = read16(memory, offset + 16);
    ip += VLAN_TAG_LENGTH;
  }
  if (etherType !== ETHERTYPE_IPV4 || ip + IPV4_MIN_HEADER_LENGTH > offset + length) return -1;
  if (memory[ip] >>> 4 !== 4) return -1;
  // RFC 3168 5: 01 is ECT(1), 10 is ECT(0); 00 is not ECN-capable and 11 is CE already.
  const ecn = memory[ip + 1] & 3;
  return ecn === 1 || ecn === 2 ? ip : -1;
}

/** Sets CE in the header at `ip` and updates its checksum incrementally (RFC 1624 3, eqn. 3). */
function markCongestionExperienced(memory: Uint8Array, ip: number): void {
  const before = read16(memory, ip);
  memory[ip + 1] |= 3;
  const after = read16(memory, ip);
  const checksum = read16(memory, ip + 10);
  write16(memory, ip + 10, ~foldSum((~checksum & 0xffff) + (~before & 0xffff) + after) & 0xffff);
}

function probability(name: string, value: number | undefined): number {
  const p = value ?? 0;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${p}`);
  return p;
}

function micros(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number of µs, got ${value}`);
  }
  return value;
}

/** A caller's count as a whole number of frames: NaN, negatives and fractions cannot corrupt. */
function whole(count: number): number {
  return count > 0 ? Math.floor(count) : 0;
}
