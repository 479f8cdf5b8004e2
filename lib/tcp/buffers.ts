// Bounded byte rings for the send and receive sides. Sized when the connection is created but
// allocated on first use, so a half-open connection (a SYN flood's) holds no ring memory; the
// established path copies bytes in and out and allocates nothing.

import { seqAdd, seqDiff, seqGt, seqLeq, seqLt, seqMax } from './sequence.js';

const EMPTY = new Uint8Array(0);

/** Application bytes not yet acknowledged: [head, head + length) of a circular array. */
export class SendBuffer {
  head = 0;
  length = 0;
  /** The ring's size in bytes; `data` is allocated on first use. */
  private size: number;
  private ring: Uint8Array | null = null;
  /** A contiguous copy for a segment that straddles the end of the ring. */
  private scratch: Uint8Array = EMPTY;
  private readonly segmentMax: number;
  /** Where the bytes asked for by `view` live: `viewBuffer[viewOffset ..]`. */
  viewBuffer: Uint8Array = EMPTY;
  viewOffset = 0;

  constructor(capacity: number, segmentMax: number) {
    this.size = capacity;
    this.segmentMax = Math.max(segmentMax, 1);
  }

  get data(): Uint8Array {
    return (this.ring ??= new Uint8Array(this.size));
  }

  /** Whether the ring memory is allocated yet. */
  get allocated(): boolean {
    return this.ring !== null;
  }

  get capacity(): number {
    return this.size;
  }

  get free(): number {
    return this.size - this.length;
  }

  /** Copies as much of src as fits; returns the count taken. */
  write(src: Uint8Array, offset: number, count: number): number {
    const n = Math.min(count, this.free);
    const cap = this.size;
    let tail = this.head + this.length;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    const data = this.data;
    data.set(src.subarray(offset, offset + first), tail);
    if (n > first) data.set(src.subarray(offset + first, offset + n), 0);
    this.length += n;
    return n;
  }

  /** Where the free space starts: `data[tail ..]` for `contiguousFree` bytes. */
  get tail(): number {
    const t = this.head + this.length;
    return t >= this.size ? t - this.size : t;
  }

  /** Free bytes after `tail` before the ring wraps (what one in-place write can fill). */
  get contiguousFree(): number {
    return Math.min(this.free, this.size - this.tail);
  }

  /** Takes `count` bytes the caller wrote in place at `tail` (at most contiguousFree). */
  commit(count: number): number {
    const n = Math.max(0, Math.min(count, this.contiguousFree));
    this.length += n;
    return n;
  }

  /** Releases `count` acknowledged bytes from the front. */
  drop(count: number): void {
    const n = Math.min(count, this.length);
    this.head += n;
    if (this.head >= this.size) this.head -= this.size;
    this.length -= n;
    if (this.length === 0) this.head = 0;
  }

  /** Points viewBuffer/viewOffset at `count` bytes starting `from` bytes past the head. */
  view(from: number, count: number): void {
    const cap = this.size;
    let start = this.head + from;
    if (start >= cap) start -= cap;
    if (start + count <= cap) {
      this.viewBuffer = this.data;
      this.viewOffset = start;
      return;
    }
    if (this.scratch.length < count)
      this.scratch = new Uint8Array(Math.max(count, this.segmentMax));
    const first = cap - start;
    this.scratch.set(this.data.subarray(start, cap), 0);
    this.scratch.set(this.data.subarray(0, count - first), first);
    this.viewBuffer = this.scratch;
    this.viewOffset = 0;
  }

  /** Grows or shrinks the ring, keeping the queued bytes (a socket-option change). */
  resize(capacity: number): void {
    const size = Math.max(capacity, this.length);
    if (this.ring !== null) {
      const next = new Uint8Array(size);
      this.copyOut(0, this.length, next, 0);
      this.ring = next;
    }
    this.size = size;
    this.head = 0;
  }

  copyOut(from: number, count: number, dst: Uint8Array, dstOffset: number): void {
    const cap = this.size;
    let start = this.head + from;
    if (start >= cap) start -= cap;
    const first = Math.min(count, cap - start);
    const data = this.data;
    dst.set(data.subarray(start, start + first), dstOffset);
    if (count > first) dst.set(data.subarray(0, count - first), dstOffset + first);
  }
}

