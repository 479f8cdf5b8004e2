// `npm run bench:core`: bulk transfer between two TCP cores in one process, no I/O. Segments
// pass from one core to the other through a queue of preallocated header records; payloads
// are lent, not copied (the receiving core copies them into its ring, as it would from a
// link frame). Reports Gbit/s, ns per data segment for the send path (application writes,
// output, ACK input) and the receive path (data input, ACK output, application reads), and
// the garbage collections seen while moving a million segments.

import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { TcpCore, TcpEvent, type OutboundSegment } from '../lib/tcp/core.js';
import type { TcpConnection } from '../lib/tcp/connection.js';
import { TcpHeader } from '../lib/wire/tcp.js';

const program = new Command()
  .name('bench:core')
  .option('--segments <n>', 'data segments to move', '1000000')
  .option('--buffer <bytes>', 'send and receive buffer size', String(4 * 1024 * 1024))
  .option('--mtu <bytes>', 'path MTU', '1500')
  .option('--json', 'print the result as JSON')
  .parse();
const opts = program.opts<{ segments: string; buffer: string; mtu: string; json?: boolean }>();
const target = Number(opts.segments);
const bufferSize = Number(opts.buffer);
const mtu = Number(opts.mtu);

/** A FIFO of segments in flight, with header records allocated once. */
class SegmentQueue {
  readonly headers: TcpHeader[] = [];
  readonly buffers: Uint8Array[] = [];
  private readonly own: Uint8Array[] = [];
  head = 0;
  count = 0;
  dataSegments = 0;
  constructor(readonly capacity: number) {
    for (let i = 0; i < capacity; i++) {
      this.headers.push(new TcpHeader());
      this.buffers.push(new Uint8Array(0));
      this.own.push(new Uint8Array(mtu));
    }
  }
  push(seg: OutboundSegment, ring: Uint8Array): void {
    if (this.count === this.capacity) throw new Error('segment queue overflow');
    const i = (this.head + this.count) & (this.capacity - 1);
    const h = this.headers[i];
    const s = seg.header;
    h.srcPort = s.srcPort;
    h.dstPort = s.dstPort;
    h.seq = s.seq;
    h.ack = s.ack;
    h.flags = s.flags;
    h.window = s.window;
    h.headerLength = s.headerLength;
    h.urgentPointer = 0;
    const o = h.options;
    const so = s.options;
    o.mss = so.mss;
    o.windowScale = so.windowScale;
    o.sackPermitted = so.sackPermitted;
    o.timestamp = so.timestamp;
    o.tsVal = so.tsVal;
    o.tsEcr = so.tsEcr;
    o.sackBlockCount = so.sackBlockCount;
    for (let k = 0; k < 2 * so.sackBlockCount; k++) o.sackBlocks[k] = so.sackBlocks[k];
    o.kindCount = so.kindCount;
    for (let k = 0; k < so.kindCount; k++) o.kinds[k] = so.kinds[k];
    h.payloadLength = seg.payloadLength;
    if (seg.payloadLength === 0 || seg.payload === ring) {
      this.buffers[i] = seg.payload;
      h.payloadOffset = seg.payloadOffset;
    } else {
      // A segment that straddled the end of the sender's ring lives in a scratch buffer
      // that the next such segment reuses: keep a copy.
      const own = this.own[i];
      own.set(seg.payload.subarray(seg.payloadOffset, seg.payloadOffset + seg.payloadLength));
      this.buffers[i] = own;
      h.payloadOffset = 0;
    }
    if (seg.payloadLength > 0) this.dataSegments++;
    this.count++;
  }
  shift(): number {
    const i = this.head;
    this.head = (this.head + 1) & (this.capacity - 1);
    this.count--;
    return i;
  }
}

const A = 0xc6120001;
const B = 0xc6120002;
const params = { sendBuffer: bufferSize, receiveBuffer: bufferSize, mtu };
// Powers of two; enough for a full window of segments in flight.
const toB = new SegmentQueue(1 << 13);
const toA = new SegmentQueue(1 << 13);
let clientConn: TcpConnection | null = null;
let serverConn: TcpConnection | null = null;
const secretA = new Uint8Array(16).fill(1);
const secretB = new Uint8Array(16).fill(2);
const coreA: TcpCore = new TcpCore(
  {
    transmit: (seg) => toB.push(seg, clientConn ? clientConn.sendBuffer.data : seg.payload),
    event: () => {},
  },
  { secret: secretA, params },
);
const coreB: TcpCore = new TcpCore(
  {
    transmit: (seg) => toA.push(seg, serverConn ? serverConn.sendBuffer.data : seg.payload),
    event: (conn, kind) => {
      if (kind === TcpEvent.ESTABLISHED && conn.listener) serverConn = conn;
    },
  },
  { secret: secretB, params },
);

