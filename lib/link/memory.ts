import { debuglog } from 'node:util';
import type { Clock, ClockTimer } from './clock.js';
import { DESCRIPTOR_WORDS, type Link, type LinkStats, type Steering } from './types.js';

const debug = debuglog('utcp');

/** Ethernet header (14 bytes) plus one 802.1Q tag (4 bytes). */
const MAX_LINK_HEADER = 18;
const MIN_FRAME = 14;

export interface MemoryLinkOptions {
  /** Drives delivery; a `VirtualClock` in tests. */
  clock: Clock;
  /** Largest IP packet, bytes. Default 1500. */
  mtu?: number;
  /** Bytes per frame buffer. Default: 2048, or more if the MTU needs it. */
  frameSize?: number;
  /** Bytes kept free before each frame. Default 256, as XDP leaves. */
  headroom?: number;
  /** Receive buffers per link: frames waiting for `rxBurst` plus those it handed out. */
  rxFrames?: number;
  /** Transmit buffers per link: frames being filled plus those still on the wire. */
  txFrames?: number;
  /** Largest burst either way. Default 64. */
  burstSize?: number;
  /** One-way delay, µs. Default 0: frames arrive at the same instant, but through the clock. */
  latencyUs?: number;
  /**
   * Wire speed in bits per second, 0 for unlimited. A frame occupies the wire for its length
   * in bits over the rate (no preamble, FCS or gap counted); frames queue behind each other.
   */
  rateBitsPerSecond?: number;
  names?: [string, string];
  macs?: [Uint8Array, Uint8Array];
}

/** Named reasons a memory link loses a frame, each counted in `stats().drops`. */
const DROP_REASONS = [
  'rx-ring-full',
  'not-steered',
  'link-closed',
  'tx-runt',
  'tx-oversize',
  'tx-outside-buffer',
] as const;
type DropReason = (typeof DROP_REASONS)[number];

/**
 * Two links joined back to back, as if by a cable: what one submits the other receives. Each
 * link owns its arena; both arenas are views into one `ArrayBuffer` so a frame crosses with
 * `copyWithin`, allocating nothing. Frames always cross through the clock, never inside
 * `txSubmit`, so a receiver's `onReadable` never runs inside the sender's call.
 */
export function createMemoryLinkPair(options: MemoryLinkOptions): [MemoryLink, MemoryLink] {
  const mtu = options.mtu ?? 1500;
  const headroom = options.headroom ?? 256;
  const frameSize =
    options.frameSize ??
    Math.max(2048, Math.ceil((mtu + MAX_LINK_HEADER + headroom) / 2048) * 2048);
  const rxFrames = options.rxFrames ?? 512;
  const txFrames = options.txFrames ?? 512;
  const burstSize = options.burstSize ?? 64;
  const latencyUs = options.latencyUs ?? 0;
  const rate = options.rateBitsPerSecond ?? 0;

  checkInteger('mtu', mtu, 68);
  checkInteger('headroom', headroom, 0);
  checkInteger('frameSize', frameSize, 64);
  checkInteger('rxFrames', rxFrames, 1);
  checkInteger('txFrames', txFrames, 1);
  checkInteger('burstSize', burstSize, 1);
  checkInteger('latencyUs', latencyUs, 0);
  if (!(rate >= 0)) throw new RangeError('rateBitsPerSecond must be 0 or more');
  if (frameSize - headroom < mtu + MAX_LINK_HEADER) {
    throw new RangeError(
      `frameSize ${frameSize} minus headroom ${headroom} cannot hold MTU ${mtu}`,
    );
  }

  const linkBytes = (rxFrames + txFrames) * frameSize;
  const buffer = new ArrayBuffer(2 * linkBytes);
  const names = options.names ?? ['mem0', 'mem1'];
  const macs = options.macs ?? [
    Uint8Array.of(0x02, 0, 0, 0, 0, 1),
    Uint8Array.of(0x02, 0, 0, 0, 0, 2),
  ];
  const shape = { mtu, headroom, frameSize, rxFrames, txFrames, burstSize, latencyUs, rate };
  const a = new MemoryLink(options.clock, buffer, 0, linkBytes, names[0], macs[0], shape);
  const b = new MemoryLink(options.clock, buffer, linkBytes, linkBytes, names[1], macs[1], shape);
  a.connect(b);
  b.connect(a);
  return [a, b];
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  }
}

