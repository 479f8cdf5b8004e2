import { debuglog } from 'node:util';
import { loadNative } from './native.js';
import { DESCRIPTOR_WORDS, type Link, type LinkStats, type Steering } from './types.js';
import { openXdpLink, type XdpLink, type XdpOptions } from './xdp.js';

const debug = debuglog('utcp');

/**
 * AF_PACKET link: a TPACKET_V3 receive ring of blocks and a transmit ring of fixed slots, one
 * mapping lent to JavaScript as `memory` (kernel reference: Documentation/networking/
 * packet_mmap.rst). Works on any interface with CAP_NET_RAW alone.
 *
 * Limitation: the kernel still receives every frame this link sees (AF_PACKET taps, it does
 * not steal), so the stack's addresses must be ones the kernel does not hold; fixing it needs
 * AF_XDP, or a tc/netfilter drop rule per address.
 * Limitation: a receive block reaches user space when full or 1 ms after its first frame, so
 * a lightly loaded link adds up to about a millisecond; fixing it needs TPACKET_V2 frames.
 * Limitation: the kernel strips an 802.1Q tag into the ring header and it is not passed on;
 * fixing it needs the tag re-inserted or passed as descriptor flags.
 */
export interface PacketOptions {
  ifname: string;
  /** Path of a network namespace handle (`/run/netns/NAME`); default the current one. */
  netns?: string;
  steering?: Steering;
  /** Receive ring: blocks of `blockSize` bytes (default 32 of 256 KiB). */
  blockSize?: number;
  blockCount?: number;
  /** Transmit ring: `txFrames` slots of `frameSize` bytes (default 1024 of 4096). */
  frameSize?: number;
  txFrames?: number;
  burstSize?: number;
  /** As for AF_XDP: verify received checksums in the burst call (default true). */
  verifyChecksums?: boolean;
}

interface NativePacketSocket {
  readonly memory: ArrayBuffer | null;
  readonly headroom: number;
  rxBurst(max: number): number;
  rxRelease(): void;
  txAlloc(count: number): number;
  txSubmit(count: number): number;
  onReadable(callback: (() => void) | null): void;
  setFilter(program: Uint8Array | null): void;
  stats(): Record<string, number>;
  close(): void;
}

interface PacketAddon {
  PacketSocket: new (options: object) => NativePacketSocket;
  interfaceInfo(netns: string, ifname: string): { ifindex: number; mtu: number; mac: Uint8Array };
}

// Classic BPF opcodes (linux/filter.h).
const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;
const ACCEPT = 0x40000;
/** Jump offsets in classic BPF are one byte, which bounds the address list. */
export const PACKET_MAX_ADDRESSES = 100;

/**
 * A classic BPF socket filter taking IPv4 frames to `addresses` and ARP frames whose target
 * protocol address is one of them (RFC 826); each instruction is 8 bytes (struct sock_filter).
 */
export function addressFilter(addresses: readonly string[]): Uint8Array {
  const n = addresses.length;
  if (n > PACKET_MAX_ADDRESSES) {
    throw Object.assign(new Error(`at most ${PACKET_MAX_ADDRESSES} addresses`), { code: 'E2BIG' });
  }
  const words = addresses.map((address) => {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      throw Object.assign(new Error(`not an IPv4 address: ${address}`), { code: 'EINVAL' });
    }
    return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
  });
  const code: [number, number, number, number][] = [];
  const accept = 7 + 2 * n;
  code.push([LD_H_ABS, 0, 0, 12]);
  code.push([JEQ_K, n + 3, 0, 0x0806]);
  code.push([JEQ_K, 0, n + 1, 0x0800]);
  code.push([LD_W_ABS, 0, 0, 14 + 16]);
  words.forEach((word, i) => code.push([JEQ_K, accept - (5 + i), 0, word]));
  code.push([RET_K, 0, 0, 0]);
  code.push([LD_W_ABS, 0, 0, 14 + 24]);
  words.forEach((word, i) => code.push([JEQ_K, accept - (7 + n + i), 0, word]));
  code.push([RET_K, 0, 0, 0]);
  code.push([RET_K, 0, 0, ACCEPT]);
  const bytes = new Uint8Array(8 * code.length);
  const view = new DataView(bytes.buffer);
  code.forEach(([op, jt, jf, k], i) => {
    view.setUint16(8 * i, op, true);
    bytes[8 * i + 2] = jt;
    bytes[8 * i + 3] = jf;
    view.setUint32(8 * i + 4, k, true);
  });
  return bytes;
}

