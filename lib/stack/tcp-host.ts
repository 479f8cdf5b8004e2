/**
 * TCP in the stack: the host side of the pure core. It verifies checksums and parses
 * headers on the way in, writes segments straight into link frames on the way out, turns the
 * core's events into calls on each connection's `ConnectionEvents`, and reads every
 * connection's deadline into the stack's wake-up (no timer object per connection).
 *
 * Within a burst, a pure ACK that a later pure ACK of the same connection supersedes (a
 * higher acknowledgment number) is rewritten in place in its TX frame rather than sent
 * twice: one ACK per connection per burst, as a kernel's GRO would give. Duplicate ACKs
 * (same number) are never merged, since the peer counts them (RFC 5681 3.2).
 */
import { randomBytes } from 'node:crypto';
import {
  TcpCore,
  TcpEvent,
  type OutboundSegment,
  type TcpEventKind,
  type TcpHost,
} from '../tcp/core.js';
import type {
  TcpConnection as CoreConnection,
  TcpListener as CoreListener,
} from '../tcp/connection.js';
import type { IcmpErrorKind } from '../tcp/input.js';
import type { TcpParams } from '../tcp/params.js';
import { stateName, SYN_SENT } from '../tcp/states.js';
import { read16 } from '../wire/bytes.js';
import { ipv4PseudoHeaderSum } from '../wire/checksum.js';
import { ICMP_DESTINATION_UNREACHABLE, UNREACHABLE_FRAGMENTATION_NEEDED } from '../wire/icmp.js';
import { PROTOCOL_TCP } from '../wire/ipv4.js';
import {
  ACK,
  ECE,
  SYN,
  TcpHeader,
  fillTcpChecksum,
  parseTcp,
  tcpChecksumOk,
  tcpHeaderLength,
  writeTcp,
} from '../wire/tcp.js';
import { formatIPv4, readIPv4 } from './address.js';
import type { PayloadWriter, Stack, Transport } from './stack.js';
import { TimerWheel } from './timer-wheel.js';
import type { ConnectionEvents, TcpConnection, TcpListener } from './tcp-types.js';

export interface TcpOptions {
  /** RFC 6528 / RFC 6056 secret, 16 bytes or more; random by default. */
  secret?: Uint8Array;
  /** Any core parameter: timer lengths (µs), buffer sizes, MSS floor, ... */
  tcp?: Partial<TcpParams>;
}

const NO_EVENTS: ConnectionEvents = {
  established() {},
  readable() {},
  writable() {},
  peerClosed() {},
  error() {},
  closed() {},
};

/** Pure ACKs held in this burst's TX batch, per connection, for in-place replacement. */
interface HeldAck {
  slot: number;
  generation: number;
  ack: number;
  length: number;
}

export class StackTcp implements Transport, TcpHost {
  readonly protocol = PROTOCOL_TCP;
  readonly core: TcpCore;
  /** Pure ACKs merged into a later one in the same burst. */
  acksCoalesced = 0;

  private readonly header = new TcpHeader();
  private readonly heldAcks = new Map<CoreConnection, HeldAck>();
  /** Every connection's next deadline, by a small id (one wheel, no timer per connection). */
  private readonly wheel: TimerWheel;
  private readonly wheelIds = new Map<CoreConnection, number>();
  private readonly byWheelId: (CoreConnection | undefined)[] = [];
  private readonly freeWheelIds: number[] = [];

  constructor(
    private readonly stack: Stack,
    options: TcpOptions = {},
  ) {
    const mtu = stack.mtu;
    this.wheel = new TimerWheel({ now: stack.clock.now() });
    this.core = new TcpCore(this, {
      secret: options.secret ?? randomBytes(32),
      params: { mtu, ...options.tcp },
    });
  }

  // Transport --------------------------------------------------------------------------

  input(
    source: number,
    destination: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    now: number,
  ): void {
    if (!checksumVerified) {
      const pseudo = ipv4PseudoHeaderSum(source, destination, PROTOCOL_TCP, length);
      if (!tcpChecksumOk(buf, offset, length, pseudo)) {
        this.core.countInputError('checksum', `from ${formatIPv4(source)}`);
        return;
      }
    }
    const reason = parseTcp(buf, offset, length, this.header);
    if (reason !== undefined) {
      this.core.countInputError('malformed', reason);
      return;
    }
    this.core.input(now, this.header, buf, source, destination);
  }

