import { VirtualClock } from '../../lib/link/clock.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import type { Socket } from '../../lib/api/socket.js';
import { createStack, type UtcpStack } from '../../lib/api/stack.js';
import { checksum, ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import { TcpHeader, parseTcp } from '../../lib/wire/tcp.js';
import { Peer } from '../stack/peer.js';
import { SHORT_TIMERS } from '../api/harness.js';

export const STACK_IP = [198, 18, 0, 2];
export const PEER_IP = [198, 18, 0, 1];
const STACK_ADDRESS = (198 << 24) | (18 << 16) | 2;
const PEER_ADDRESS = ((198 << 24) | (18 << 16) | 1) >>> 0;

export const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20;

export interface Segment {
  srcPort?: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  urgent?: number;
  /** Raw option bytes, padded to 4 by the builder unless `dataOffset` is forced. */
  options?: number[];
  payload?: Uint8Array;
  /** Forces the data offset nibble (words), for malformed headers. */
  dataOffset?: number;
  /** Adds this to the computed checksum (non-zero: a bad checksum). */
  checksumDelta?: number;
}

/** TCP segment bytes built by hand, so malformed fields are possible. */
export function tcpBytes(s: Segment, source = PEER_ADDRESS, destination = STACK_ADDRESS) {
  const options = [...(s.options ?? [])];
  if (s.dataOffset === undefined) while (options.length % 4 !== 0) options.push(0);
  const payload = s.payload ?? new Uint8Array(0);
  const header = 20 + options.length;
  const out = new Uint8Array(header + payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, s.srcPort ?? 40000);
  view.setUint16(2, s.dstPort);
  view.setUint32(4, s.seq >>> 0);
  view.setUint32(8, (s.ack ?? 0) >>> 0);
  out[12] = (s.dataOffset ?? header / 4) << 4;
  out[13] = s.flags;
  view.setUint16(14, s.window ?? 65535);
  view.setUint16(18, s.urgent ?? 0);
  out.set(options, 20);
  out.set(payload, header);
  const pseudo = ipv4PseudoHeaderSum(source, destination, 6, out.length);
  const sum = checksum(out, 0, out.length, pseudo);
  view.setUint16(16, (sum + (s.checksumDelta ?? 0)) & 0xffff);
  return out;
}

export interface Seen {
  header: TcpHeader;
  payload: Uint8Array;
}

/** One utcp stack (198.18.0.2) facing a hand-written peer (198.18.0.1) on virtual time. */
export class Rig {
  readonly clock = new VirtualClock(1_000_000);
  readonly stack: UtcpStack;
  readonly peer: Peer;
  readonly stackMac: Uint8Array;
  /** Every TCP segment the stack sent, in order. */
  readonly seen: Seen[] = [];
  /** Every non-TCP frame the stack sent. */
  readonly otherFrames: Uint8Array[] = [];

  constructor(tcp: Record<string, number | boolean> = {}, stackOptions: object = {}) {
    const [stackLink, peerLink] = createMemoryLinkPair({ clock: this.clock, latencyUs: 10 });
    this.stackMac = stackLink.mac;
    this.stack = createStack({
      link: stackLink,
      clock: this.clock,
      address: '198.18.0.2',
      prefix: 24,
      tcp: { ...SHORT_TIMERS, ...tcp },
      secret: new Uint8Array(32).fill(3),
      ...stackOptions,
    });
    this.peer = new Peer(peerLink, PEER_IP);
    // Teach the stack our MAC so its replies need no ARP round.
    this.peer.send(this.peer.arp(1, new Uint8Array(6), STACK_IP));
    this.step(100);
  }

  /** Runs virtual time by `us` and collects what the stack sent. */
  step(us = 100): Seen[] {
    this.clock.runUntil(this.clock.now() + us);
    return this.collect();
  }

  collect(): Seen[] {
    const fresh: Seen[] = [];
    for (const frame of this.peer.receive()) {
      const ip = frame.subarray(14);
      if (((frame[12] << 8) | frame[13]) !== 0x0800 || ip[9] !== 6) {
        this.otherFrames.push(frame);
        continue;
      }
      const ihl = (ip[0] & 15) * 4;
      const total = (ip[2] << 8) | ip[3];
      const header = new TcpHeader();
      const reason = parseTcp(ip, ihl, total - ihl, header);
      if (reason !== undefined) throw new Error(`stack sent a malformed segment: ${reason}`);
      const seen = { header, payload: ip.slice(header.payloadOffset, total) };
      fresh.push(seen);
      this.seen.push(seen);
    }
    return fresh;
  }

  /** Sends one TCP segment (or raw IP payload) to the stack and runs time briefly. */
  send(segment: Segment | Uint8Array, ipOptions: Parameters<Peer['ipv4']>[4] = {}): Seen[] {
    const bytes = segment instanceof Uint8Array ? segment : tcpBytes(segment);
    this.peer.send(this.peer.ipv4(this.stackMac, STACK_IP, 6, bytes, ipOptions));
    return this.step(100);
  }

  sendIp(protocol: number, payload: Uint8Array, options: Parameters<Peer['ipv4']>[4] = {}) {
    this.peer.send(this.peer.ipv4(this.stackMac, STACK_IP, protocol, payload, options));
    return this.step(100);
  }

  sendFrame(frame: Uint8Array): void {
    this.peer.send(frame);
    this.step(100);
  }

  /** Turns the event loop so stream events reach the test. */
  async settle(us = 100): Promise<void> {
    for (let i = 0; i < 5; i++) {
      this.step(us);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  drops(): Record<string, number> {
    return this.stack.stats().drops;
  }

  async close(): Promise<void> {
    await this.stack.close();
  }
}

/** State of a handshake the peer completed towards a listening stack. */
export interface Open {
  port: number;
  peerPort: number;
  /** Next sequence number the peer sends. */
  sndNxt: number;
  /** Next sequence number the peer expects from the stack. */
  rcvNxt: number;
  /** Stack's initial sequence number. */
  stackIss: number;
}

/** Three-way handshake from the peer, with the options given on the SYN. */
export function handshake(
  rig: Rig,
  port: number,
  peerPort = 40000,
  synOptions: number[] = [],
  iss = 1_000_000,
) {
  const replies = rig.send({
    srcPort: peerPort,
    dstPort: port,
    seq: iss,
    flags: SYN,
    options: synOptions,
  });
  const synAck = replies.find((s) => (s.header.flags & (SYN | ACK)) === (SYN | ACK));
  if (synAck === undefined) throw new Error('no SYN-ACK');
  const open: Open = {
    port,
    peerPort,
    sndNxt: (iss + 1) >>> 0,
    rcvNxt: (synAck.header.seq + 1) >>> 0,
    stackIss: synAck.header.seq,
  };
  rig.send({ srcPort: peerPort, dstPort: port, seq: open.sndNxt, ack: open.rcvNxt, flags: ACK });
  return open;
}

/** A data segment from the peer on an open connection. */
export function data(open: Open, seq: number, payload: Uint8Array | string, flags = ACK | PSH) {
  return {
    srcPort: open.peerPort,
    dstPort: open.port,
    seq,
    ack: open.rcvNxt,
    flags,
    payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload,
  };
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** An ICMP error quoting a TCP segment the stack sent to the peer. */
export function icmpError(type: number, code: number, mtu: number, open: Open, seq: number) {
  const quoted = new Uint8Array(28);
  quoted[0] = 0x45;
  quoted[3] = 40;
  quoted[8] = 64;
  quoted[9] = 6;
  quoted.set(STACK_IP, 12);
  quoted.set(PEER_IP, 16);
  const q = new DataView(quoted.buffer);
  q.setUint16(10, checksum(quoted, 0, 20));
  q.setUint16(20, open.port);
  q.setUint16(22, open.peerPort);
  q.setUint32(24, seq >>> 0);
  const m = new Uint8Array(8 + quoted.length);
  m[0] = type;
  m[1] = code;
  new DataView(m.buffer).setUint16(6, mtu);
  m.set(quoted, 8);
  new DataView(m.buffer).setUint16(2, checksum(m, 0, m.length));
  return m;
}

/**
 * `r`'s stack listening on port 80 (allowHalfOpen), with one connection the hand-written peer
 * opened from port 40000; records what the accepted socket reads and the errors it gets.
 */
export async function establishedOn(r: Rig, synOptions: number[] = []) {
  const received: Buffer[] = [];
  const errors: (Error & { code?: string })[] = [];
  const sockets: Socket[] = [];
  let ended = false;
  r.stack
    .createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', () => (ended = true));
      socket.on('error', (error) => errors.push(error));
    })
    .listen(80);
  await r.settle();
  const open = handshake(r, 80, 40000, synOptions);
  await r.settle();
  if (sockets.length !== 1) throw new Error(`${sockets.length} sockets accepted, not 1`);
  return {
    r,
    open,
    sockets,
    errors,
    got: () => Buffer.concat(received).toString(),
    ended: () => ended,
  };
}
