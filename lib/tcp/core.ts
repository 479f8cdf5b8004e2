/**
 * The TCP core: one instance per stack. It owns the listeners, the connections and the
 * ephemeral port space, and is a pure state machine.
 *
 * The contract with its host (the stack, the packetdrill runner, the simulator):
 *
 * - Time is an integer count of microseconds, passed in by the caller on every call (`now`).
 *   The core reads no clock, sets no timer and does no I/O. Its only seed is `secret` (ISN
 *   and ephemeral-port hashing, RFC 6528 and RFC 6056), so a run replays exactly.
 * - Inputs: `input()` with a parsed segment (the wire `TcpHeader`, the buffer that holds its
 *   payload at `header.payloadOffset`, the addresses); `icmpError()` for an ICMP error
 *   quoting one of our segments; `tick(now)` (or `timeout(now, conn)` per connection) when a
 *   deadline passes; and the user calls `listen`, `connect`, `accept`, `send`, `recv` (with
 *   peek), `shutdown`, `close`, `abort`, `setOption`. The checksum is the host's to verify,
 *   since it holds the IP header; it reports failures with `countInputError`.
 * - Outputs: `host.transmit(segment)` once per segment, with one `OutboundSegment` record the
 *   core reuses: the header (ports, flags, options filled in), the payload as a view
 *   (buffer, offset, length) valid only during the call, and the addresses. Events go to
 *   `host.event(conn, kind)` with a kind from `TcpEvent`; nothing is allocated per segment
 *   or per event. Whenever a connection's earliest deadline changes, `conn.deadline` holds
 *   it (-1: none) and `host.deadline(conn)` is called, so a timer wheel can follow it.
 * - Errors of user calls are thrown as `TcpError` with a `code`; a call that would block
 *   returns -1 (recv) or a short count (send), as with non-blocking sockets.
 * - Connection figures (state, srtt, rttvar, rto, cwnd, ssthresh, bytesInFlight,
 *   retransmissions) are plain fields of `TcpConnection`.
 */

import { debuglog } from 'node:util';
import { TcpHeader } from '../wire/tcp.js';
import { newReno, type CongestionControl } from './congestion.js';
import { TcpConnection, TcpListener, NO_TIMER } from './connection.js';
import { TcpCounters, type DropReason } from './counters.js';
import { TcpError } from './errors.js';
import { EphemeralPorts, initialSequenceNumber, timestampOffset } from './identifiers.js';
import { outOfRange, resolveParams, type TcpParams } from './params.js';
import {
  CLOSED,
  CLOSE_WAIT,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
  stateName,
} from './states.js';
import { segmentArrives, icmpArrives, type IcmpErrorKind } from './input.js';
import { output, sendReset } from './output.js';
import { connectionTimeout, updateDeadline, startKeepalive } from './timers.js';

const log = debuglog('utcp');

/** What the core tells its host. Values are small integers, compared without allocation. */
export const TcpEvent = {
  /** Handshake complete. For a passive connection: it now waits in `conn.listener`'s accept
   *  queue. */
  ESTABLISHED: 1,
  /** New bytes (or end of stream) can be read. */
  READABLE: 2,
  /** Send space freed after a short `send`. */
  WRITABLE: 3,
  /** The peer sent FIN: `recv` returns 0 once the buffered bytes are read. */
  PEER_CLOSED: 4,
  /** The peer reset the connection (`conn.error` ECONNRESET or ECONNREFUSED). */
  RESET: 5,
  /** Retransmissions, keepalive or establishment gave up (`conn.error` ETIMEDOUT, or the
   *  ICMP soft error that explains it, such as EHOSTUNREACH). */
  TIMED_OUT: 6,
  /** The connection left the core: no timer, port or buffer remains. Last event. */
  CLOSED: 7,
  /** An ICMP hard error ended the connection (`conn.error`, e.g. ECONNREFUSED). */
  ERROR: 8,
} as const;
export type TcpEventKind = (typeof TcpEvent)[keyof typeof TcpEvent];