  icmpError(
    type: number,
    code: number,
    mtu: number,
    source: number,
    destination: number,
    quoted: Uint8Array,
    now: number,
  ): number {
    const localPort = (quoted[0] << 8) | quoted[1];
    const remotePort = (quoted[2] << 8) | quoted[3];
    const seq = ((quoted[4] << 24) | (quoted[5] << 16) | (quoted[6] << 8) | quoted[7]) >>> 0;
    const kind = icmpKind(type, code);
    if (kind === undefined) {
      this.stack.counters.drop('icmp-error-unhandled-code', `${type}/${code}`);
      return 0;
    }
    return this.core.icmpError(now, kind, source, localPort, destination, remotePort, seq, mtu);
  }

  /** A SYN that waited for ARP is stale once its connection left SYN_SENT (destroyed). */
  heldDatagramStale(packet: Uint8Array): boolean {
    const headerLength = (packet[0] & 0x0f) * 4;
    if (packet.length < headerLength + 20) return false;
    const flags = packet[headerLength + 13];
    if ((flags & (SYN | ACK)) !== SYN) return false;
    const conn = this.core.findConnection(
      readIPv4(packet, 12),
      read16(packet, headerLength),
      readIPv4(packet, 16),
      read16(packet, headerLength + 2),
    );
    return conn === null || conn.state !== SYN_SENT;
  }

  /** ARP gave up on `address`: opens towards it fail with EHOSTUNREACH (as Linux does). */
  unreachable(address: number, now: number): void {
    for (const conn of [...this.core.connections]) {
      if (conn.state !== SYN_SENT) continue;
      if (this.stack.route(conn.remoteAddress) !== address) continue;
      const handle = conn.user as ConnectionHandle | undefined;
      handle?.events.error('EHOSTUNREACH', `no ARP reply from ${formatIPv4(address)}`);
      this.core.abort(now, conn);
    }
  }

  endBurst(): void {
    this.heldAcks.clear();
  }

  nextDeadline(): number {
    return this.wheel.nextDeadline();
  }

  expire(now: number): void {
    this.wheel.expire(now, (id) => {
      const conn = this.byWheelId[id];
      if (conn !== undefined) this.core.timeout(now, conn);
    });
  }

  /** Connections with a deadline in the wheel. */
  get timers(): number {
    return this.wheel.size;
  }

  /** The segment `writeOutgoing` writes, set by `transmit` just before it hands it on. */
  private outgoing: OutboundSegment | null = null;
  private outgoingHeaderLength = 0;
  /** Writes `outgoing` where the stack asks: one function for every segment, no closure each. */
  private readonly writeOutgoing: PayloadWriter = (buf, at, checksumByLink) => {
    const segment = this.outgoing;
    if (segment === null) return;
    const header = segment.header;
    const headerLength = this.outgoingHeaderLength;
    const length = headerLength + segment.payloadLength;
    header.checksum = 0;
    writeTcp(buf, at, header);
    if (segment.payloadLength > 0) {
      const start = segment.payloadOffset;
      buf.set(segment.payload.subarray(start, start + segment.payloadLength), at + headerLength);
    }
    if (checksumByLink) return;
    const pseudo = ipv4PseudoHeaderSum(
      segment.localAddress,
      segment.remoteAddress,
      PROTOCOL_TCP,
      length,
    );
    fillTcpChecksum(buf, at, length, pseudo);
  };

  // TcpHost ------------------------------------------------------------------------------