/**
 * Subarray views of one source buffer, kept by offset. Frames of a link arena sit in fixed
 * slots, so the payload of most segments starts at an offset already seen and copying it in
 * creates no view object (no garbage per segment).
 */
class SourceViews {
  private buffer: Uint8Array | null = null;
  private readonly views = new Map<number, Uint8Array>();

  get(src: Uint8Array, offset: number, count: number): Uint8Array {
    if (src !== this.buffer) {
      this.buffer = src;
      this.views.clear();
    }
    const cached = this.views.get(offset);
    if (cached !== undefined && cached.length === count) return cached;
    if (this.views.size >= 4096) this.views.clear();
    const view = src.subarray(offset, offset + count);
    this.views.set(offset, view);
    return view;
  }
}

/**
 * Received bytes: [head, head + length) are in order and readable; out-of-order bytes sit
 * where they belong past the tail, and `ranges` records which of those positions hold data
 * (as absolute sequence numbers, sorted, disjoint, never touching). Out-of-order data is thus
 * bounded by the buffer itself (RFC 9293 3.10.7.4 allows keeping it; RFC 2018 reports it).
 */
export class ReceiveBuffer {
  head = 0;
  length = 0;
  /** [left0, right0, left1, right1, ...] of out-of-order data. */
  readonly ranges: Uint32Array;
  rangeCount = 0;
  /** Index of the range holding the most recent out-of-order arrival (first SACK block). */
  latestRange = -1;
  /** When each range last grew (a counter), so SACK blocks go out most recent first. */
  readonly stamps: Float64Array;
  private clock = 0;
  private readonly sources = new SourceViews();

  /** The ring's size in bytes; `data` is allocated on first use. */
  private size: number;
  private ring: Uint8Array | null = null;

  constructor(capacity: number, maxRanges: number) {
    this.size = capacity;
    this.ranges = new Uint32Array(2 * Math.max(maxRanges, 1));
    this.stamps = new Float64Array(Math.max(maxRanges, 1));
  }

  get data(): Uint8Array {
    return (this.ring ??= new Uint8Array(this.size));
  }

  /** Whether the ring memory is allocated yet. */
  get allocated(): boolean {
    return this.ring !== null;
  }

  get capacity(): number {
    return this.size;
  }

  /** Space past the in-order bytes: what the window may offer. */
  get free(): number {
    return this.size - this.length;
  }

  /** Bytes held out of order. */
  get outOfOrderBytes(): number {
    let total = 0;
    for (let i = 0; i < this.rangeCount; i++) {
      total += seqDiff(this.ranges[2 * i + 1], this.ranges[2 * i]);
    }
    return total;
  }

  /**
   * Stores `count` bytes of sequence number `seq` (rcvNxt <= seq, seq + count <= rcvNxt +
   * free, checked by the caller). Returns how far rcvNxt advances, or -1 when the bytes were
   * out of order and no range slot was left (the segment is dropped; the peer resends).
   */
  store(rcvNxt: number, seq: number, src: Uint8Array, offset: number, count: number): number {
    let gap = seqDiff(seq, rcvNxt);
    if (gap < 0) {
      // Bytes before rcvNxt are already here (text held since the SYN can move rcvNxt after
      // the caller trimmed the segment): skip them rather than write over readable bytes.
      if (count <= -gap) return 0;
      offset -= gap;
      count += gap;
      seq = rcvNxt;
      gap = 0;
    }
    if (gap > 0 && !this.canRecord(seq, seqAdd(seq, count))) return -1;
    this.copyIn(this.length + gap, src, offset, count);
    if (gap > 0) {
      this.record(seq, seqAdd(seq, count));
      return 0;
    }
    let next = seqAdd(rcvNxt, count);
    let removed = 0;
    while (removed < this.rangeCount && seqLeq(this.ranges[2 * removed], next)) {
      next = seqMax(next, this.ranges[2 * removed + 1]);
      removed++;
    }
    if (removed > 0) this.removeFront(removed);
    const advance = seqDiff(next, rcvNxt);
    this.length += advance;
    return advance;
  }