/** The record handed to `host.transmit`, reused for every segment. */
export class OutboundSegment {
  readonly header = new TcpHeader();
  /** Payload bytes are `payload[payloadOffset .. payloadOffset + payloadLength)`. */
  payload: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  payloadLength = 0;
  family: 4 | 6 = 4;
  localAddress = 0;
  remoteAddress = 0;
  /** ECN codepoint for the IP header (RFC 3168 5): 0 not-ECT, 2 ECT(0). */
  ecn = 0;
  /** The connection sending it, or null for a reset answering a segment with no
   *  connection. */
  connection: TcpConnection | null = null;
}

export interface TcpHost {
  transmit(segment: OutboundSegment): void;
  event(conn: TcpConnection, kind: TcpEventKind): void;
  /** Optional: `conn.deadline` changed. */
  deadline?(conn: TcpConnection): void;
  /** Optional: a path MTU already learnt for `remoteAddress` (RFC 1191), else undefined. */
  pathMtu?(remoteAddress: number): number | undefined;
}

/** Per-connection options users may set (socket options). Times in microseconds. */
export interface ConnectionOptions {
  noDelay?: boolean;
  keepalive?: boolean;
  keepIdle?: number;
  keepInterval?: number;
  keepCount?: number;
  sendBuffer?: number;
  receiveBuffer?: number;
  /** Limit on connection establishment (FreeBSD TCP_KEEPINIT); set on a connection still
   *  opening, it restarts from the moment it is set, as FreeBSD's does. */
  connectionTimeout?: number;
}

export interface CoreOptions {
  /** Secret for RFC 6528 ISNs and RFC 6056 port choice: at least 16 bytes. */
  secret: Uint8Array;
  params?: Partial<TcpParams>;
  congestionControl?: CongestionControl;
  /** Replaces the RFC 6528 ISN, for tests that must start near 2^32 to cross wraparound. */
  initialSequenceNumber?: (now: number, conn: TcpConnection) => number;
}

export interface ConnectRequest extends ConnectionOptions {
  remoteAddress: number;
  remotePort: number;
  localAddress: number;
  /** 0 or absent: an ephemeral port (RFC 6056). */
  localPort?: number;
}

export interface ListenRequest extends ConnectionOptions {
  /** 0 or absent: any local address. */
  localAddress?: number;
  /** 0: an ephemeral port. */
  port: number;
  backlog?: number;
}

/** What input, output and timer rules need from the core. */
export interface CoreContext {
  readonly params: TcpParams;
  readonly counters: TcpCounters;
  readonly segment: OutboundSegment;
  readonly host: TcpHost;
  readonly secret: Uint8Array;
  readonly congestionControl: CongestionControl;
  drop(reason: DropReason, header: TcpHeader | null, detail?: string): void;
  emit(conn: TcpConnection, kind: TcpEventKind): void;
  findConnection(
    localAddress: number,
    localPort: number,
    remoteAddress: number,
    remotePort: number,
  ): TcpConnection | null;
  findListener(localAddress: number, localPort: number): TcpListener | null;
  /** A listener's new SYN_RECEIVED connection, entered in the tables. */
  createPassive(
    now: number,
    listener: TcpListener,
    localAddress: number,
    remoteAddress: number,
    remotePort: number,
  ): TcpConnection;
  /** Leave the tables, release port and buffers, send CLOSED (and the event first). */
  finish(conn: TcpConnection, kind: TcpEventKind | 0): void;
}