  transmit(segment: OutboundSegment): void {
    const header = segment.header;
    const headerLength = tcpHeaderLength(header.options);
    const length = headerLength + segment.payloadLength;
    const conn = segment.connection;
    const pureAck = conn !== null && segment.payloadLength === 0 && (header.flags & ~ECE) === ACK;
    this.outgoing = segment;
    this.outgoingHeaderLength = headerLength;
    const write = this.writeOutgoing;

    if (pureAck && this.stack.inBurst) {
      const held = this.heldAcks.get(conn);
      if (
        held !== undefined &&
        held.length === length &&
        held.ack !== header.ack &&
        this.stack.rewriteIPv4(held.slot, held.generation, write)
      ) {
        held.ack = header.ack;
        this.acksCoalesced++;
        return;
      }
    }
    const tos = segment.ecn & 3;
    const error = this.stack.sendIPv4(segment.remoteAddress, PROTOCOL_TCP, length, write, tos);
    if (error !== undefined) {
      this.stack.counters.drop('tcp-output-' + error.toLowerCase());
      return;
    }
    if (pureAck && this.stack.inBurst && this.stack.lastSlot >= 0) {
      this.heldAcks.set(conn, {
        slot: this.stack.lastSlot,
        generation: this.stack.txGeneration,
        ack: header.ack,
        length,
      });
    } else if (conn !== null) {
      this.heldAcks.delete(conn);
    }
  }

  pathMtu(remoteAddress: number): number {
    return this.stack.pathMtu(remoteAddress);
  }

  event(conn: CoreConnection, kind: TcpEventKind): void {
    if (kind === TcpEvent.CLOSED) {
      this.heldAcks.delete(conn);
      this.deadline(conn);
    }
    if (kind === TcpEvent.ESTABLISHED && conn.listener !== null) {
      this.acceptFrom(conn.listener);
      return;
    }
    const handle = conn.user as ConnectionHandle | undefined;
    if (handle === undefined) return;
    const events = handle.events;
    switch (kind) {
      case TcpEvent.ESTABLISHED:
        events.established();
        break;
      case TcpEvent.READABLE:
        events.readable();
        break;
      case TcpEvent.WRITABLE:
        events.writable();
        break;
      case TcpEvent.PEER_CLOSED:
        events.peerClosed();
        break;
      case TcpEvent.RESET:
      case TcpEvent.TIMED_OUT:
      case TcpEvent.ERROR:
        events.error(conn.error ?? (kind === TcpEvent.TIMED_OUT ? 'ETIMEDOUT' : 'ECONNRESET'));
        break;
      case TcpEvent.CLOSED:
        events.closed();
        handle.events = NO_EVENTS;
        break;
    }
  }

  deadline(conn: CoreConnection): void {
    let id = this.wheelIds.get(conn);
    if (conn.deadline < 0 || conn.released) {
      if (id !== undefined) this.releaseWheelId(conn, id);
      return;
    }
    if (id === undefined) {
      id = this.freeWheelIds.pop() ?? this.byWheelId.length;
      this.wheelIds.set(conn, id);
      this.byWheelId[id] = conn;
    }
    this.wheel.schedule(id, conn.deadline);
    this.stack.deadlinesChanged();
  }

  private releaseWheelId(conn: CoreConnection, id: number): void {
    this.wheel.cancel(id);
    this.wheelIds.delete(conn);
    this.byWheelId[id] = undefined;
    this.freeWheelIds.push(id);
  }

  // User calls --------------------------------------------------------------------------

  listen(
    address: number,
    port: number,
    backlog: number,
    accept: (connection: TcpConnection) => void,
  ): TcpListener {
    const listener = this.core.listen({ localAddress: address, port, backlog });
    listener.user = accept;
    const core = this.core;
    const clock = this.stack.clock;
    return {
      address: listener.localAddress,
      port: listener.localPort,
      close: () => core.closeListener(clock.now(), listener),
    };
  }

  connect(remoteAddress: number, remotePort: number, localPort = 0): TcpConnection {
    const handle = new ConnectionHandle(this.core, this.stack);
    const conn = this.core.connect(this.stack.clock.now(), {
      remoteAddress,
      remotePort,
      localAddress: this.stack.address,
      localPort,
    });
    handle.bind(conn);
    return handle;
  }