  /**
   * Keeps `count` bytes of sequence number `seq` (= rcvNxt, nothing held yet) without making
   * them readable: text that came on a SYN waits for the connection to be established. A
   * later `store` at rcvNxt takes them in.
   */
  hold(seq: number, src: Uint8Array, offset: number, count: number): void {
    this.copyIn(this.length, src, offset, count);
    this.record(seq, seqAdd(seq, count));
  }

  /** Readable bytes from `head` before the ring wraps (what one in-place read can take). */
  get contiguousReadable(): number {
    return Math.min(this.length, this.size - this.head);
  }

  /** Copies up to `count` readable bytes out; `consume` false leaves them (MSG_PEEK). */
  read(dst: Uint8Array, dstOffset: number, count: number, consume: boolean): number {
    const n = Math.min(count, this.length);
    const cap = this.size;
    const first = Math.min(n, cap - this.head);
    const data = this.data;
    dst.set(data.subarray(this.head, this.head + first), dstOffset);
    if (n > first) dst.set(data.subarray(0, n - first), dstOffset + first);
    if (consume) this.consume(n);
    return n;
  }

  consume(n: number): void {
    this.head += n;
    if (this.head >= this.size) this.head -= this.size;
    this.length -= n;
    if (this.length === 0 && this.rangeCount === 0) this.head = 0;
  }

  /** Grows the ring to `capacity`, keeping readable and out-of-order bytes in place. */
  resize(capacity: number): void {
    if (capacity <= this.size) return;
    const old = this.ring;
    this.size = capacity;
    if (old === null) return;
    const next = new Uint8Array(capacity);
    const span = old.length;
    // Everything from head to the end of the old ring, unwrapped, lands at the front.
    next.set(old.subarray(this.head), 0);
    next.set(old.subarray(0, this.head), span - this.head);
    this.ring = next;
    this.head = 0;
  }

  /** Forget the out-of-order data (connection reset, or memory reclaimed). */
  clearRanges(): void {
    this.rangeCount = 0;
    this.latestRange = -1;
  }

  private copyIn(at: number, src: Uint8Array, offset: number, count: number): void {
    const cap = this.size;
    let start = this.head + at;
    if (start >= cap) start -= cap;
    const data = this.data;
    const first = Math.min(count, cap - start);
    if (count === first) {
      data.set(this.sources.get(src, offset, count), start);
      return;
    }
    data.set(src.subarray(offset, offset + first), start);
    data.set(src.subarray(offset + first, offset + count), 0);
  }

  private canRecord(left: number, right: number): boolean {
    if (this.rangeCount < this.ranges.length / 2) return true;
    for (let i = 0; i < this.rangeCount; i++) {
      if (seqLeq(this.ranges[2 * i], right) && seqLeq(left, this.ranges[2 * i + 1])) return true;
    }
    return false;
  }

  private record(left: number, right: number): void {
    const r = this.ranges;
    let i = 0;
    while (i < this.rangeCount && seqLt(r[2 * i + 1], left)) i++;
    // Ranges from i on that overlap or touch [left, right) merge into one.
    let j = i;
    let newLeft = left;
    let newRight = right;
    while (j < this.rangeCount && seqLeq(r[2 * j], right)) {
      if (seqLt(r[2 * j], newLeft)) newLeft = r[2 * j];
      if (seqGt(r[2 * j + 1], newRight)) newRight = r[2 * j + 1];
      j++;
    }
    const merged = j - i;
    const s = this.stamps;
    if (merged === 0) {
      r.copyWithin(2 * i + 2, 2 * i, 2 * this.rangeCount);
      s.copyWithin(i + 1, i, this.rangeCount);
      this.rangeCount++;
    } else if (merged > 1) {
      r.copyWithin(2 * i + 2, 2 * j, 2 * this.rangeCount);
      s.copyWithin(i + 1, j, this.rangeCount);
      this.rangeCount -= merged - 1;
    }
    r[2 * i] = newLeft;
    r[2 * i + 1] = newRight;
    s[i] = ++this.clock;
    this.latestRange = i;
  }

  private removeFront(n: number): void {
    this.ranges.copyWithin(0, 2 * n, 2 * this.rangeCount);
    this.stamps.copyWithin(0, n, this.rangeCount);
    this.rangeCount -= n;
    this.latestRange = this.latestRange >= n ? this.latestRange - n : -1;
  }
}