function bucketOf(
  localAddress: number,
  localPort: number,
  remoteAddress: number,
  remotePort: number,
): number {
  let h = Math.imul(remoteAddress ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ localAddress ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ ((remotePort << 16) | localPort) ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

export class TcpCore implements CoreContext {
  readonly params: TcpParams;
  readonly counters = new TcpCounters();
  readonly segment = new OutboundSegment();
  readonly host: TcpHost;
  readonly secret: Uint8Array;
  readonly congestionControl: CongestionControl;
  private readonly isnOverride: ((now: number, conn: TcpConnection) => number) | undefined;

  private readonly buckets = new Map<number, TcpConnection>();
  private readonly listeners = new Map<number, TcpListener[]>();
  /** Local port → how many listeners and connections use it. */
  private readonly portUse = new Map<number, number>();
  private readonly ephemeral: EphemeralPorts;
  /** Every live connection, for `tick`. */
  readonly connections = new Set<TcpConnection>();

  constructor(host: TcpHost, options: CoreOptions) {
    if (!(options.secret instanceof Uint8Array) || options.secret.length < 16) {
      throw outOfRange('TcpCore needs a secret of at least 16 bytes (RFC 6528 3)');
    }
    this.host = host;
    this.secret = options.secret;
    this.params = resolveParams(options.params);
    this.congestionControl = options.congestionControl ?? newReno;
    this.isnOverride = options.initialSequenceNumber;
    this.ephemeral = new EphemeralPorts(
      this.secret,
      this.params.ephemeralFirst,
      this.params.ephemeralLast,
    );
  }

  // Inputs --------------------------------------------------------------------------------

  /** One parsed, checksum-verified segment from `remoteAddress` to `localAddress`. */
  input(
    now: number,
    header: TcpHeader,
    buffer: Uint8Array,
    remoteAddress: number,
    localAddress: number,
    ecn = 0,
  ): void {
    this.counters.tcpInSegs++;
    segmentArrives(this, now, header, buffer, remoteAddress, localAddress, ecn);
  }

  /** A segment the host could not accept (bad checksum, malformed header). */
  countInputError(reason: 'checksum' | 'malformed', detail?: string): void {
    this.counters.tcpInSegs++;
    this.counters.tcpInErrs++;
    this.drop(reason, null, detail);
  }

  /**
   * An ICMP error quoting a segment we sent (RFC 5927, RFC 1122 4.2.3.9, RFC 1191). Returns
   * the connection's path MTU when the error was applied, 0 when it was ignored.
   */
  icmpError(
    now: number,
    kind: IcmpErrorKind,
    localAddress: number,
    localPort: number,
    remoteAddress: number,
    remotePort: number,
    quotedSeq: number,
    nextHopMtu = 0,
  ): number {
    const conn = this.findConnection(localAddress, localPort, remoteAddress, remotePort);
    if (conn === null) {
      this.drop('icmp-unmatched', null, `${kind} for port ${localPort}`);
      return 0;
    }
    return icmpArrives(this, now, conn, kind, quotedSeq, nextHopMtu);
  }

  /** Runs every connection timer due at `now`. */
  tick(now: number): void {
    for (const conn of this.connections) {
      if (conn.deadline !== NO_TIMER && conn.deadline <= now) connectionTimeout(this, now, conn);
    }
  }

  /** Runs the timers of one connection that are due (for a host with its own timer wheel). */
  timeout(now: number, conn: TcpConnection): void {
    if (!conn.released) connectionTimeout(this, now, conn);
  }

  /** Earliest deadline of all connections, or -1. */
  nextDeadline(): number {
    let earliest = NO_TIMER;
    for (const conn of this.connections) {
      if (conn.deadline !== NO_TIMER && (earliest === NO_TIMER || conn.deadline < earliest)) {
        earliest = conn.deadline;
      }
    }
    return earliest;
  }

  // User calls ----------------------------------------------------------------------------

  listen(request: ListenRequest): TcpListener {
    const localAddress = request.localAddress ?? 0;
    let port = request.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TcpError('EINVAL', 'listen', `port ${port}`);
    }
    if (port === 0) {
      port = this.ephemeral.choose(localAddress, 0, 0, (p) => !this.portUse.has(p));
      if (port < 0) throw new TcpError('EADDRNOTAVAIL', 'listen', 'no ephemeral port left');
    }
    for (const other of this.listeners.get(port) ?? []) {
      if (other.localAddress === 0 || localAddress === 0 || other.localAddress === localAddress) {
        throw new TcpError('EADDRINUSE', 'listen', `port ${port}`);
      }
    }
    const params = this.connectionParams(request);
    const backlog = Math.max(1, Math.min(request.backlog ?? params.maxBacklog, params.maxBacklog));
    const listener = new TcpListener(localAddress, port, backlog, params);
    const list = this.listeners.get(port);
    if (list) list.push(listener);
    else this.listeners.set(port, [listener]);
    this.usePort(port);
    return listener;
  }

  /** Next established connection of `listener`, or null (EAGAIN). */
  accept(listener: TcpListener): TcpConnection | null {
    const conn = listener.acceptQueue.shift();
    if (conn === undefined) return null;
    conn.listener = null;
    return conn;
  }

  /** Stops listening: queued and half-open connections are reset (RFC 9293 3.10.4). */
  closeListener(now: number, listener: TcpListener): void {
    if (listener.closed) return;
    listener.closed = true;
    const list = this.listeners.get(listener.localPort);
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listeners.delete(listener.localPort);
    }
    this.releasePort(listener.localPort);
    for (const conn of [...this.connections]) {
      if (conn.listener === listener) this.abort(now, conn);
    }
    listener.acceptQueue.length = 0;
  }

  /** Active open (RFC 9293 3.10.1): sends the SYN; ESTABLISHED or an error event follows. */
  connect(now: number, request: ConnectRequest): TcpConnection {
    const { remoteAddress, remotePort, localAddress } = request;
    if (!Number.isInteger(remotePort) || remotePort <= 0 || remotePort > 65535) {
      throw new TcpError('EINVAL', 'connect', `remote port ${remotePort}`);
    }
    let localPort = request.localPort ?? 0;
    if (!Number.isInteger(localPort) || localPort < 0 || localPort > 65535) {
      throw new TcpError('EINVAL', 'connect', `local port ${localPort}`);
    }
    if (localPort === 0) {
      localPort = this.ephemeral.choose(
        localAddress,
        remoteAddress,
        remotePort,
        (p) =>
          !this.listeners.has(p) &&
          this.findConnection(localAddress, p, remoteAddress, remotePort) === null,
      );
      if (localPort < 0) throw new TcpError('EADDRNOTAVAIL', 'connect', 'no ephemeral port');
    } else if (this.findConnection(localAddress, localPort, remoteAddress, remotePort)) {
      throw new TcpError('EADDRINUSE', 'connect', `port ${localPort}`);
    }
    const params = this.connectionParams(request);
    const conn = new TcpConnection(
      params,
      this.congestionControl,
      localAddress,
      localPort,
      remoteAddress,
      remotePort,
    );
    this.initialise(now, conn);
    conn.state = SYN_SENT;
    conn.establishAt = now + params.connectionTimeout;
    this.enter(conn);
    this.counters.tcpActiveOpens++;
    output(this, now, conn);
    updateDeadline(this, conn);
    return conn;
  }

  /** Queues bytes; returns how many were taken (0 when the buffer is full). */
  send(now: number, conn: TcpConnection, data: Uint8Array, offset = 0, length?: number): number {
    const count = length ?? data.length - offset;
    if (conn.error !== null) throw new TcpError(conn.error, 'send');
    if (conn.finQueued || conn.userClosed) throw new TcpError('EPIPE', 'send');
    if (conn.released || conn.state === CLOSED) throw new TcpError('ENOTCONN', 'send');
    const taken = conn.sendBuffer.write(data, offset, count);
    if (taken < count) conn.wantWritable = true;
    if (taken > 0 && conn.state !== SYN_SENT && conn.state !== SYN_RECEIVED) {
      output(this, now, conn);
      updateDeadline(this, conn);
    }
    return taken;
  }

  /**
   * Zero-copy send: the caller wrote `count` bytes in place at
   * `conn.sendBuffer.data[conn.sendBuffer.tail ..]` (at most `contiguousFree`). Returns the
   * count taken.
   */
  sendCommit(now: number, conn: TcpConnection, count: number): number {
    if (conn.error !== null) throw new TcpError(conn.error, 'send');
    if (conn.finQueued || conn.userClosed) throw new TcpError('EPIPE', 'send');
    if (conn.released || conn.state === CLOSED) throw new TcpError('ENOTCONN', 'send');
    const taken = conn.sendBuffer.commit(count);
    if (taken > 0 && conn.state !== SYN_SENT && conn.state !== SYN_RECEIVED) {
      output(this, now, conn);
      updateDeadline(this, conn);
    }
    return taken;
  }

  /**
   * Copies received bytes into `dst`. Returns the count, 0 at end of stream, or -1 when
   * nothing is there yet. `peek` leaves the bytes in place (MSG_PEEK).
   */
  recv(
    now: number,
    conn: TcpConnection,
    dst: Uint8Array,
    offset = 0,
    length?: number,
    peek = false,
  ): number {
    const want = length ?? dst.length - offset;
    const buffer = conn.receiveBuffer;
    if (buffer.length === 0 || want === 0) {
      if (conn.error !== null) throw new TcpError(conn.error, 'recv');
      if (this.peerFinished(conn) || conn.readShutdown) return 0;
      if (conn.state === CLOSED && !conn.released) return 0;
      return want === 0 ? 0 : -1;
    }
    const before = this.windowToAdvertise(conn);
    const n = buffer.read(dst, offset, want, !peek);
    if (!peek && n > 0) this.maybeWindowUpdate(now, conn, before);
    return n;
  }

  /** Zero-copy receive: the caller read `count` bytes in place from
   *  `conn.receiveBuffer.data[conn.receiveBuffer.head ..]` (see `contiguousReadable`). */
  consume(now: number, conn: TcpConnection, count: number): void {
    const before = this.windowToAdvertise(conn);
    conn.receiveBuffer.consume(Math.min(count, conn.receiveBuffer.length));
    this.maybeWindowUpdate(now, conn, before);
  }

  shutdown(now: number, conn: TcpConnection, how: 'read' | 'write' | 'both'): void {
    if (conn.released || conn.state === CLOSED) throw new TcpError('ENOTCONN', 'shutdown');
    if (how !== 'write') {
      conn.readShutdown = true;
      conn.receiveBuffer.consume(conn.receiveBuffer.length);
    }
    if (how !== 'read') this.queueFin(now, conn);
    updateDeadline(this, conn);
  }

  /**
   * close(2): no more reads or writes. Unread data, or data arriving later, resets the
   * connection (RFC 2525 2.17, RFC 9293 3.10.4); otherwise a FIN follows the queued data.
   */
  close(now: number, conn: TcpConnection): void {
    if (conn.released) return;
    if (conn.userClosed) return;
    conn.userClosed = true;
    conn.wantWritable = false;
    if (conn.state === SYN_SENT || conn.state === CLOSED) {
      this.finish(conn, 0);
      return;
    }
    if (conn.receiveBuffer.length > 0 && conn.state !== TIME_WAIT) {
      this.abort(now, conn);
      return;
    }
    this.queueFin(now, conn);
    if (conn.state === FIN_WAIT_2) conn.closeAt = now + conn.params.finWait2Timeout;
    updateDeadline(this, conn);
  }

  /** ABORT (RFC 9293 3.10.5): a reset to the peer, and the connection is gone. */
  abort(now: number, conn: TcpConnection): void {
    if (conn.released) return;
    if (conn.state !== SYN_SENT && conn.state !== CLOSED && conn.state !== TIME_WAIT) {
      sendReset(this, now, conn);
    }
    conn.userClosed = true;
    this.finish(conn, 0);
  }

  setOption(now: number, conn: TcpConnection, options: ConnectionOptions): void {
    if (conn.params === this.params) conn.params = { ...this.params };
    const p = conn.params;
    if (options.noDelay !== undefined) p.noDelay = options.noDelay;
    if (options.keepIdle !== undefined) p.keepIdle = positive(options.keepIdle, 'keepIdle');
    if (options.keepInterval !== undefined) {
      p.keepInterval = positive(options.keepInterval, 'keepInterval');
    }
    if (options.keepCount !== undefined) p.keepCount = positive(options.keepCount, 'keepCount');
    if (options.connectionTimeout !== undefined) {
      p.connectionTimeout = positive(options.connectionTimeout, 'connectionTimeout');
      if (conn.establishAt !== NO_TIMER) {
        conn.establishAt = now + p.connectionTimeout;
        updateDeadline(this, conn);
      }
    }
    if (options.keepalive !== undefined) {
      p.keepalive = options.keepalive;
      conn.keepaliveAt = NO_TIMER;
      if (p.keepalive) startKeepalive(conn, now);
    }
    if (options.sendBuffer !== undefined) {
      p.sendBuffer = positive(options.sendBuffer, 'sendBuffer');
      conn.sendBuffer.resize(p.sendBuffer);
    }
    if (options.receiveBuffer !== undefined) {
      // Limitation: the receive buffer is sized when the connection is created, before the
      // window scale is chosen; changing it later keeps the old size. Fixing it needs a ring
      // that can grow while out-of-order data sits in it.
      p.receiveBuffer = positive(options.receiveBuffer, 'receiveBuffer');
    }
    if (!conn.released && conn.state !== CLOSED) {
      output(this, now, conn);
      updateDeadline(this, conn);
    }
  }

  // Gauges ---------------------------------------------------------------------------------

  get connectionCount(): number {
    return this.connections.size;
  }

  get listenerCount(): number {
    let n = 0;
    for (const list of this.listeners.values()) n += list.length;
    return n;
  }

  get portsInUse(): number {
    return this.portUse.size;
  }

  /** Connections with at least one timer armed. */
  get timersArmed(): number {
    let n = 0;
    for (const conn of this.connections) if (conn.deadline !== NO_TIMER) n++;
    return n;
  }

  /** Bytes of send and receive rings allocated by live connections. */
  get bufferBytes(): number {
    let n = 0;
    for (const conn of this.connections) {
      if (conn.sendBuffer.allocated) n += conn.sendBuffer.capacity;
      if (conn.receiveBuffer.allocated) n += conn.receiveBuffer.capacity;
    }
    return n;
  }

  connectionsByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const conn of this.connections) {
      const name = stateName(conn.state);
      out[name] = (out[name] ?? 0) + 1;
    }
    return out;
  }

  // CoreContext ---------------------------------------------------------------------------

  drop(reason: DropReason, header: TcpHeader | null, detail?: string): void {
    this.counters.drops[reason]++;
    if (log.enabled) {
      const what = header
        ? `${header.srcPort}>${header.dstPort} flags 0x${header.flags.toString(16)} ` +
          `seq ${header.seq} ack ${header.ack} len ${header.payloadLength}`
        : '';
      log('tcp drop %s %s%s', reason, what, detail ? ` (${detail})` : '');
    }
  }

  emit(conn: TcpConnection, kind: TcpEventKind): void {
    this.host.event(conn, kind);
  }

  findConnection(
    localAddress: number,
    localPort: number,
    remoteAddress: number,
    remotePort: number,
  ): TcpConnection | null {
    let c: TcpConnection | null =
      this.buckets.get(bucketOf(localAddress, localPort, remoteAddress, remotePort)) ?? null;
    while (c !== null) {
      if (
        c.remotePort === remotePort &&
        c.localPort === localPort &&
        c.remoteAddress === remoteAddress &&
        c.localAddress === localAddress
      ) {
        return c;
      }
      c = c.hashNext;
    }
    return null;
  }

  findListener(localAddress: number, localPort: number): TcpListener | null {
    const list = this.listeners.get(localPort);
    if (list === undefined) return null;
    let wildcard: TcpListener | null = null;
    for (const l of list) {
      if (l.localAddress === localAddress) return l;
      if (l.localAddress === 0) wildcard = l;
    }
    return wildcard;
  }

  createPassive(
    now: number,
    listener: TcpListener,
    localAddress: number,
    remoteAddress: number,
    remotePort: number,
  ): TcpConnection {
    const conn = new TcpConnection(
      listener.params,
      this.congestionControl,
      localAddress,
      listener.localPort,
      remoteAddress,
      remotePort,
    );
    conn.listener = listener;
    listener.halfOpen++;
    this.initialise(now, conn);
    conn.state = SYN_RECEIVED;
    conn.establishAt = now + conn.params.connectionTimeout;
    this.enter(conn);
    this.counters.tcpPassiveOpens++;
    return conn;
  }

  finish(conn: TcpConnection, kind: TcpEventKind | 0): void {
    if (conn.released) return;
    const wasSynReceived = conn.state === SYN_RECEIVED;
    conn.state = CLOSED;
    conn.released = true;
    conn.retransmitAt = NO_TIMER;
    conn.persistAt = NO_TIMER;
    conn.delayedAckAt = NO_TIMER;
    conn.keepaliveAt = NO_TIMER;
    conn.closeAt = NO_TIMER;
    conn.establishAt = NO_TIMER;
    updateDeadline(this, conn);
    this.leave(conn);
    const listener = conn.listener;
    if (listener !== null) {
      if (wasSynReceived) listener.halfOpen--;
      const i = listener.acceptQueue.indexOf(conn);
      if (i >= 0) listener.acceptQueue.splice(i, 1);
    }
    // The application may still read what arrived before a FIN; everything else goes.
    conn.sendBuffer.drop(conn.sendBuffer.length);
    conn.receiveBuffer.clearRanges();
    if (kind !== 0 && listener === null) this.emit(conn, kind);
    if (listener === null) this.emit(conn, TcpEvent.CLOSED);
    conn.listener = null;
  }

  // Internals -----------------------------------------------------------------------------

  private connectionParams(options: ConnectionOptions): TcpParams {
    const keys = Object.keys(options).filter(
      (k) =>
        k !== 'remoteAddress' &&
        k !== 'remotePort' &&
        k !== 'localAddress' &&
        k !== 'localPort' &&
        k !== 'port' &&
        k !== 'backlog',
    );
    if (keys.length === 0) return this.params;
    const merged: Partial<TcpParams> = { ...this.params };
    for (const k of keys) {
      const v = (options as Record<string, unknown>)[k];
      if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    }
    return resolveParams(merged);
  }

  private initialise(now: number, conn: TcpConnection): void {
    // A path MTU the host learnt for this destination bounds the segments from the start.
    const learnt = this.host.pathMtu?.(conn.remoteAddress);
    if (learnt !== undefined && learnt < conn.pathMtu) conn.pathMtu = learnt;
    const iss = this.isnOverride
      ? this.isnOverride(now, conn) >>> 0
      : initialSequenceNumber(
          this.secret,
          now,
          conn.params.isnClockPeriod,
          conn.localAddress,
          conn.localPort,
          conn.remoteAddress,
          conn.remotePort,
        );
    conn.iss = iss;
    conn.sndUna = iss;
    conn.sndNxt = iss;
    conn.sndMax = iss;
    conn.sndBufSeq = (iss + 1) >>> 0;
    conn.recover = iss;
    conn.ecnRecover = iss;
    conn.tsOffset = timestampOffset(
      this.secret,
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      conn.remotePort,
    );
    conn.lastReceived = now;
    conn.lastSent = now;
    conn.cc.init(conn, conn.params.initialWindowSegments);
    let shift = conn.params.windowScale;
    if (shift < 0) {
      shift = 0;
      while (shift < 14 && conn.params.receiveBuffer >> shift > 65535) shift++;
    }
    conn.requestedWscale = conn.params.windowScaling ? shift : 0;
  }

  private enter(conn: TcpConnection): void {
    const key = bucketOf(conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort);
    conn.hashNext = this.buckets.get(key) ?? null;
    this.buckets.set(key, conn);
    this.connections.add(conn);
    this.usePort(conn.localPort);
  }

  private leave(conn: TcpConnection): void {
    const key = bucketOf(conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort);
    let c = this.buckets.get(key) ?? null;
    let previous: TcpConnection | null = null;
    while (c !== null && c !== conn) {
      previous = c;
      c = c.hashNext;
    }
    if (c === conn) {
      if (previous === null) {
        if (conn.hashNext === null) this.buckets.delete(key);
        else this.buckets.set(key, conn.hashNext);
      } else {
        previous.hashNext = conn.hashNext;
      }
      conn.hashNext = null;
    }
    if (this.connections.delete(conn)) this.releasePort(conn.localPort);
  }

  private usePort(port: number): void {
    this.portUse.set(port, (this.portUse.get(port) ?? 0) + 1);
  }

  private releasePort(port: number): void {
    const n = (this.portUse.get(port) ?? 0) - 1;
    if (n <= 0) this.portUse.delete(port);
    else this.portUse.set(port, n);
  }

  private peerFinished(conn: TcpConnection): boolean {
    return (
      conn.state === CLOSE_WAIT ||
      conn.state === LAST_ACK ||
      conn.state === TIME_WAIT ||
      conn.state === CLOSING ||
      (conn.state === CLOSED && conn.error === null)
    );
  }

  private queueFin(now: number, conn: TcpConnection): void {
    if (conn.finQueued) return;
    if (conn.state === SYN_SENT) {
      // Nothing was sent but the SYN: the connection simply goes (RFC 9293 3.10.4).
      this.finish(conn, 0);
      return;
    }
    conn.finQueued = true;
    if (conn.state === ESTABLISHED || conn.state === SYN_RECEIVED) conn.state = FIN_WAIT_1;
    else if (conn.state === CLOSE_WAIT) conn.state = LAST_ACK;
    if (conn.state === FIN_WAIT_1 || conn.state === LAST_ACK) output(this, now, conn);
  }

  /** Window we would advertise now (bytes), used to decide on window updates. */
  private windowToAdvertise(conn: TcpConnection): number {
    return conn.receiveBuffer.free;
  }

  /**
   * After the application read: send a window update when the window grows by two
   * segments or half the buffer (RFC 9293 3.8.6.2.2; FreeBSD tcp_output), so a zero or
   * small window always reopens.
   */
  private maybeWindowUpdate(now: number, conn: TcpConnection, before: number): void {
    if (conn.state < ESTABLISHED || conn.released) return;
    const advertised = Math.max(0, (conn.rcvAdv - conn.rcvNxt) | 0);
    const grown = conn.receiveBuffer.free - advertised;
    if (
      grown >= 2 * conn.rcvMss ||
      grown >= conn.receiveBuffer.capacity / 2 ||
      (advertised < conn.rcvMss && before < conn.rcvMss && grown > 0 && grown >= conn.rcvMss)
    ) {
      conn.ackNow = true;
    }
    output(this, now, conn);
    updateDeadline(this, conn);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TcpError('EINVAL', 'setsockopt', `${name} must be a positive integer`);
  }
  return value;
}
