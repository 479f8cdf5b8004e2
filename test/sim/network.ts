// A deterministic network of TCP cores on virtual time. Segments are encoded with the wire
// module (header, options, checksum), carried through a seeded impairment queue (loss,
// duplication, reordering, delay, corruption) and parsed again on arrival.

import { TcpCore, TcpEvent, type OutboundSegment, type TcpEventKind } from '../../lib/tcp/core.js';
import type { TcpConnection } from '../../lib/tcp/connection.js';
import type { TcpParams } from '../../lib/tcp/params.js';
import { ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import {
  TcpHeader,
  fillTcpChecksum,
  parseTcp,
  tcpChecksumOk,
  writeTcp,
} from '../../lib/wire/tcp.js';

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

export interface Impairment {
  /** Probability that a packet is lost. */
  loss: number;
  /** Probability that a packet is delivered twice. */
  duplicate: number;
  /** Probability that a packet gets extra delay (up to `reorderDelay`) and so overtakes. */
  reorder: number;
  reorderDelay: number;
  /** One-way delay in microseconds. */
  delay: number;
  /** Probability that one byte of the packet is flipped (caught by the checksum). */
  corrupt: number;
  /** Probability that a packet is marked CE instead of being lost (ECN). */
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

interface Packet {
  at: number;
  order: number;
  bytes: Uint8Array;
  src: number;
  dst: number;
  ecn: number;
}

export interface NodeEvent {
  conn: TcpConnection;
  kind: TcpEventKind;
}

export class SimNode {
  readonly core: TcpCore;
  /** Events since the application last looked (delivered after each core call). */
  readonly pending: NodeEvent[] = [];
  readonly log: string[] = [];

  constructor(
    readonly network: SimNetwork,
    readonly address: number,
    secretSeed: number,
    params: Partial<TcpParams>,
  ) {
    const secret = new Uint8Array(16);
    for (let i = 0; i < 16; i++) secret[i] = (secretSeed * 31 + i * 7) & 0xff;
    this.core = new TcpCore(
      {
        transmit: (segment) => network.transmit(this, segment),
        event: (conn, kind) => this.pending.push({ conn, kind }),
      },
      { secret, params, initialSequenceNumber: network.isn },
    );
  }
}

export class SimNetwork {
  now = 0;
  readonly rng: Rng;
  readonly nodes = new Map<number, SimNode>();
  private queue: Packet[] = [];
  private order = 0;
  private readonly header = new TcpHeader();
  /** When the link towards each address is next free (rate limit). */
  private readonly busyUntil = new Map<number, number>();
  sent = 0;
  lost = 0;
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
    public impairment: Impairment,
  ) {
    this.rng = new Rng(seed);
  }

  addNode(address: number, params: Partial<TcpParams>): SimNode {
    const node = new SimNode(this, address, address ^ 0x5a5a, params);
    this.nodes.set(address, node);
    return node;
  }

  transmit(from: SimNode, seg: OutboundSegment): void {
    const h = seg.header;
    if ((globalThis as Record<string, unknown>).SIMDEBUG) {
      this.trace.push(
        `${this.now} ${seg.localAddress === 0xc6120001 ? 'C' : 'S'}${h.srcPort}>${h.dstPort} f${h.flags.toString(16)} s${h.seq} a${h.ack} w${h.window} l${seg.payloadLength}`,
      );
      if (this.trace.length > 40) this.trace.shift();
    }
    const length = h.headerLength + seg.payloadLength;
    const bytes = new Uint8Array(length);
    writeTcp(bytes, 0, h);
    bytes.set(
      seg.payload.subarray(seg.payloadOffset, seg.payloadOffset + seg.payloadLength),
      h.headerLength,
    );
    fillTcpChecksum(
      bytes,
      0,
      length,
      ipv4PseudoHeaderSum(seg.localAddress, seg.remoteAddress, 6, length),
    );
    this.sent++;
    const imp = this.impairment;
    if (this.rng.next() < imp.loss) {
      this.lost++;
      return;
    }
    let ecn = seg.ecn;
    if (ecn === 2 && this.rng.next() < imp.congestionMark) ecn = 3;
    if (this.rng.next() < imp.corrupt) bytes[this.rng.int(length)] ^= 1 << this.rng.int(8);
    let at = this.now + imp.delay;
    if (imp.rate > 0) {
      const free = Math.max(this.busyUntil.get(seg.remoteAddress) ?? 0, this.now);
      const done = free + Math.ceil((length + 40) / imp.rate);
      this.busyUntil.set(seg.remoteAddress, done);
      at = done + imp.delay;
    }
    if (this.rng.next() < imp.reorder) at += 1 + this.rng.int(Math.max(1, imp.reorderDelay));
    this.push({
      at,
      order: this.order++,
      bytes,
      src: seg.localAddress,
      dst: seg.remoteAddress,
      ecn,
    });
    if (this.rng.next() < imp.duplicate) {
      const later = at + this.rng.int(Math.max(1, imp.reorderDelay + 1));
      this.push({
        at: later,
        order: this.order++,
        bytes,
        src: seg.localAddress,
        dst: seg.remoteAddress,
        ecn,
      });
    }
  }

  private push(p: Packet): void {
    // Binary insertion keeps the queue ordered by (at, order).
    const q = this.queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (q[mid].at < p.at || (q[mid].at === p.at && q[mid].order < p.order)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, p);
  }

  get inFlight(): number {
    return this.queue.length;
  }

  private nextTime(): number {
    let t = this.queue.length > 0 ? this.queue[0].at : Infinity;
    for (const node of this.nodes.values()) {
      const d = node.core.nextDeadline();
      if (d !== -1 && d < t) t = d;
    }
    return t;
  }

  /** Advances virtual time event by event until `done()` or `limit` (µs). */
  run(done: () => boolean, limit: number): boolean {
    while (!done()) {
      if (++this.steps > this.stepBudget) {
        throw new Error(`simulation exceeded ${this.stepBudget} steps at ${this.now} µs`);
      }
      const t = this.nextTime();
      if (t === Infinity || t > limit) return done();
      if (t > this.now) this.now = t;
      while (this.queue.length > 0 && this.queue[0].at <= this.now) {
        const p = this.queue.shift()!;
        this.deliver(p);
      }
      for (const node of this.nodes.values()) {
        node.core.tick(this.now);
        this.onEvents(node);
      }
    }
    return true;
  }

  private deliver(p: Packet): void {
    const node = this.nodes.get(p.dst);
    if (node === undefined) return;
    const core = node.core;
    const reason = parseTcp(p.bytes, 0, p.bytes.length, this.header);
    if (reason !== undefined) {
      core.countInputError('malformed', reason);
    } else if (
      !tcpChecksumOk(
        p.bytes,
        0,
        p.bytes.length,
        ipv4PseudoHeaderSum(p.src, p.dst, 6, p.bytes.length),
      )
    ) {
      core.countInputError('checksum');
    } else {
      core.input(this.now, this.header, p.bytes, p.src, p.dst, p.ecn);
    }
    this.onEvents(node);
  }
}

export { TcpEvent };
