// A single core driven by hand-written segments, for per-state tests: segments in are built
// from a small description, segments out are captured as plain records.

import { TcpCore, TcpEvent, type TcpEventKind } from '../../lib/tcp/core.js';
import type { TcpConnection, TcpListener } from '../../lib/tcp/connection.js';
import type { TcpParams } from '../../lib/tcp/params.js';
import {
  ACK,
  FIN,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  RST,
  SYN,
  TcpHeader,
} from '../../lib/wire/tcp.js';

export { ACK, FIN, RST, SYN };
export const PSH = 0x08;
export const ECE = 0x40;
export const CWR = 0x80;

export const LOCAL = 0xc6120001; // 198.18.0.1
export const REMOTE = 0xc6120002; // 198.18.0.2
export const LOCAL_PORT = 8080;
export const REMOTE_PORT = 40000;
/** The peer's initial sequence number in these tests. */
export const PEER_ISS = 1_000_000;

export interface Sent {
  flags: number;
  seq: number;
  ack: number;
  window: number;
  length: number;
  payload: Uint8Array;
  srcPort: number;
  dstPort: number;
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  timestamp: boolean;
  tsVal: number;
  tsEcr: number;
  sack: number[];
  kinds: number[];
  ecn: number;
  at: number;
}

export interface SegmentSpec {
  flags: number;
  seq: number;
  ack?: number;
  window?: number;
  data?: Uint8Array | number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  ts?: [number, number];
  srcPort?: number;
  dstPort?: number;
  ecn?: number;
}

export class Harness {
  readonly core: TcpCore;
  readonly sent: Sent[] = [];
  readonly events: { conn: TcpConnection; kind: TcpEventKind }[] = [];
  now = 0;
  private readonly header = new TcpHeader();

  constructor(params: Partial<TcpParams> = {}) {
    this.core = new TcpCore(
      {
        transmit: (seg) => {
          const h = seg.header;
          const o = h.options;
          const sack: number[] = [];
          for (let i = 0; i < 2 * o.sackBlockCount; i++) sack.push(o.sackBlocks[i]);
          this.sent.push({
            flags: h.flags,
            seq: h.seq,
            ack: h.ack,
            window: h.window,
            length: seg.payloadLength,
            payload: seg.payload.slice(seg.payloadOffset, seg.payloadOffset + seg.payloadLength),
            srcPort: h.srcPort,
            dstPort: h.dstPort,
            mss: o.mss,
            windowScale: o.windowScale,
            sackPermitted: o.kinds.subarray(0, o.kindCount).includes(OPT_SACK_PERMITTED),
            timestamp: o.timestamp,
            tsVal: o.tsVal,
            tsEcr: o.tsEcr,
            sack,
            kinds: [...o.kinds.subarray(0, o.kindCount)],
            ecn: seg.ecn,
            at: this.now,
          });
        },
        event: (conn, kind) => this.events.push({ conn, kind }),
      },
      { secret: new Uint8Array(16).fill(7), params },
    );
  }

  /** Segments sent since the last call. */
  take(): Sent[] {
    return this.sent.splice(0);
  }

  eventKinds(conn?: TcpConnection): TcpEventKind[] {
    return this.events.filter((e) => !conn || e.conn === conn).map((e) => e.kind);
  }

  inject(spec: SegmentSpec): void {
    const h = this.header;
    const o = h.options;
    o.reset();
    h.srcPort = spec.srcPort ?? REMOTE_PORT;
    h.dstPort = spec.dstPort ?? LOCAL_PORT;
    h.seq = spec.seq >>> 0;
    h.ack = (spec.ack ?? 0) >>> 0;
    h.flags = spec.flags;
    h.window = spec.window ?? 65535;
    h.urgentPointer = 0;
    if (spec.mss !== undefined) {
      o.mss = spec.mss;
      o.push(OPT_MSS);
    }
    if (spec.windowScale !== undefined) {
      o.windowScale = spec.windowScale;
      o.push(OPT_NOP);
      o.push(OPT_WINDOW_SCALE);
    }
    if (spec.sackPermitted) {
      o.sackPermitted = true;
      o.push(OPT_SACK_PERMITTED);
    }
    if (spec.ts) {
      o.timestamp = true;
      o.tsVal = spec.ts[0] >>> 0;
      o.tsEcr = spec.ts[1] >>> 0;
      o.push(OPT_TIMESTAMP);
    }
    const data =
      spec.data === undefined
        ? new Uint8Array(0)
        : typeof spec.data === 'number'
          ? new Uint8Array(spec.data).map((_, i) => (i * 13 + 1) & 0xff)
          : spec.data;
    const buf = new Uint8Array(64 + data.length);
    buf.set(data, 64);
    h.payloadOffset = 64;
    h.payloadLength = data.length;
    h.headerLength = 20;
    this.core.input(this.now, h, buf, REMOTE, LOCAL, spec.ecn ?? 0);
  }

  advance(us: number): void {
    this.now += us;
    this.core.tick(this.now);
  }

  /** Runs timers until `now + us`, stepping to each deadline. */
  runFor(us: number): void {
    const end = this.now + us;
    for (;;) {
      const d = this.core.nextDeadline();
      if (d === -1 || d > end) break;
      this.now = Math.max(this.now, d);
      this.core.tick(this.now);
    }
    this.now = end;
  }

  listen(options: { backlog?: number } = {}): TcpListener {
    return this.core.listen({ port: LOCAL_PORT, localAddress: LOCAL, ...options });
  }

  /** Passive open with the given SYN options; returns the accepted connection. */
  passiveOpen(
    synOptions: Partial<SegmentSpec> = {
      mss: 1460,
      windowScale: 7,
      sackPermitted: true,
      ts: [100, 0],
    },
    rtt = 0,
  ): { conn: TcpConnection; listener: TcpListener; iss: number } {
    const listener = this.listen();
    this.inject({ flags: SYN, seq: PEER_ISS, window: 65535, ...synOptions });
    const [synAck] = this.take();
    if (!synAck || synAck.flags !== (SYN | ACK)) throw new Error('no SYN-ACK');
    const ackTs: [number, number] | undefined = synOptions.ts
      ? [synOptions.ts[0] + 1, synAck.tsVal]
      : undefined;
    this.advance(rtt);
    this.inject({
      flags: ACK,
      seq: PEER_ISS + 1,
      ack: synAck.seq + 1,
      window: synOptions.windowScale !== undefined ? 512 : 65535,
      ts: ackTs,
    });
    const conn = this.core.accept(listener);
    if (!conn) throw new Error('nothing to accept');
    return { conn, listener, iss: synAck.seq };
  }

  /** Active open answered by a SYN-ACK with the given options. */
  activeOpen(
    synAckOptions: Partial<SegmentSpec> = {
      mss: 1460,
      windowScale: 7,
      sackPermitted: true,
      ts: [500, 0],
    },
  ): { conn: TcpConnection; iss: number; syn: Sent } {
    const conn = this.core.connect(this.now, {
      remoteAddress: REMOTE,
      remotePort: REMOTE_PORT,
      localAddress: LOCAL,
      localPort: LOCAL_PORT,
    });
    const [syn] = this.take();
    const ts: [number, number] | undefined = synAckOptions.ts
      ? [synAckOptions.ts[0], syn.tsVal]
      : undefined;
    this.inject({
      flags: SYN | ACK,
      seq: PEER_ISS,
      ack: syn.seq + 1,
      window: 65535,
      ...synAckOptions,
      ts,
    });
    return { conn, iss: syn.seq, syn };
  }
}

export { TcpEvent };
