import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { debuglog } from 'node:util';
import { RealClock, type Clock } from './clock.js';
import { DESCRIPTOR_WORDS, type Link, type LinkStats, type Steering } from './types.js';

const debug = debuglog('utcp');

/** Classic libpcap file format: magic in host order, version 2.4, microsecond timestamps. */
const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

export interface PcapWriterOptions {
  /** Bytes kept of each frame. Default 262144, as tcpdump keeps. */
  snapLength?: number;
  /** Records are gathered into chunks this big before a write. Default 1 MiB. */
  chunkBytes?: number;
  /** Bytes the stream may hold unwritten before records are dropped. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Writes a partly filled chunk this often, so a live file is readable. 0: only when full. */
  flushIntervalMs?: number;
}

/**
 * Writes frames as a pcap file (LINKTYPE_ETHERNET) that tcpdump and Wireshark read. Records are
 * copied into a chunk and the chunk goes to the stream when full, so recording a frame
 * allocates nothing. A disk slower than the traffic makes it drop records, counted in
 * `dropped`, rather than buffer without bound.
 */
export class PcapWriter {
  /** Records written (or waiting in the chunk). */
  frames = 0;
  /** Records dropped because the stream fell too far behind or failed. */
  dropped = 0;

  readonly #stream: Writable;
  readonly #snapLength: number;
  readonly #chunkBytes: number;
  readonly #maxPendingBytes: number;
  #chunk: Buffer;
  #used = 0;
  #error: Error | undefined;
  #closed = false;
  #interval: NodeJS.Timeout | undefined;
  // The last source array as a Buffer, so `copy` needs no new view per frame.
  #source: Uint8Array | undefined;
  #sourceBuffer: Buffer = Buffer.alloc(0);

  /** Opens (and truncates) `path`. */
  static open(path: string, options: PcapWriterOptions = {}): PcapWriter {
    return new PcapWriter(createWriteStream(path), options);
  }