export class PacketLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  readonly memory: Uint8Array;
  readonly frameSize: number;
  readonly headroom: number;
  readonly rxDescriptors: Uint32Array;
  readonly txDescriptors: Uint32Array;
  readonly burstSize: number;
  readonly fillsChecksums = true;
  #socket: NativePacketSocket;
  #closed = false;

  constructor(options: PacketOptions) {
    const addon = loadNative() as unknown as PacketAddon;
    const netns = options.netns ?? '';
    const burstSize = options.burstSize ?? 64;
    const info = addon.interfaceInfo(netns, options.ifname);
    this.rxDescriptors = new Uint32Array(DESCRIPTOR_WORDS * burstSize);
    this.txDescriptors = new Uint32Array(DESCRIPTOR_WORDS * burstSize);
    this.frameSize = options.frameSize ?? 4096;
    this.#socket = new addon.PacketSocket({
      netns,
      ifname: options.ifname,
      blockSize: options.blockSize ?? 256 * 1024,
      blockCount: options.blockCount ?? 32,
      frameSize: this.frameSize,
      txFrames: options.txFrames ?? 1024,
      rxDescriptors: this.rxDescriptors,
      txDescriptors: this.txDescriptors,
      verifyChecksums: options.verifyChecksums ?? true,
      // Ethernet header plus one 802.1Q tag around an MTU-sized packet.
      maxFrameLength: info.mtu + 18,
    });
    this.name = `packet:${options.ifname}`;
    this.mtu = info.mtu;
    this.mac = info.mac;
    this.memory = new Uint8Array(this.#socket.memory!);
    this.headroom = this.#socket.headroom;
    this.burstSize = burstSize;
    if (options.steering) this.setSteering(options.steering);
  }

  rxBurst(max: number): number {
    return this.#socket.rxBurst(max);
  }

  rxRelease(): void {
    this.#socket.rxRelease();
  }

  txAlloc(count: number): number {
    return this.#socket.txAlloc(count);
  }

  txSubmit(count: number): number {
    const sent = this.#socket.txSubmit(count);
    if (sent < count) debug('%s: %d frames dropped (tx-bad-descriptor)', this.name, count - sent);
    return sent;
  }

  onReadable(callback: (() => void) | null): void {
    if (!this.#closed) this.#socket.onReadable(callback);
  }

  setSteering(steering: Steering): void {
    this.#socket.setFilter(steering.mode === 'all' ? null : addressFilter(steering.ipv4));
  }

  stats(): LinkStats {
    const s = this.#socket.stats();
    return {
      rxFrames: s.rxFrames,
      rxBytes: s.rxBytes,
      txFrames: s.txFrames,
      txBytes: s.txBytes,
      drops: {
        'rx-ring-full': s.rxRingFull ?? 0,
        'tx-bad-descriptor': s.txBadDescriptor,
        'tx-send-error': s.txSendErrors,
      },
      kind: 'packet',
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}

export function openPacketLink(options: PacketOptions): PacketLink {
  return new PacketLink(options);
}

/**
 * Opens the fastest link the interface and the process's capabilities allow: AF_XDP, else
 * AF_PACKET with a process warning (code UTCP_XDP_FALLBACK) that gives the reason, also
 * handed to `onFallback` when given.
 */
export async function openLink(
  options: XdpOptions & { queue?: number; onFallback?: (reason: string) => void },
): Promise<Link> {
  let link: XdpLink;
  try {
    link = await openXdpLink(options);
  } catch (error) {
    const e = error as Error & { code?: string };
    // Without the interface AF_PACKET cannot help either.
    if (e.code === 'ENODEV') throw e;
    process.emitWarning(`AF_XDP unavailable on ${options.ifname} (${e.message}); using AF_PACKET`, {
      code: 'UTCP_XDP_FALLBACK',
    });
    debug('xdp fallback: %s', e.message);
    options.onFallback?.(e.message);
    return openPacketLink({
      ifname: options.ifname,
      netns: options.netns,
      steering: options.steering,
      burstSize: options.burstSize,
      verifyChecksums: options.verifyChecksums,
    });
  }
  return link;
}
