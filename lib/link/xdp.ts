import { debuglog } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative } from './native.js';
import { DESCRIPTOR_WORDS, type Link, type LinkStats, type Steering } from './types.js';

const debug = debuglog('utcp');

/**
 * AF_XDP link: one socket per (interface, queue), all sharing one UMEM that lives in a
 * SharedArrayBuffer, behind a steering XDP program attached through a BPF link (it goes away
 * with the last fd, so with the process). Kernel reference: Documentation/networking/af_xdp.rst.
 *
 * Frame layout: the UMEM is cut into `frameSize` chunks; each queue owns `framesPerQueue` of
 * them, half lent to the kernel for receiving, half for sending. A received frame starts 256
 * bytes into its chunk (XDP_PACKET_HEADROOM); a frame to send starts `headroom` bytes in.
 */
export interface XdpOptions {
  ifname: string;
  /** RX/TX queue ids to open, one socket each (default [0]). */
  queues?: readonly number[];
  /** Path of a network namespace handle (`/run/netns/NAME`); default the current one. */
  netns?: string;
  steering?: Steering;
  /** UMEM chunk size, 2048 or 4096 (default 4096: frames up to 3840 bytes). */
  frameSize?: 2048 | 4096;
  /** UMEM chunks per queue (default 4096). */
  framesPerQueue?: number;
  /** Entries in each of the four rings of a socket, a power of two (default 2048). */
  ringSize?: number;
  /** Largest burst (default 64). */
  burstSize?: number;
  /** 'auto' tries zero-copy, then copy (default); veth offers copy only. */
  bindMode?: 'auto' | 'copy' | 'zerocopy';
  /** Attach the program in generic (skb) mode even where the driver has XDP support. */
  genericXdp?: boolean;
  /** Ask the kernel to busy-poll the queue from the burst calls instead of interrupts. */
  busyPoll?: boolean;
  /**
   * Verify IPv4 and TCP/UDP/ICMP checksums of received frames in the burst call and set
   * RX_FLAG_CHECKSUM_VERIFIED on good ones (default true). TX_FLAG_FILL_CHECKSUMS on a TX
   * descriptor is always honoured.
   */
  verifyChecksums?: boolean;
  /** Attempts when a queue is busy (another socket still bound) before EBUSY (default 5). */
  busyRetries?: number;
}

interface NativeXdpProgram {
  readonly attachMode: 'native' | 'generic';
  readonly ifindex: number;
  setSocket(queue: number, fd: number): void;
  setSteering(all: boolean, addresses: Uint8Array): void;
  close(): void;
}

/** The addon's socket: the burst calls of the Link contract, plus the benchmark loop. */
export interface NativeXdpSocket {
  readonly fd: number;
  readonly bindMode: 'copy' | 'zerocopy';
  rxBurst(max: number): number;
  rxRelease(): void;
  txAlloc(count: number): number;
  txSubmit(count: number): number;
  txSubmitAlloc(count: number, next: number): number;
  onReadable(callback: (() => void) | null): void;
  stats(): Record<string, number>;
  close(): void;
  benchLoop(direction: 'rx' | 'tx', seconds: number, batch: number, frameLength: number): number;
}

interface XdpAddon {
  XdpProgram: new (
    netns: string,
    ifname: string,
    queueCount: number,
    generic: boolean,
  ) => NativeXdpProgram;
  XdpSocket: new (options: object) => NativeXdpSocket;
  pageOffset(bytes: Uint8Array): number;
  pageSize: number;
  interfaceInfo(netns: string, ifname: string): { ifindex: number; mtu: number; mac: Uint8Array };
}

export function xdpAddon(): XdpAddon {
  return loadNative() as unknown as XdpAddon;
}

/** Bytes the kernel leaves before each received frame in copy mode (XDP_PACKET_HEADROOM). */
const RX_HEADROOM = 256;
/** Bytes left free before each frame to send. */
const TX_HEADROOM = 256;

/** IPv4 addresses in dotted form to 4-byte keys in network order, back to back. */
export function ipv4Keys(addresses: readonly string[]): Uint8Array {
  const keys = new Uint8Array(4 * addresses.length);
  addresses.forEach((address, i) => {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      throw Object.assign(new Error(`not an IPv4 address: ${address}`), { code: 'EINVAL' });
    }
    keys.set(parts, 4 * i);
  });
  return keys;
}