  constructor(stream: Writable, options: PcapWriterOptions = {}) {
    this.#stream = stream;
    this.#snapLength = options.snapLength ?? 262144;
    this.#chunkBytes = Math.max(options.chunkBytes ?? 1 << 20, FILE_HEADER_BYTES);
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 << 20;
    this.#chunk = Buffer.allocUnsafe(this.#chunkBytes);
    stream.on('error', (error: Error) => {
      this.#error ??= error;
      debug('pcap: write failed: %s', error.message);
    });

    const header = this.#chunk;
    header.writeUInt32LE(PCAP_MAGIC_MICROSECONDS, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8);
    header.writeUInt32LE(0, 12);
    header.writeUInt32LE(this.#snapLength, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.#used = FILE_HEADER_BYTES;

    const every = options.flushIntervalMs ?? 1000;
    if (every > 0) {
      this.#interval = setInterval(() => this.flush(), every);
      this.#interval.unref();
    }
  }

  /** Records `length` bytes of `bytes` from `offset`, seen at `timeUs` µs since the epoch. */
  write(bytes: Uint8Array, offset: number, length: number, timeUs: number): void {
    if (this.#closed || this.#error !== undefined) {
      this.dropped++;
      return;
    }
    const kept = Math.min(length, this.#snapLength);
    const need = RECORD_HEADER_BYTES + kept;
    if (this.#used + need > this.#chunk.length) {
      this.flush();
      if (this.#error !== undefined || this.#stream.writableLength > this.#maxPendingBytes) {
        this.dropped++;
        if (debug.enabled) debug('pcap: dropped a record: the file is behind');
        return;
      }
      if (need > this.#chunk.length) this.#chunk = Buffer.allocUnsafe(need);
    }
    if (bytes !== this.#source) {
      this.#source = bytes;
      this.#sourceBuffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }

    const chunk = this.#chunk;
    const at = this.#used;
    const seconds = Math.floor(timeUs / 1e6);
    chunk.writeUInt32LE(seconds >>> 0, at);
    chunk.writeUInt32LE(timeUs - seconds * 1e6, at + 4);
    chunk.writeUInt32LE(kept, at + 8);
    chunk.writeUInt32LE(length, at + 12);
    this.#sourceBuffer.copy(chunk, at + RECORD_HEADER_BYTES, offset, offset + kept);
    this.#used = at + need;
    this.frames++;
  }

  /** Hands what is gathered to the stream. */
  flush(): void {
    if (this.#used === 0 || this.#error !== undefined) return;
    this.#stream.write(this.#chunk.subarray(0, this.#used));
    this.#chunk = Buffer.allocUnsafe(this.#chunkBytes);
    this.#used = 0;
  }

  /** Flushes, ends the stream and waits until the file is complete. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.flush();
    this.#closed = true;
    if (this.#interval !== undefined) clearInterval(this.#interval);
    return new Promise((resolve, reject) => {
      if (this.#error !== undefined) {
        reject(this.#error);
        return;
      }
      this.#stream.once('error', reject);
      this.#stream.end(() => {
        if (this.#error !== undefined) reject(this.#error);
        else resolve();
      });
    });
  }
}

export interface CaptureOptions extends PcapWriterOptions {
  /** Timestamps; default a `RealClock`. */
  clock?: Clock;
}

/**
 * Wraps `link` so every frame it receives (as `rxBurst` hands it out) and every frame sent
 * through it (as `txSubmit` takes it) is written to `file`. The wrapper shares the link's
 * arena and descriptors: capturing costs one copy into the pcap chunk and nothing else.
 */
export function capture(
  link: Link,
  file: string | PcapWriter,
  options: CaptureOptions = {},
): CapturedLink {
  const owned = typeof file === 'string';
  const writer = owned ? PcapWriter.open(file, options) : file;
  return new CapturedLink(link, writer, owned, options.clock ?? new RealClock());
}

export class CapturedLink implements Link {
  #reserved = 0;

  constructor(
    readonly inner: Link,
    readonly writer: PcapWriter,
    private readonly ownsWriter: boolean,
    private readonly clock: Clock,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get memory(): Uint8Array {
    return this.inner.memory;
  }
  get frameSize(): number {
    return this.inner.frameSize;
  }
  get headroom(): number {
    return this.inner.headroom;
  }
  get rxDescriptors(): Uint32Array {
    return this.inner.rxDescriptors;
  }
  get txDescriptors(): Uint32Array {
    return this.inner.txDescriptors;
  }
  get burstSize(): number {
    return this.inner.burstSize;
  }

  rxBurst(max: number): number {
    const count = this.inner.rxBurst(max);
    if (count === 0) return 0;
    const now = this.clock.now();
    const descriptors = this.inner.rxDescriptors;
    const memory = this.inner.memory;
    for (let k = 0; k < count; k++) {
      const d = k * DESCRIPTOR_WORDS;
      this.writer.write(memory, descriptors[d], descriptors[d + 1], now);
    }
    return count;
  }

  rxRelease(): void {
    this.inner.rxRelease();
  }

  txAlloc(count: number): number {
    this.#reserved = this.inner.txAlloc(count);
    return this.#reserved;
  }

  /** Records the frames the link will accept by the rules of `Link`, then submits. */
  txSubmit(count: number): number {
    const now = this.clock.now();
    const descriptors = this.inner.txDescriptors;
    const memory = this.inner.memory;
    const largest = this.inner.mtu + 18;
    const submitted = Math.min(whole(count), this.#reserved);
    this.#reserved = 0;
    for (let k = 0; k < submitted; k++) {
      const d = k * DESCRIPTOR_WORDS;
      const offset = descriptors[d];
      const length = descriptors[d + 1];
      if (length < 14 || length > largest || offset + length > memory.length) continue;
      this.writer.write(memory, offset, length, now);
    }
    return this.inner.txSubmit(count);
  }

  onReadable(callback: (() => void) | null): void {
    this.inner.onReadable(callback);
  }

  setSteering(steering: Steering): void {
    this.inner.setSteering(steering);
  }

  stats(): LinkStats {
    return {
      ...this.inner.stats(),
      captured: this.writer.frames,
      captureDropped: this.writer.dropped,
    };
  }

  async close(): Promise<void> {
    await this.inner.close();
    if (this.ownsWriter) await this.writer.close();
  }
}

/** A caller's count as a whole number of frames: NaN, negatives and fractions cannot corrupt. */
function whole(count: number): number {
  return count > 0 ? Math.floor(count) : 0;
}