let now = 0;
function drain(queue: SegmentQueue, core: TcpCore, from: number, to: number): void {
  while (queue.count > 0) {
    const i = queue.shift();
    core.input(now, queue.headers[i], queue.buffers[i], from, to);
  }
}

const listener = coreB.listen({ port: 5001 });
clientConn = coreA.connect(now, { remoteAddress: B, remotePort: 5001, localAddress: A });
for (let i = 0; i < 4; i++) {
  drain(toB, coreB, A, B);
  drain(toA, coreA, B, A);
}
const server = coreB.accept(listener);
const client = clientConn;
if (!server || client.state !== 4) throw new Error('handshake failed');

// Fill the source once; the application "writes" by committing bytes in place.
const fill = client.sendBuffer.data;
for (let i = 0; i < fill.length; i++) fill[i] = (i * 7 + 3) & 0xff;

let gcs = 0;
let gcMs = 0;
const gcKinds: Record<string, number> = {};
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcs++;
    gcMs += entry.duration;
    const kind = String((entry as { detail?: { kind?: number } }).detail?.kind ?? 'unknown');
    gcKinds[kind] = (gcKinds[kind] ?? 0) + 1;
  }
});
const gc = (globalThis as { gc?: () => void }).gc;

function run(): {
  sendMs: number;
  receiveMs: number;
  bytes: number;
  segments: number;
  wallMs: number;
} {
  let sendMs = 0;
  let receiveMs = 0;
  let bytes = 0;
  const startSegments = toB.dataSegments;
  const wall = performance.now();
  const c = client!;
  const s = server!;
  while (toB.dataSegments - startSegments < target) {
    now += 20;
    let t0 = performance.now();
    const room = c.sendBuffer.contiguousFree;
    if (room > 0) coreA.sendCommit(now, c, room);
    sendMs += performance.now() - t0;

    t0 = performance.now();
    drain(toB, coreB, A, B);
    for (
      let n = s.receiveBuffer.contiguousReadable;
      n > 0;
      n = s.receiveBuffer.contiguousReadable
    ) {
      bytes += n;
      coreB.consume(now, s, n);
    }
    coreB.tick(now);
    receiveMs += performance.now() - t0;

    t0 = performance.now();
    drain(toA, coreA, B, A);
    coreA.tick(now);
    sendMs += performance.now() - t0;
  }
  return {
    sendMs,
    receiveMs,
    bytes,
    segments: toB.dataSegments - startSegments,
    wallMs: performance.now() - wall,
  };
}

// Warm up (optimisation tiers settle), then measure.
run();
gc?.();
observer.observe({ entryTypes: ['gc'] });
const r = run();
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();

const result = {
  segments: r.segments,
  payloadBytes: r.bytes,
  segmentSize: client.smss,
  gbitPerSecond: (r.bytes * 8) / ((r.sendMs + r.receiveMs) * 1e6),
  nsPerSegmentSend: (r.sendMs * 1e6) / r.segments,
  nsPerSegmentReceive: (r.receiveMs * 1e6) / r.segments,
  gcCount: gcs,
  gcMs: Number(gcMs.toFixed(2)),
  gcKinds,
  retransmissions: coreA.counters.tcpRetransSegs,
  wallMs: Math.round(r.wallMs),
  node: process.version,
};
if (opts.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `bench:core  ${r.segments} data segments of ${client.smss} bytes, one process, no I/O`,
  );
  console.log(`  throughput       ${result.gbitPerSecond.toFixed(2)} Gbit/s (core time only)`);
  console.log(`  send path        ${result.nsPerSegmentSend.toFixed(0)} ns/segment`);
  console.log(`  receive path     ${result.nsPerSegmentReceive.toFixed(0)} ns/segment`);
  console.log(
    `  GCs              ${gcs} (${result.gcMs} ms; by kind ${JSON.stringify(gcKinds)})` +
      (gc ? '' : '  [run with --expose-gc for a clean start]'),
  );
}
