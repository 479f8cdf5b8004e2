import { DESCRIPTOR_WORDS, type Link } from '../link/types.js';
import type { StackCounters } from './counters.js';

/**
 * Frames on their way out, gathered so the link sees one `txSubmit` per burst: buffers are
 * reserved a burst at a time and handed out one by one; `flush` sends what was filled.
 */
export class TxBatch {
  private reserved = 0;
  private filled = 0;
  /** Changes at every flush: a slot number is meaningful only within one generation. */
  generation = 0;

  constructor(
    private readonly link: Link,
    private readonly counters: StackCounters,
  ) {}

  /**
   * Offset in `link.memory` of a buffer for the next frame, or -1 when the link has none
   * free (the caller drops and counts). `capacity()` tells its size.
   */
  next(): number {
    if (this.filled === this.reserved) {
      if (this.reserved > 0) this.flush();
      this.reserved = this.link.txAlloc(this.link.burstSize);
      if (this.reserved === 0) return -1;
    }
    return this.link.txDescriptors[this.filled * DESCRIPTOR_WORDS];
  }

  /** Capacity of the buffer `next()` returned. */
  capacity(): number {
    return this.link.txDescriptors[this.filled * DESCRIPTOR_WORDS + 1];
  }

  /** The buffer from `next()` holds a frame of `length` bytes. */
  commit(length: number, flags = 0): void {
    const base = this.filled * DESCRIPTOR_WORDS;
    this.link.txDescriptors[base + 1] = length;
    this.link.txDescriptors[base + 2] = flags;
    this.filled++;
  }

  /** Index of the frame `commit` will record next. */
  get nextSlot(): number {
    return this.filled;
  }

  /** Offset of an already committed frame of this generation, or -1. */
  slotOffset(slot: number, generation: number): number {
    if (generation !== this.generation || slot >= this.filled) return -1;
    return this.link.txDescriptors[slot * DESCRIPTOR_WORDS];
  }

  get pending(): number {
    return this.filled;
  }

  /** Sends the filled frames as one burst and returns unused buffers to the link. */
  flush(): void {
    if (this.reserved === 0) return;
    const filled = this.filled;
    const sent = this.link.txSubmit(filled);
    this.counters.ethOutFrames += sent;
    for (let i = sent; i < filled; i++) this.counters.drop('tx-ring-full');
    this.reserved = 0;
    this.filled = 0;
    this.generation++;
  }
}