  private acceptFrom(listener: CoreListener): void {
    const accept = listener.user as ((connection: TcpConnection) => void) | undefined;
    for (;;) {
      const conn = this.core.accept(listener);
      if (conn === null) return;
      const handle = new ConnectionHandle(this.core, this.stack);
      handle.bind(conn);
      if (accept === undefined) {
        handle.abort();
        continue;
      }
      accept(handle);
    }
  }
}

/** Maps ICMP type/code to the core's error kinds (RFC 1122 4.2.3.9, RFC 5927). */
function icmpKind(type: number, code: number): IcmpErrorKind | undefined {
  if (type === ICMP_DESTINATION_UNREACHABLE) {
    if (code === UNREACHABLE_FRAGMENTATION_NEEDED) return 'fragmentation-needed';
    if (code === 2) return 'protocol-unreachable';
    if (code === 3) return 'port-unreachable';
    if (code === 0 || code === 1 || code === 5 || (code >= 6 && code <= 12)) {
      return code === 0 || code === 6 || code === 9 || code === 11
        ? 'net-unreachable'
        : 'host-unreachable';
    }
    if (code === 13) return 'admin-prohibited';
    return undefined;
  }
  return 'time-exceeded';
}

/** One connection as the API sees it: the core's record plus the calls on it. */
class ConnectionHandle implements TcpConnection {
  events: ConnectionEvents = NO_EVENTS;
  private conn!: CoreConnection;

  constructor(
    private readonly core: TcpCore,
    private readonly stack: Stack,
  ) {}

  bind(conn: CoreConnection): void {
    this.conn = conn;
    conn.user = this;
  }

  get localAddress(): number {
    return this.conn.localAddress;
  }
  get localPort(): number {
    return this.conn.localPort;
  }
  get remoteAddress(): number {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  get state(): string {
    return this.conn.released ? 'CLOSED' : stateName(this.conn.state);
  }
  get srtt(): number {
    return this.conn.srtt;
  }
  get rttvar(): number {
    return this.conn.rttvar;
  }
  get rto(): number {
    return this.conn.rto;
  }
  get cwnd(): number {
    return this.conn.cwnd;
  }
  get ssthresh(): number {
    return this.conn.ssthresh;
  }
  get bytesInFlight(): number {
    return this.conn.bytesInFlight;
  }
  get retransmissions(): number {
    return this.conn.retransmissions;
  }
  get sendSpace(): number {
    return this.conn.released ? 0 : this.conn.writableBytes;
  }
  get sendQueued(): number {
    return this.conn.sendBuffer.length;
  }
  get receiveQueued(): number {
    return this.conn.readableBytes;
  }

  send(data: Uint8Array, offset: number, length: number): number {
    return this.core.send(this.stack.clock.now(), this.conn, data, offset, length);
  }

  receive(reader: (view: Uint8Array) => number): number {
    const buffer = this.conn.receiveBuffer;
    let total = 0;
    // The ring holds the readable bytes in at most two runs: head..end, then 0.. .
    for (let run = 0; run < 2 && buffer.length > total; run++) {
      let start = buffer.head + total;
      const data = buffer.data;
      if (start >= data.length) start -= data.length;
      const count = Math.min(buffer.length - total, data.length - start);
      const used = reader(data.subarray(start, start + count));
      const taken = Math.max(0, Math.min(count, Math.floor(used)));
      total += taken;
      if (taken < count) break;
    }
    if (total > 0) this.core.consume(this.stack.clock.now(), this.conn, total);
    return total;
  }

  shutdown(): void {
    if (this.conn.released) return;
    this.core.shutdown(this.stack.clock.now(), this.conn, 'write');
  }

  close(): void {
    this.core.close(this.stack.clock.now(), this.conn);
  }

  abort(): void {
    this.core.abort(this.stack.clock.now(), this.conn);
  }

  setNoDelay(noDelay: boolean): void {
    if (this.conn.released) return;
    this.core.setOption(this.stack.clock.now(), this.conn, { noDelay });
  }

  setKeepAlive(enable: boolean, idle: number): void {
    if (this.conn.released) return;
    const options = idle > 0 ? { keepalive: enable, keepIdle: idle } : { keepalive: enable };
    this.core.setOption(this.stack.clock.now(), this.conn, options);
  }
}
