// A deterministic network of two TCP cores on virtual time, over the project's link layer. Each
// core owns one end of an in-memory link pair wrapped in the seeded impairment wrapper; its
// segments leave as Ethernet + IPv4 + TCP frames written with the wire module, and frames that
// arrive are parsed (both checksums verified) before the core sees them. One VirtualClock
// drives the links; the run loop moves it to the next link timer or core deadline.

import { VirtualClock } from '../../lib/link/clock.js';
import {
  impair,
  type ImpairedLink,
  type Impairment as LinkImpairment,
} from '../../lib/link/impair.js';
import { createMemoryLinkPair, type MemoryLink } from '../../lib/link/memory.js';
import { DESCRIPTOR_WORDS } from '../../lib/link/types.js';
import { TcpCore, TcpEvent, type OutboundSegment, type TcpEventKind } from '../../lib/tcp/core.js';
import type { TcpConnection } from '../../lib/tcp/connection.js';
import type { TcpParams } from '../../lib/tcp/params.js';
import { ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import { ETHERTYPE_IPV4, EthernetHeader, readMac, writeEthernet } from '../../lib/wire/ethernet.js';
import { Frame, parseFrame } from '../../lib/wire/frame.js';
import { Ipv4Header, PROTOCOL_TCP, writeIpv4 } from '../../lib/wire/ipv4.js';
import { fillTcpChecksum, writeTcp } from '../../lib/wire/tcp.js';

/** Small seeded PRNG (mulberry32): the same seed gives the same run. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** What happens to every frame either node sends; see `linkImpairment` for the mapping. */
export interface Impairment {
  /** Probability that a frame is lost. */
  loss: number;
  /** Probability that a frame is delivered twice. */
  duplicate: number;
  /** Probability that a frame is held back `reorderDelay` µs more, so later ones overtake. */
  reorder: number;
  reorderDelay: number;
  /** One-way delay in microseconds. */
  delay: number;
  /** Probability that one bit of the frame is flipped (caught by a checksum). */
  corrupt: number;
  /** Probability that an ECN-capable frame is marked CE instead of being lost (RFC 3168). */
  congestionMark: number;
  /** Link rate in bytes per microsecond (0: infinite). */
  rate: number;
}

export const noImpairment: Impairment = {
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelay: 0,
  delay: 1000,
  corrupt: 0,
  congestionMark: 0,
  rate: 0,
};

/**
 * The wrapper's terms for an impairment. Where they differ from what this simulator used to
 * do with its own queue of bare segments:
 * - a reordered frame is held back exactly `reorderDelay` µs rather than a random time up to
 *   it; it is still overtaken by the frames sent after it within that time;
 * - a duplicate goes through delay, reordering and the bottleneck on its own, rather than
 *   trailing its original by a random time up to `reorderDelay`;
 * - the rate counts the whole frame (Ethernet and IPv4 headers included) instead of the TCP
 *   segment plus 40 bytes, and the bottleneck's queue is made large enough never to fill, so
 *   that a rate only delays frames, as before, and adds no losses of its own.
 */
function linkImpairment(impairment: Impairment): LinkImpairment {
  return {
    loss: impairment.loss,
    duplicate: impairment.duplicate,
    reorder: impairment.reorder,
    reorderDelayUs: Math.max(1, impairment.reorderDelay),
    delayUs: impairment.delay,
    corrupt: impairment.corrupt,
    congestionMark: impairment.congestionMark,
    rateBitsPerSecond: impairment.rate * 8e6,
    queueBytes: Number.MAX_SAFE_INTEGER,
  };
}

/** Buffers each way in each impairment wrapper: more than three connections' windows fill. */
const IMPAIRMENT_FRAMES = 512;
/** Locally administered unicast addresses, one per end of the pair; there is no ARP. */
const MACS: [Uint8Array, Uint8Array] = [
  Uint8Array.of(0x02, 0, 0, 0, 0, 1),
  Uint8Array.of(0x02, 0, 0, 0, 0, 2),
];
const IPV4_HEADER_LENGTH = 20;
/** The path MTU the cores assume (their default `mtu`). */
const PATH_MTU = 1500;

export interface NodeEvent {
  conn: TcpConnection;
  kind: TcpEventKind;
}

/** A frame that reached a node but not its core, and why. */
type NodeDropReason = 'not-our-mac' | 'not-tcp' | 'not-our-address' | 'no-transmit-buffer';

export class SimNode {
  readonly core: TcpCore;
  /** Events since the application last looked (delivered after each core call). */
  readonly pending: NodeEvent[] = [];
  readonly log: string[] = [];
  /** Frames dropped between the link and the core; malformed ones are the core's to count. */
  readonly drops: Record<NodeDropReason, number> = {
    'not-our-mac': 0,
    'not-tcp': 0,
    'not-our-address': 0,
    'no-transmit-buffer': 0,
  };
  private readonly mac: number;
  private readonly ethernet = new EthernetHeader();
  private readonly ipv4 = new Ipv4Header();
  private readonly frame = new Frame();
  private identification = 0;

  constructor(
    readonly network: SimNetwork,
    readonly address: number,
    readonly link: ImpairedLink,
    peerMac: Uint8Array,
    secretSeed: number,
    params: Partial<TcpParams>,
  ) {
    const secret = new Uint8Array(16);
    for (let i = 0; i < 16; i++) secret[i] = (secretSeed * 31 + i * 7) & 0xff;
    this.core = new TcpCore(
      {
        transmit: (segment) => this.transmit(segment),
        event: (conn, kind) => this.pending.push({ conn, kind }),
      },
      { secret, params, initialSequenceNumber: network.isn },
    );
    this.mac = readMac(link.mac, 0);
    this.ethernet.src = this.mac;
    this.ethernet.dst = readMac(peerMac, 0);
    this.ethernet.etherType = ETHERTYPE_IPV4;
    this.ipv4.dontFragment = true;
    this.ipv4.protocol = PROTOCOL_TCP;
    link.onReadable(() => this.receive());
  }

  /** Writes one segment as a frame into a transmit buffer of the link and sends it. */
  private transmit(seg: OutboundSegment): void {
    const network = this.network;
    network.sent++;
    network.traceSegment(seg);
    const link = this.link;
    if (link.txAlloc(1) === 0) {
      // All the wrapper's buffers hold frames still delayed: lost, as on a full device queue.
      this.drops['no-transmit-buffer']++;
      return;
    }
    const memory = link.memory;
    const start = link.txDescriptors[0];
    const h = seg.header;
    const segmentLength = h.headerLength + seg.payloadLength;
    const ip = this.ipv4;
    ip.tos = seg.ecn;
    ip.totalLength = IPV4_HEADER_LENGTH + segmentLength;
    ip.identification = this.identification;
    this.identification = (this.identification + 1) & 0xffff;
    ip.src = seg.localAddress;
    ip.dst = seg.remoteAddress;

    let at = start + writeEthernet(memory, start, this.ethernet);
    at += writeIpv4(memory, at, ip);
    writeTcp(memory, at, h);
    memory.set(
      seg.payload.subarray(seg.payloadOffset, seg.payloadOffset + seg.payloadLength),
      at + h.headerLength,
    );
    fillTcpChecksum(
      memory,
      at,
      segmentLength,
      ipv4PseudoHeaderSum(ip.src, ip.dst, PROTOCOL_TCP, segmentLength),
    );
    link.txDescriptors[1] = at + segmentLength - start;
    if (link.txSubmit(1) !== 1) {
      throw new Error(`the link refused a frame of ${at + segmentLength - start} bytes`);
    }
  }

  /** Reads every frame waiting on the link; each stays valid until the next `rxBurst`. */
  private receive(): void {
    const link = this.link;
    const descriptors = link.rxDescriptors;
    for (let count = link.rxBurst(link.burstSize); count > 0;) {
      for (let k = 0; k < count; k++) {
        const d = k * DESCRIPTOR_WORDS;
        this.deliver(link.memory, descriptors[d], descriptors[d + 1]);
      }
      count = link.rxBurst(link.burstSize);
    }
  }

  private deliver(memory: Uint8Array, offset: number, length: number): void {
    const frame = this.frame;
    const reason = parseFrame(memory, offset, length, frame);
    const core = this.core;
    if (reason === 'ipv4-bad-checksum' || reason === 'tcp-bad-checksum') {
      core.countInputError('checksum', reason);
    } else if (reason !== undefined) {
      core.countInputError('malformed', reason);
    } else if (frame.ethernet.dst !== this.mac) {
      // A bit flipped in the destination address; a real interface filters it out.
      this.drops['not-our-mac']++;
    } else if (frame.kind !== 'tcp') {
      // A bit flipped in the EtherType can turn a frame into something other than IPv4.
      this.drops['not-tcp']++;
    } else if (frame.ipv4.dst !== this.address) {
      this.drops['not-our-address']++;
    } else {
      const ip = frame.ipv4;
      core.input(this.network.now, frame.tcp, memory, ip.src, ip.dst, ip.tos & 3);
    }
    this.network.onEvents(this);
  }
}

export class SimNetwork {
  readonly clock = new VirtualClock();
  readonly nodes: SimNode[] = [];
  /** The two ends of the cable; node i owns end i. */
  private readonly ends: [ImpairedLink, ImpairedLink];
  private readonly inner: [MemoryLink, MemoryLink];
  /** Segments the cores handed to the network. */
  sent = 0;
  steps = 0;
  trace: string[] = [];
  /** A livelock (no progress in virtual time) shows up as too many steps. */
  stepBudget = 500_000;
  /** ISN override for every node (undefined: RFC 6528). */
  isn: ((now: number, conn: TcpConnection) => number) | undefined = undefined;
  /** Called after every core call so applications can react to events. */
  onEvents: (node: SimNode) => void = () => {};

  constructor(
    seed: number,
    readonly impairment: Impairment,
  ) {
    const clock = this.clock;
    // The pair itself adds nothing: no latency, no rate; the wrappers do all of it. Receive
    // rings as large as transmit rings: whatever one end has on the wire fits in the other's.
    this.inner = createMemoryLinkPair({
      clock,
      mtu: PATH_MTU,
      rxFrames: 256,
      txFrames: 256,
      macs: MACS,
    });
    const tx = linkImpairment(impairment);
    const frames = IMPAIRMENT_FRAMES;
    this.ends = [
      impair(this.inner[0], { clock, seed: (2 * seed) >>> 0, tx, frames }),
      impair(this.inner[1], { clock, seed: (2 * seed + 1) >>> 0, tx, frames }),
    ];
    // Until a node takes an end, what reaches it is read and dropped, as by a host without TCP.
    for (const end of this.ends) end.onReadable(() => discard(end));
  }

  get now(): number {
    return this.clock.now();
  }

  addNode(address: number, params: Partial<TcpParams>): SimNode {
    const index = this.nodes.length;
    if (index === 2) throw new Error('the simulated network is one cable: two nodes at most');
    const node = new SimNode(
      this,
      address,
      this.ends[index],
      MACS[1 - index],
      address ^ 0x5a5a,
      params,
    );
    this.nodes.push(node);
    return node;
  }

  /** @internal */
  traceSegment(seg: OutboundSegment): void {
    if (!(globalThis as Record<string, unknown>).SIMDEBUG) return;
    const h = seg.header;
    const side = seg.localAddress === 0xc6120001 ? 'C' : 'S';
    const flags = h.flags.toString(16);
    this.trace.push(
      `${this.now} ${side}${h.srcPort}>${h.dstPort} f${flags} s${h.seq} a${h.ack} w${h.window}` +
        ` l${seg.payloadLength}`,
    );
    if (this.trace.length > 40) this.trace.shift();
  }

  /**
   * Frames the links still hold (delayed, queued, on the wire, waiting to be read) and link
   * timers still armed; both 0 once the network is quiet.
   */
  get framesHeld(): number {
    let held = 0;
    for (let i = 0; i < 2; i++) {
      const outer = this.ends[i].stats();
      const inner = this.inner[i].stats();
      held += (outer.txHeld as number) + (outer.rxHeld as number);
      held += (inner.rxWaiting as number) + (inner.txOnWire as number);
    }
    return held;
  }

  /**
   * Frames delivered to an end but never read, taken off the link to count them: the nodes
   * read every frame as it arrives, so this is 0 unless a wake-up went missing.
   */
  takeUnread(): number {
    let unread = 0;
    for (const end of this.ends) {
      for (let count = end.rxBurst(end.burstSize); count > 0; count = end.rxBurst(end.burstSize)) {
        unread += count;
      }
    }
    return unread;
  }

  get timersArmed(): number {
    return this.clock.pending;
  }

  /** Frames the links dropped, by reason (impairment losses among them). */
  linkDrops(): Record<string, number> {
    const drops: Record<string, number> = {};
    for (const end of this.ends) {
      for (const [reason, count] of Object.entries(end.stats().drops)) {
        drops[reason] = (drops[reason] ?? 0) + count;
      }
    }
    return drops;
  }

  /** The earliest link timer or core deadline; Infinity when nothing is waiting. */
  private nextTime(): number {
    let t = this.clock.nextDeadline() ?? Infinity;
    for (const node of this.nodes) {
      const d = node.core.nextDeadline();
      if (d !== -1 && d < t) t = d;
    }
    return t;
  }

  /** Advances virtual time event by event until `done()` or `limit` (µs). */
  run(done: () => boolean, limit: number): boolean {
    const clock = this.clock;
    while (!done()) {
      if (++this.steps > this.stepBudget) {
        throw new Error(`simulation exceeded ${this.stepBudget} steps at ${this.now} µs`);
      }
      const t = this.nextTime();
      if (t === Infinity || t > limit) return done();
      // Frames due by then arrive first (through the nodes' readable callbacks), then the
      // cores' timers run.
      clock.runUntil(Math.max(t, clock.now()));
      const now = clock.now();
      for (const node of this.nodes) {
        node.core.tick(now);
        this.onEvents(node);
      }
    }
    return true;
  }
}

function discard(link: ImpairedLink): void {
  while (link.rxBurst(link.burstSize) > 0);
}

export { TcpEvent };