/** The program and UMEM several queue links share; freed when the last link closes. */
class XdpGroup {
  open = 0;
  constructor(
    readonly program: NativeXdpProgram,
    readonly buffer: SharedArrayBuffer,
    readonly memory: Uint8Array,
  ) {}

  setSteering(steering: Steering): void {
    const all = steering.mode === 'all';
    this.program.setSteering(all, ipv4Keys(all ? [] : steering.ipv4));
  }

  release(): void {
    if (--this.open === 0) this.program.close();
  }
}

export class XdpLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  readonly memory: Uint8Array;
  /** The SharedArrayBuffer under `memory`, for handing to worker threads. */
  readonly sharedBuffer: SharedArrayBuffer;
  readonly frameSize: number;
  readonly headroom = TX_HEADROOM;
  readonly rxDescriptors: Uint32Array;
  readonly txDescriptors: Uint32Array;
  readonly burstSize: number;
  readonly fillsChecksums = true;
  readonly queue: number;
  /** 'copy' or 'zerocopy', as the kernel bound the socket. */
  readonly bindMode: string;
  /** 'native' (driver) or 'generic' XDP. */
  readonly attachMode: string;
  /** The addon's socket, for benchmarks that drive the rings from C. */
  readonly socket: NativeXdpSocket;
  #group: XdpGroup;
  #closed = false;
  /** Frames reserved by the last txSubmit for the next txAlloc. */
  #ready = 0;

  constructor(
    info: { ifname: string; mtu: number; mac: Uint8Array; queue: number; frameSize: number },
    socket: NativeXdpSocket,
    group: XdpGroup,
    descriptors: { rx: Uint32Array; tx: Uint32Array },
  ) {
    this.name = `xdp:${info.ifname}:${info.queue}`;
    this.mtu = info.mtu;
    this.mac = info.mac;
    this.queue = info.queue;
    this.frameSize = info.frameSize;
    this.socket = socket;
    this.#group = group;
    this.memory = group.memory;
    this.sharedBuffer = group.buffer;
    this.rxDescriptors = descriptors.rx;
    this.txDescriptors = descriptors.tx;
    this.burstSize = descriptors.rx.length / DESCRIPTOR_WORDS;
    this.bindMode = socket.bindMode;
    this.attachMode = group.program.attachMode;
  }

  rxBurst(max: number): number {
    return this.socket.rxBurst(max);
  }

  rxRelease(): void {
    this.socket.rxRelease();
  }

  txAlloc(count: number): number {
    // The previous txSubmit already reserved a burst and wrote its descriptors.
    const ready = this.#ready;
    const wanted = count >>> 0;
    this.#ready = 0;
    if (wanted <= ready) return wanted;
    return this.socket.txAlloc(wanted);
  }

  txSubmit(count: number): number {
    // Submit this burst and reserve the next in one native call.
    const result = this.socket.txSubmitAlloc(count, this.burstSize);
    const sent = result % 65536;
    this.#ready = (result - sent) / 65536;
    // The TX ring has a slot for every TX frame, so only a frame outside its buffer, shorter
    // than an Ethernet header or longer than the MTU allows is refused.
    if (sent < count) debug('%s: %d frames dropped (tx-bad-descriptor)', this.name, count - sent);
    return sent;
  }

  onReadable(callback: (() => void) | null): void {
    if (this.#closed) return;
    this.socket.onReadable(callback);
  }

  /** Steering is per interface: it applies to every queue link sharing this program. */
  setSteering(steering: Steering): void {
    this.#group.setSteering(steering);
  }

  stats(): LinkStats {
    const s = this.socket.stats();
    return {
      rxFrames: s.rxFrames,
      rxBytes: s.rxBytes,
      txFrames: s.txFrames,
      txBytes: s.txBytes,
      drops: {
        'rx-ring-full': s.rxRingFull ?? 0,
        'rx-fill-ring-empty': s.rxFillRingEmpty ?? 0,
        'rx-dropped': s.rxDropped ?? 0,
        'rx-invalid-descriptor': s.rxInvalidDescriptors ?? 0,
        'tx-invalid-descriptor': s.txInvalidDescriptors ?? 0,
        'tx-bad-descriptor': s.txBadDescriptor,
      },
      queue: this.queue,
      bindMode: this.bindMode,
      attachMode: this.attachMode,
      rxWakeups: s.rxWakeups,
      txWakeups: s.txWakeups,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#group.program.setSocket(this.queue, -1);
    this.socket.close();
    this.#group.release();
  }
}

/** Opens one AF_XDP link per queue of `options.queues`, sharing one UMEM and one program. */
export async function openXdpLinks(options: XdpOptions): Promise<XdpLink[]> {
  const addon = xdpAddon();
  const queues = options.queues ?? [0];
  const netns = options.netns ?? '';
  const frameSize = options.frameSize ?? 4096;
  const framesPerQueue = options.framesPerQueue ?? 4096;
  const ringSize = options.ringSize ?? 2048;
  const burstSize = options.burstSize ?? 64;
  if (queues.length === 0) throw Object.assign(new Error('no queues'), { code: 'EINVAL' });

  const info = addon.interfaceInfo(netns, options.ifname);
  const program = new addon.XdpProgram(
    netns,
    options.ifname,
    Math.max(...queues) + 1,
    options.genericXdp ?? false,
  );
  const umemLength = queues.length * framesPerQueue * frameSize;
  const buffer = new SharedArrayBuffer(umemLength + addon.pageSize);
  const start = addon.pageOffset(new Uint8Array(buffer));
  const group = new XdpGroup(program, buffer, new Uint8Array(buffer, start, umemLength));
  const links: XdpLink[] = [];
  try {
    group.setSteering(options.steering ?? { mode: 'all' });
    let owner: NativeXdpSocket | undefined;
    for (const [index, queue] of queues.entries()) {
      const rx = new Uint32Array(new SharedArrayBuffer(4 * DESCRIPTOR_WORDS * burstSize));
      const tx = new Uint32Array(new SharedArrayBuffer(4 * DESCRIPTOR_WORDS * burstSize));
      const socket = await bindWithRetry(addon, options.busyRetries ?? 5, {
        netns,
        ifname: options.ifname,
        queue,
        memory: group.memory,
        frameSize,
        firstFrame: index * framesPerQueue,
        frameCount: framesPerQueue,
        ringSize,
        headroom: TX_HEADROOM,
        // Ethernet header plus one 802.1Q tag around an MTU-sized packet.
        maxFrameLength: info.mtu + 18,
        rxDescriptors: rx,
        txDescriptors: tx,
        shareWith: owner,
        mode: options.bindMode ?? 'auto',
        busyPoll: options.busyPoll ?? false,
        verifyChecksums: options.verifyChecksums ?? true,
      });
      owner ??= socket;
      group.open++;
      const link = new XdpLink(
        { ifname: options.ifname, mtu: info.mtu, mac: info.mac, queue, frameSize },
        socket,
        group,
        { rx, tx },
      );
      links.push(link);
      program.setSocket(queue, socket.fd);
      debug('xdp %s bound %s, program %s', link.name, link.bindMode, link.attachMode);
    }
  } catch (error) {
    for (const link of links) await link.close();
    if (group.open === 0) program.close();
    throw error;
  }
  return links;
}

/** Opens an AF_XDP link on one queue (default 0). */
export async function openXdpLink(options: XdpOptions & { queue?: number }): Promise<XdpLink> {
  const [link] = await openXdpLinks({ ...options, queues: [options.queue ?? 0] });
  return link;
}

async function bindWithRetry(
  addon: XdpAddon,
  retries: number,
  options: object,
): Promise<NativeXdpSocket> {
  for (let attempt = 0; ; attempt++) {
    try {
      return new addon.XdpSocket(options);
    } catch (error) {
      // A queue stays busy for a moment after its previous socket closed (the kernel frees
      // the binding from deferred work).
      if ((error as { code?: string }).code !== 'EBUSY' || attempt >= retries) throw error;
      debug('xdp queue busy, retrying (%d)', attempt + 1);
      await sleep(50 * (attempt + 1));
    }
  }
}

export { RX_HEADROOM as XDP_RX_HEADROOM };