interface Shape {
  mtu: number;
  headroom: number;
  frameSize: number;
  rxFrames: number;
  txFrames: number;
  burstSize: number;
  latencyUs: number;
  rate: number;
}

/**
 * One end of a memory pair. Buffers 0 .. rxFrames-1 of the arena receive, the rest transmit.
 * Every queue is a typed array used as a stack or ring of buffer indices.
 */
export class MemoryLink implements Link {
  readonly memory: Uint8Array;
  readonly frameSize: number;
  readonly headroom: number;
  readonly mtu: number;
  readonly burstSize: number;
  readonly rxDescriptors: Uint32Array;
  readonly txDescriptors: Uint32Array;

  readonly #clock: Clock;
  readonly #whole: Uint8Array;
  readonly #base: number;
  readonly #latencyUs: number;
  readonly #rate: number;
  #peer: MemoryLink | undefined;
  #closed = false;

  // Free receive buffers (a stack), received frames waiting (a ring), frames lent out.
  readonly #rxFree: Uint32Array;
  #rxFreeCount: number;
  readonly #rxLength: Uint32Array;
  readonly #rxReady: Uint32Array;
  #rxReadyHead = 0;
  #rxReadyCount = 0;
  readonly #rxHeld: Uint32Array;
  #rxHeldCount = 0;

  // Free transmit buffers (a stack), buffers lent by txAlloc, frames on the wire (a ring).
  readonly #txFree: Uint32Array;
  #txFreeCount: number;
  readonly #txReserved: Uint32Array;
  #txReservedCount = 0;
  readonly #wireBuffer: Uint32Array;
  readonly #wireOffset: Uint32Array;
  readonly #wireLength: Uint32Array;
  readonly #wireArrival: Float64Array;
  #wireHead = 0;
  #wireCount = 0;
  #wireFreeAt = 0;
  readonly #deliveryTimer: ClockTimer;

  #readable: (() => void) | null = null;
  #inReadable = false;
  #readableAgain = false;
  readonly #wakeTimer: ClockTimer;
  readonly #steering = new SteeringFilter();

  #rxFrameCount = 0;
  #rxByteCount = 0;
  #txFrameCount = 0;
  #txByteCount = 0;
  #wakeups = 0;
  readonly #drops: Record<DropReason, number>;

  constructor(
    clock: Clock,
    buffer: ArrayBuffer,
    base: number,
    bytes: number,
    readonly name: string,
    readonly mac: Uint8Array,
    shape: Shape,
  ) {
    this.#clock = clock;
    this.#whole = new Uint8Array(buffer);
    this.#base = base;
    this.memory = new Uint8Array(buffer, base, bytes);
    this.frameSize = shape.frameSize;
    this.headroom = shape.headroom;
    this.mtu = shape.mtu;
    this.burstSize = shape.burstSize;
    this.#latencyUs = shape.latencyUs;
    this.#rate = shape.rate;
    this.rxDescriptors = new Uint32Array(shape.burstSize * DESCRIPTOR_WORDS);
    this.txDescriptors = new Uint32Array(shape.burstSize * DESCRIPTOR_WORDS);

    this.#rxFree = new Uint32Array(shape.rxFrames);
    for (let i = 0; i < shape.rxFrames; i++) this.#rxFree[i] = shape.rxFrames - 1 - i;
    this.#rxFreeCount = shape.rxFrames;
    this.#rxLength = new Uint32Array(shape.rxFrames);
    this.#rxReady = new Uint32Array(shape.rxFrames);
    this.#rxHeld = new Uint32Array(shape.burstSize);

    const total = shape.rxFrames + shape.txFrames;
    this.#txFree = new Uint32Array(shape.txFrames);
    for (let i = 0; i < shape.txFrames; i++) this.#txFree[i] = total - 1 - i;
    this.#txFreeCount = shape.txFrames;
    this.#txReserved = new Uint32Array(shape.burstSize);
    this.#wireBuffer = new Uint32Array(shape.txFrames);
    this.#wireOffset = new Uint32Array(shape.txFrames);
    this.#wireLength = new Uint32Array(shape.txFrames);
    this.#wireArrival = new Float64Array(shape.txFrames);
    this.#deliveryTimer = clock.timer(() => this.#deliver());
    this.#wakeTimer = clock.timer(() => this.#wake());

    const drops = {} as Record<DropReason, number>;
    for (const reason of DROP_REASONS) drops[reason] = 0;
    this.#drops = drops;
  }

