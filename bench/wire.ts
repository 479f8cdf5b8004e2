/**
 * Wire-layer microbenchmarks: parsing a full-size Ethernet/IPv4/TCP frame with every checksum
 * verified, and building one (headers plus TCP checksum over the payload). Prints ns per
 * frame. Run with `npm run bench:wire`.
 */
import Benchmark from 'benchmark';
import { ipv4PseudoHeaderSum, sumWords } from '../lib/wire/checksum.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../lib/wire/ethernet.js';
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
function build(buf: Uint8Array, seq: number): void {
  let at = writeEthernet(buf, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
  at += writeIpv4(buf, at, ip);
  tcp.seq = seq;
  writeTcp(buf, at, tcp);
  fillTcpChecksum(buf, at, tcpLength, ipv4PseudoHeaderSum(SRC, DST, PROTOCOL_TCP, tcpLength));
}

const received = new Uint8Array(FRAME_LENGTH);
received.set(payload, FRAME_LENGTH - payloadLength);
build(received, 0xfffff000);
const frame = new Frame();
if (parseFrame(received, 0, FRAME_LENGTH, frame) !== undefined || frame.kind !== 'tcp') {
  throw new Error('the benchmark frame does not parse');
}

const sent = new Uint8Array(FRAME_LENGTH);
sent.set(payload, FRAME_LENGTH - payloadLength);
let seq = 0;
let sink = 0;

const suite = new Benchmark.Suite('wire');
suite
  .add('parse + verify 1514-byte TCP frame', () => {
    if (parseFrame(received, 0, FRAME_LENGTH, frame) !== undefined) throw new Error('dropped');
    sink += frame.tcp.payloadLength;
  })
  .add('build 1514-byte TCP frame (headers + checksum)', () => {
    seq = (seq + payloadLength) >>> 0;
    build(sent, seq);
  })
  .add('build 1514-byte TCP frame with payload copy', () => {
    seq = (seq + payloadLength) >>> 0;
    sent.set(payload, FRAME_LENGTH - payloadLength);
    build(sent, seq);
  })
  .add('checksum 1480 bytes alone', () => {
    sink += sumWords(received, 34, tcpLength);
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    const ns = 1e9 / (bench.hz ?? 1);
    const rme = bench.stats?.rme ?? 0;
    console.log(`${bench.name}: ${ns.toFixed(1)} ns/frame (±${rme.toFixed(1)}%)`);
  })
  .on('complete', () => {
    if (sink === -1) console.log(sink);
  })
  .run();
