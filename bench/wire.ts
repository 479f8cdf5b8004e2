/**
 * Wire-layer microbenchmarks: parsing a full-size Ethernet/IPv4/TCP frame with every checksum
 * verified, and building one (headers plus TCP checksum over the payload). Prints ns per
 * frame. Run with `npm run bench:wire`.
 */
import Benchmark from 'benchmark';
import { availableParallelism, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { ipv4PseudoHeaderSum, sumWords } from '../lib/wire/checksum.js';
import { ETHERTYPE_IPV4, EthernetHeader, writeEthernet } from '../lib/wire/ethernet.js';
import { Frame, parseFrame } from '../lib/wire/frame.js';
import { Ipv4Header, PROTOCOL_TCP, writeIpv4 } from '../lib/wire/ipv4.js';
import {
  ACK,
  OPT_NOP,
  OPT_TIMESTAMP,
  PSH,
  TcpHeader,
  fillTcpChecksum,
  writeTcp,
} from '../lib/wire/tcp.js';

const FRAME_LENGTH = 1514;
const SRC = 0xc6120001;
const DST = 0xc6120002;

const ethernet = new EthernetHeader();
ethernet.dst = 0x020000000002;
ethernet.src = 0x020000000001;
ethernet.etherType = ETHERTYPE_IPV4;

const ip = new Ipv4Header();
ip.protocol = PROTOCOL_TCP;
ip.src = SRC;
ip.dst = DST;
ip.dontFragment = true;
ip.totalLength = FRAME_LENGTH - 14;

const tcp = new TcpHeader();
tcp.srcPort = 40000;
tcp.dstPort = 80;
tcp.seq = 0xfffff000;
tcp.ack = 12345;
tcp.flags = ACK | PSH;
tcp.window = 502;
tcp.options.push(OPT_NOP);
tcp.options.push(OPT_NOP);
tcp.options.push(OPT_TIMESTAMP);
tcp.options.timestamp = true;
tcp.options.tsVal = 1;
tcp.options.tsEcr = 2;
const tcpLength = ip.totalLength - 20;
const payloadLength = tcpLength - 32;

const payload = new Uint8Array(payloadLength);
for (let i = 0; i < payloadLength; i++) payload[i] = (i * 7) & 0xff;

/** Headers and checksum into `buf` whose payload is already in place; the stack's TX path. */
function build(buf: Uint8Array): void {
  let at = writeEthernet(buf, 0, ethernet);
  at += writeIpv4(buf, at, ip);
  writeTcp(buf, at, tcp);
  fillTcpChecksum(buf, at, tcpLength, ipv4PseudoHeaderSum(SRC, DST, PROTOCOL_TCP, tcpLength));
}

const received = new Uint8Array(FRAME_LENGTH);
received.set(payload, FRAME_LENGTH - payloadLength);
build(received);
const frame = new Frame();
if (parseFrame(received, 0, FRAME_LENGTH, frame) !== undefined || frame.kind !== 'tcp') {
  throw new Error('the benchmark frame does not parse');
}

const sent = new Uint8Array(FRAME_LENGTH);
sent.set(payload, FRAME_LENGTH - payloadLength);
let sink = 0;

// Benchmark measures wall-clock time: on a busy machine every figure grows with the load.
const load = loadavg()[0];
console.log(
  `node ${process.version}, load average ${load.toFixed(1)} on ${availableParallelism()} cores`,
);
if (load > availableParallelism()) console.log('the machine is busy: figures are inflated');

const cases: [string, () => void][] = [
  [
    'parse + verify 1514-byte TCP frame',
    () => {
      if (parseFrame(received, 0, FRAME_LENGTH, frame) !== undefined) throw new Error('dropped');
      sink += frame.tcp.payloadLength;
    },
  ],
  [
    'parse 1514-byte TCP frame, checksums trusted (offload)',
    () => {
      if (parseFrame(received, 0, FRAME_LENGTH, frame, true) !== undefined) {
        throw new Error('dropped');
      }
      sink += frame.tcp.payloadLength;
    },
  ],
  [
    'build 1514-byte TCP frame (headers + checksum)',
    () => {
      tcp.seq = (tcp.seq + payloadLength) >>> 0;
      build(sent);
    },
  ],
  [
    'build 1514-byte TCP frame with payload copy',
    () => {
      tcp.seq = (tcp.seq + payloadLength) >>> 0;
      sent.set(payload, FRAME_LENGTH - payloadLength);
      build(sent);
    },
  ],
  [
    'checksum 1480 bytes alone',
    () => {
      sink += sumWords(received, 34, tcpLength);
    },
  ],
];

/**
 * CPU time per call over a fixed run, next to Benchmark's wall-clock figure: on a shared
 * machine the process is often off the CPU, which wall-clock time counts and CPU time does not.
 */
function cpuNanoseconds(fn: () => void): number {
  const calls = 200_000;
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / calls;
}

const suite = new Benchmark.Suite('wire');
for (const [name, fn] of cases) suite.add(name, fn);
suite
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    const ns = 1e9 / (bench.hz ?? 1);
    const rme = bench.stats?.rme ?? 0;
    const cpu = cpuNanoseconds(cases.find(([name]) => name === bench.name)![1]);
    console.log(
      `${bench.name}: ${ns.toFixed(1)} ns/frame (±${rme.toFixed(1)}%), ` +
        `${cpu.toFixed(1)} ns/frame of CPU time`,
    );
  })
  .on('complete', () => {
    if (sink === -1) console.log(sink);
    countCollections();
  })
  .run();

/**
 * The hot path must not allocate: count the garbage collections that a million parses and
 * builds set off. A young-generation collection every megabyte or so would show any allocation
 * per frame; none is expected.
 */
function countCollections(): void {
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const frames = 1_000_000;
  for (let i = 0; i < frames; i++) {
    if (parseFrame(received, 0, FRAME_LENGTH, frame) !== undefined) throw new Error('dropped');
    tcp.seq = (tcp.seq + payloadLength) >>> 0;
    build(sent);
  }
  // Entries are delivered asynchronously.
  setTimeout(() => {
    observer.disconnect();
    console.log(`garbage collections during ${frames} parses and builds: ${collections}`);
  }, 100);
}