  /** @internal Joins this link to the other end of its pair. */
  connect(peer: MemoryLink): void {
    this.#peer = peer;
  }

  rxBurst(max: number): number {
    this.rxRelease();
    if (this.#closed) return 0;
    const count = Math.min(whole(max), this.burstSize, this.#rxReadyCount);
    const descriptors = this.rxDescriptors;
    const ringSize = this.#rxReady.length;
    for (let i = 0; i < count; i++) {
      const buffer = this.#rxReady[this.#rxReadyHead];
      this.#rxReadyHead = this.#rxReadyHead + 1 === ringSize ? 0 : this.#rxReadyHead + 1;
      this.#rxHeld[i] = buffer;
      descriptors[i * DESCRIPTOR_WORDS] = buffer * this.frameSize + this.headroom;
      descriptors[i * DESCRIPTOR_WORDS + 1] = this.#rxLength[buffer];
      descriptors[i * DESCRIPTOR_WORDS + 2] = 0;
    }
    this.#rxReadyCount -= count;
    this.#rxHeldCount = count;
    return count;
  }

  rxRelease(): void {
    for (let i = 0; i < this.#rxHeldCount; i++) this.#rxFree[this.#rxFreeCount++] = this.#rxHeld[i];
    this.#rxHeldCount = 0;
  }

  /** Buffers lent by an earlier `txAlloc` and never submitted go back first. */
  txAlloc(count: number): number {
    this.#returnReserved(0);
    if (this.#closed) return 0;
    const granted = Math.min(whole(count), this.burstSize, this.#txFreeCount);
    const descriptors = this.txDescriptors;
    const capacity = this.frameSize - this.headroom;
    for (let i = 0; i < granted; i++) {
      const buffer = this.#txFree[--this.#txFreeCount];
      this.#txReserved[i] = buffer;
      descriptors[i * DESCRIPTOR_WORDS] = buffer * this.frameSize + this.headroom;
      descriptors[i * DESCRIPTOR_WORDS + 1] = capacity;
      descriptors[i * DESCRIPTOR_WORDS + 2] = 0;
    }
    this.#txReservedCount = granted;
    return granted;
  }

  /** Returns how many frames went on the wire; invalid ones are counted as drops. */
  txSubmit(count: number): number {
    const submitted = Math.min(whole(count), this.#txReservedCount);
    const descriptors = this.txDescriptors;
    const now = this.#clock.now();
    let sent = 0;
    for (let i = 0; i < submitted; i++) {
      const buffer = this.#txReserved[i];
      const offset = descriptors[i * DESCRIPTOR_WORDS];
      const length = descriptors[i * DESCRIPTOR_WORDS + 1];
      const reason = this.#invalid(buffer, offset, length);
      if (reason !== undefined) {
        this.#drop(reason);
        this.#txFree[this.#txFreeCount++] = buffer;
        continue;
      }
      this.#putOnWire(buffer, offset, length, now);
      sent++;
    }
    this.#returnReserved(submitted);
    if (this.#wireCount > 0 && !this.#deliveryTimer.armed) {
      this.#deliveryTimer.start(this.#wireArrival[this.#wireHead]);
    }
    return sent;
  }

  /**
   * Wakes the reader once per delivery that brings frames, and once at registration if frames
   * already wait; a reader drains with `rxBurst` until it returns 0.
   */
  onReadable(callback: (() => void) | null): void {
    this.#readable = callback;
    if (callback !== null && this.#rxReadyCount > 0 && !this.#wakeTimer.armed) {
      this.#wakeTimer.start(this.#clock.now());
    }
  }

  setSteering(steering: Steering): void {
    this.#steering.set(steering);
  }

  stats(): LinkStats {
    return {
      rxFrames: this.#rxFrameCount,
      rxBytes: this.#rxByteCount,
      txFrames: this.#txFrameCount,
      txBytes: this.#txByteCount,
      drops: { ...this.#drops },
      wakeups: this.#wakeups,
      rxWaiting: this.#rxReadyCount,
      txOnWire: this.#wireCount,
    };
  }

  /**
   * Frames already submitted stay on the wire and reach the peer, as on a cable unplugged
   * after they left (a stack's last RSTs among them); frames waiting to be read here and
   * frames sent to this link later are dropped.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#readable = null;
    this.#wakeTimer.cancel();
    for (let i = 0; i < this.#rxReadyCount; i++) this.#drop('link-closed');
    this.#rxReadyCount = 0;
    return Promise.resolve();
  }

  #invalid(buffer: number, offset: number, length: number): DropReason | undefined {
    if (length < MIN_FRAME) return 'tx-runt';
    if (length > this.mtu + MAX_LINK_HEADER) return 'tx-oversize';
    const start = buffer * this.frameSize;
    if (offset < start || offset + length > start + this.frameSize) return 'tx-outside-buffer';
    return undefined;
  }

  #putOnWire(buffer: number, offset: number, length: number, now: number): void {
    let arrival = now + this.#latencyUs;
    if (this.#rate > 0) {
      // The wire carries one frame at a time: this one starts when the previous one ends.
      const start = Math.max(now, this.#wireFreeAt);
      this.#wireFreeAt = start + (length * 8 * 1e6) / this.#rate;
      arrival = Math.ceil(this.#wireFreeAt) + this.#latencyUs;
    }
    const ringSize = this.#wireBuffer.length;
    let slot = this.#wireHead + this.#wireCount;
    if (slot >= ringSize) slot -= ringSize;
    this.#wireBuffer[slot] = buffer;
    this.#wireOffset[slot] = offset;
    this.#wireLength[slot] = length;
    this.#wireArrival[slot] = arrival;
    this.#wireCount++;
    this.#txFrameCount++;
    this.#txByteCount += length;
  }

  #returnReserved(from: number): void {
    for (let i = from; i < this.#txReservedCount; i++) {
      this.#txFree[this.#txFreeCount++] = this.#txReserved[i];
    }
    this.#txReservedCount = 0;
  }

  /** Hands every frame whose arrival time has come to the peer, then sleeps till the next. */
  #deliver(): void {
    const peer = this.#peer as MemoryLink;
    const now = this.#clock.now();
    const ringSize = this.#wireBuffer.length;
    let delivered = 0;
    while (this.#wireCount > 0 && this.#wireArrival[this.#wireHead] <= now) {
      const head = this.#wireHead;
      if (peer.receive(this.#base + this.#wireOffset[head], this.#wireLength[head])) delivered++;
      this.#txFree[this.#txFreeCount++] = this.#wireBuffer[head];
      this.#wireHead = head + 1 === ringSize ? 0 : head + 1;
      this.#wireCount--;
    }
    if (this.#wireCount > 0) this.#deliveryTimer.start(this.#wireArrival[this.#wireHead]);
    if (delivered > 0) peer.#wake();
  }

  /** @internal Takes one frame from the wire; `start` is an offset into the shared buffer. */
  receive(start: number, length: number): boolean {
    if (this.#closed) {
      this.#drop('link-closed');
      return false;
    }
    if (!this.#steering.accepts(this.#whole, start, length)) {
      // On a real interface these frames would go on to the kernel; here nothing takes them.
      this.#drop('not-steered');
      return false;
    }
    if (this.#rxFreeCount === 0) {
      this.#drop('rx-ring-full');
      return false;
    }
    const buffer = this.#rxFree[--this.#rxFreeCount];
    const target = this.#base + buffer * this.frameSize + this.headroom;
    this.#whole.copyWithin(target, start, start + length);
    this.#rxLength[buffer] = length;
    const ringSize = this.#rxReady.length;
    let slot = this.#rxReadyHead + this.#rxReadyCount;
    if (slot >= ringSize) slot -= ringSize;
    this.#rxReady[slot] = buffer;
    this.#rxReadyCount++;
    this.#rxFrameCount++;
    this.#rxByteCount += length;
    return true;
  }

  /** Calls the readable callback; a wake-up raised while it runs is replayed after it returns. */
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
        this.#wakeups++;
        this.#readable?.();
      } while (this.#readableAgain && this.#readable !== null);
    } finally {
      this.#inReadable = false;
    }
  }

  #drop(reason: DropReason): void {
    this.#drops[reason]++;
    if (debug.enabled) debug('%s: dropped a frame: %s', this.name, reason);
  }
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_VLAN = 0x8100;

/**
 * The memory link's version of what the AF_XDP program does in 'addresses' mode: take IPv4
 * packets for one of our addresses and ARP whose target is one of them. It reads only the
 * bytes it needs, so it needs no full parser.
 */
class SteeringFilter {
  #all = true;
  #addresses = new Uint32Array(0);

  set(steering: Steering): void {
    if (steering.mode === 'all') {
      this.#all = true;
      return;
    }
    if (steering.mode !== 'addresses') throw new TypeError('unknown steering mode');
    this.#addresses = Uint32Array.from(steering.ipv4, parseIPv4);
    this.#all = false;
  }

  accepts(bytes: Uint8Array, start: number, length: number): boolean {
    if (this.#all) return true;
    const end = start + length;
    if (length < MIN_FRAME) return false;
    let type = (bytes[start + 12] << 8) | bytes[start + 13];
    let network = start + 14;
    if (type === ETHERTYPE_VLAN) {
      if (length < MIN_FRAME + 4) return false;
      type = (bytes[start + 16] << 8) | bytes[start + 17];
      network += 4;
    }
    let address: number;
    if (type === ETHERTYPE_IPV4) {
      // RFC 791: the destination address ends the fixed 20-byte header.
      if (network + 20 > end || bytes[network] >> 4 !== 4) return false;
      address = readUint32(bytes, network + 16);
    } else if (type === ETHERTYPE_ARP) {
      // RFC 826 for IPv4 over Ethernet: hardware length 6, protocol length 4, target at 24.
      if (network + 28 > end) return false;
      const protocol = (bytes[network + 2] << 8) | bytes[network + 3];
      if (protocol !== ETHERTYPE_IPV4 || bytes[network + 4] !== 6 || bytes[network + 5] !== 4) {
        return false;
      }
      address = readUint32(bytes, network + 24);
    } else {
      return false;
    }
    const addresses = this.#addresses;
    for (let i = 0; i < addresses.length; i++) if (addresses[i] === address) return true;
    return false;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function parseIPv4(text: string): number {
  const parts = text.split('.');
  if (parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) < 256)) {
    return parts.reduce((value, part) => value * 256 + Number(part), 0);
  }
  const error = new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  throw Object.assign(error, { code: 'ERR_INVALID_IP_ADDRESS' });
}

/** A caller's count as a whole number of frames: NaN, negatives and fractions cannot corrupt. */
function whole(count: number): number {
  return count > 0 ? Math.floor(count) : 0;
}
