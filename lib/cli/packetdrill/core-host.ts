// The runner's host over the µTCP core: a socket table in front of one `TcpCore`, segments
// carried through the real wire encoder and parser in both directions, and the core's timers
// run on the runner's virtual clock.

import {
  OPT_EOL,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  TcpHeader,
  parseTcp,
  writeTcp,
} from '../../wire/tcp.js';
import { type TcpConnection, type TcpListener } from '../../tcp/connection.js';
import {
  type ConnectionOptions,
  type OutboundSegment,
  TcpCore,
  type TcpEventKind,
} from '../../tcp/core.js';
import { TcpError } from '../../tcp/errors.js';
import { type TcpParams, resolveParams } from '../../tcp/params.js';
import { ESTABLISHED, stateName } from '../../tcp/states.js';
import {
  type CallResult,
  type EmittedSegment,
  type HostSocket,
  type IcmpError,
  type TcpHost,
  type WireOption,
  type WireSegment,
} from './host.js';
import { type TcpInfo } from './python.js';
import { type HostConfig } from './runner.js';
import { icmpKind } from './icmp.js';

/** packetdrill's addresses: the host under test and the script's remote end. */
export const LOCAL_ADDRESS = 0xc0a80001; // 192.168.0.1
export const REMOTE_ADDRESS = 0xc0000201; // 192.0.2.1

/** A fixed secret: runs replay exactly (RFC 6528 ISNs and RFC 6056 ports depend on it). */
const SECRET = new Uint8Array(32).fill(0x5a);

interface SocketRecord {
  boundPort?: number;
  listener?: TcpListener;
  conn?: TcpConnection;
  options: ConnectionOptions & Partial<TcpParams>;
  /** SO_ERROR already reported for conn.error. */
  errorReported: boolean;
  /** SO_LINGER time in seconds, -1 when off: 0 makes close() abort with a RST. */
  linger: number;
  closed: boolean;
}

const OK = (value: number): CallResult => ({ ok: true, value });
const ERR = (errno: string): CallResult => ({ ok: false, errno });

function failure(e: unknown): CallResult {
  if (e instanceof TcpError) return ERR(e.code);
  throw e;
}

export function createCoreHost(config: HostConfig): TcpHost {
  return new CoreHost(config.params);
}

class CoreHost implements TcpHost {
  now = 0;
  private readonly core: TcpCore;
  private readonly sockets: SocketRecord[] = [];
  private readonly emitted: EmittedSegment[] = [];
  private readonly frame = new Uint8Array(65536 + 60);
  private readonly header = new TcpHeader();

  constructor(params: Partial<TcpParams>) {
    this.core = new TcpCore(
      {
        transmit: (segment) => this.transmit(segment),
        event: (_conn: TcpConnection, _kind: TcpEventKind) => {},
      },
      { secret: SECRET, params },
    );
  }

  // ---- clock and segments ----

  nextDeadline(): number | undefined {
    const due = this.core.nextDeadline();
    return due < 0 ? undefined : due;
  }

  advanceTo(time: number): void {
    if (time < this.now) return;
    this.now = time;
    this.core.tick(time);
  }

  takeOutput(): EmittedSegment[] {
    return this.emitted.splice(0, this.emitted.length);
  }

  private transmit(segment: OutboundSegment): void {
    // Through the wire encoder, then read back as packetdrill reads the tun device.
    const h = segment.header;
    const length = writeTcp(this.frame, 0, h);
    const options = wireOptions(this.frame, 20, length);
    this.emitted.push({
      time: this.now,
      localPort: h.srcPort,
      remotePort: h.dstPort,
      seq: h.seq >>> 0,
      ack: h.ack >>> 0,
      flags: h.flags,
      window: h.window,
      urgentPointer: h.urgentPointer,
      options,
      payloadLength: segment.payloadLength,
      ecn: segment.ecn,
      payloadMismatch: firstNonZero(segment.payload, segment.payloadOffset, segment.payloadLength),
    });
  }

  injectTcp(s: WireSegment): void {
    const h = new TcpHeader();
    h.srcPort = s.remotePort;
    h.dstPort = s.localPort;
    h.seq = s.seq >>> 0;
    h.ack = s.ack >>> 0;
    h.flags = s.flags;
    h.window = s.window;
    h.urgentPointer = s.urgentPointer;
    const o = h.options;
    o.reset();
    for (const option of s.options) {
      switch (option.kind) {
        case 'eol':
          o.push(OPT_EOL);
          break;
        case 'nop':
          o.push(OPT_NOP);
          break;
        case 'mss':
          o.mss = option.value;
          o.push(OPT_MSS);
          break;
        case 'wscale':
          o.windowScale = option.value;
          o.push(OPT_WINDOW_SCALE);
          break;
        case 'sackOK':
          o.sackPermitted = true;
          o.push(OPT_SACK_PERMITTED);
          break;
        case 'sack':
          o.sackBlockCount = option.blocks.length;
          option.blocks.forEach(([l, r], i) => {
            o.sackBlocks[2 * i] = l >>> 0;
            o.sackBlocks[2 * i + 1] = r >>> 0;
          });
          o.push(OPT_SACK);
          break;
        case 'TS':
          o.timestamp = true;
          o.tsVal = option.val >>> 0;
          o.tsEcr = option.ecr >>> 0;
          o.push(OPT_TIMESTAMP);
          break;
        case 'unknown':
          break;
      }
    }
    const headerLength = writeTcp(this.frame, 0, h);
    this.frame.fill(0, headerLength, headerLength + s.payloadLength);
    const total = headerLength + s.payloadLength;
    const bad = parseTcp(this.frame, 0, total, this.header);
    if (bad !== undefined) {
      this.core.countInputError('malformed', bad);
      return;
    }
    this.core.input(this.now, this.header, this.frame, REMOTE_ADDRESS, LOCAL_ADDRESS, s.ecn);
  }

  injectIcmp(e: IcmpError): void {
    const kind = icmpKind(e.type, e.code);
    if (kind === undefined) return;
    this.core.icmpError(
      this.now,
      kind,
      LOCAL_ADDRESS,
      e.localPort,
      REMOTE_ADDRESS,
      e.remotePort,
      e.seq >>> 0,
      e.mtu ?? 0,
    );
  }

  /** A sysctl mid-run changes the core's parameters, which connections share unless a
   *  socket option gave them their own (as FreeBSD sysctls reach existing connections). */
  setParams(params: Partial<TcpParams>): void {
    Object.assign(this.core.params, resolveParams({ ...this.core.params, ...params }));
  }

  // ---- sockets ----

  private record(s: HostSocket): SocketRecord {
    const r = this.sockets[s];
    if (r === undefined) throw new RangeError(`no socket ${s}`);
    return r;
  }

  socket(): HostSocket {
    this.sockets.push({ options: {}, errorReported: false, linger: -1, closed: false });
    return this.sockets.length - 1;
  }

  bind(s: HostSocket, port: number): CallResult {
    const r = this.record(s);
    if (r.boundPort !== undefined || r.conn || r.listener) return ERR('EINVAL');
    r.boundPort = port;
    return OK(0);
  }

  listen(s: HostSocket, backlog: number): CallResult {
    const r = this.record(s);
    if (r.conn) return ERR('EINVAL');
    if (r.listener) return OK(0);
    try {
      r.listener = this.core.listen({
        ...r.options,
        localAddress: 0,
        port: r.boundPort ?? 0,
        backlog: Math.max(1, backlog),
      });
      return OK(0);
    } catch (e) {
      return failure(e);
    }
  }

  connect(s: HostSocket, remotePort: number): CallResult {
    const r = this.record(s);
    if (r.listener) return ERR('EOPNOTSUPP');
    if (r.conn) return ERR(r.conn.state >= ESTABLISHED ? 'EISCONN' : 'EALREADY');
    try {
      r.conn = this.core.connect(this.now, {
        ...r.options,
        remoteAddress: REMOTE_ADDRESS,
        remotePort,
        localAddress: LOCAL_ADDRESS,
        localPort: r.boundPort ?? 0,
      });
    } catch (e) {
      return failure(e);
    }
    return ERR('EINPROGRESS');
  }

  connectStatus(s: HostSocket): 'pending' | 'established' | { errno: string } {
    const conn = this.record(s).conn;
    if (conn === undefined) return { errno: 'ENOTCONN' };
    if (conn.error !== null) return { errno: conn.error };
    if (conn.state >= ESTABLISHED) return 'established';
    if (conn.released) return { errno: 'ECONNREFUSED' };
    return 'pending';
  }

  accept(s: HostSocket): CallResult {
    const r = this.record(s);
    if (!r.listener) return ERR('EINVAL');
    const conn = this.core.accept(r.listener);
    if (conn === null) return ERR('EAGAIN');
    this.sockets.push({ conn, options: {}, errorReported: false, linger: -1, closed: false });
    return OK(this.sockets.length - 1);
  }

  send(s: HostSocket, length: number): CallResult {
    const conn = this.record(s).conn;
    if (conn === undefined) return ERR('ENOTCONN');
    try {
      const taken = this.core.send(this.now, conn, new Uint8Array(length));
      return taken === 0 && length > 0 ? ERR('EAGAIN') : OK(taken);
    } catch (e) {
      return failure(e);
    }
  }

  recv(s: HostSocket, length: number, peek: boolean): CallResult {
    const conn = this.record(s).conn;
    if (conn === undefined) return ERR('ENOTCONN');
    try {
      const n = this.core.recv(this.now, conn, new Uint8Array(length), 0, length, peek);
      return n < 0 ? ERR('EAGAIN') : OK(n);
    } catch (e) {
      return failure(e);
    }
  }

  readable(s: HostSocket): number {
    return this.record(s).conn?.receiveBuffer.length ?? 0;
  }

  shutdown(s: HostSocket, how: 'read' | 'write' | 'both'): CallResult {
    const conn = this.record(s).conn;
    if (conn === undefined) return ERR('ENOTCONN');
    try {
      this.core.shutdown(this.now, conn, how);
      return OK(0);
    } catch (e) {
      return failure(e);
    }
  }

  close(s: HostSocket): CallResult {
    const r = this.record(s);
    r.closed = true;
    try {
      if (r.listener) this.core.closeListener(this.now, r.listener);
      // SO_LINGER with a zero time: close(2) aborts (RFC 9293 3.10.5 ABORT).
      if (r.conn && r.linger === 0) this.core.abort(this.now, r.conn);
      else if (r.conn) this.core.close(this.now, r.conn);
      return OK(0);
    } catch (e) {
      return failure(e);
    }
  }

  takeError(s: HostSocket): string | undefined {
    const r = this.record(s);
    const error = r.conn?.error ?? null;
    if (error === null || r.errorReported) return undefined;
    r.errorReported = true;
    return error;
  }

  getOption(s: HostSocket, name: string): CallResult {
    const r = this.record(s);
    const params = r.conn?.params ?? r.listener?.params ?? { ...this.core.params, ...r.options };
    switch (name) {
      case 'SO_RCVBUF':
        return OK(r.conn ? r.conn.receiveBuffer.capacity : params.receiveBuffer);
      case 'SO_SNDBUF':
        return OK(r.conn ? r.conn.sendBuffer.capacity : params.sendBuffer);
      case 'TCP_NODELAY':
        return OK(params.noDelay ? 1 : 0);
      case 'SO_KEEPALIVE':
        return OK(params.keepalive ? 1 : 0);
      // Socket options count keepalive times in seconds.
      case 'TCP_KEEPIDLE':
        return OK(Math.floor(params.keepIdle / 1_000_000));
      case 'TCP_KEEPINTVL':
        return OK(Math.floor(params.keepInterval / 1_000_000));
      case 'TCP_KEEPCNT':
        return OK(params.keepCount);
      case 'TCP_MAXSEG':
        return OK(r.conn ? r.conn.smss : params.mtu - 40);
      default:
        return ERR('ENOPROTOOPT');
    }
  }

  setOption(s: HostSocket, name: string, value: number): CallResult {
    const r = this.record(s);
    const o: ConnectionOptions & Partial<TcpParams> = {};
    switch (name) {
      case 'SO_LINGER':
        // Limitation: a non-zero linger time closes as without it (close never blocks here);
        // fixing it needs close() to wait for the FIN to be acknowledged.
        r.linger = value;
        return OK(0);
      case 'SO_REUSEADDR':
      case 'SO_REUSEPORT':
        // Every run binds on a fresh core, so address reuse changes nothing.
        return OK(0);
      case 'SO_RCVBUF':
        o.receiveBuffer = value;
        break;
      case 'SO_SNDBUF':
        o.sendBuffer = value;
        break;
      case 'TCP_NODELAY':
        o.noDelay = value !== 0;
        break;
      case 'SO_KEEPALIVE':
        o.keepalive = value !== 0;
        break;
      case 'TCP_KEEPIDLE':
        o.keepIdle = value * 1_000_000;
        break;
      case 'TCP_KEEPINTVL':
        o.keepInterval = value * 1_000_000;
        break;
      case 'TCP_KEEPCNT':
        o.keepCount = value;
        break;
      case 'TCP_KEEPINIT':
        // FreeBSD's limit on connection establishment, in seconds (tcp_keepinit).
        if (value <= 0) return ERR('EINVAL');
        o.connectionTimeout = value * 1_000_000;
        break;
      default:
        return ERR('ENOPROTOOPT');
    }
    if (r.conn) {
      if (o.connectionTimeout !== undefined) return ERR('EINVAL');
      try {
        this.core.setOption(this.now, r.conn, o);
      } catch (e) {
        return failure(e);
      }
    }
    Object.assign(r.options, o);
    return OK(0);
  }

  localPort(s: HostSocket): number | undefined {
    const r = this.record(s);
    return r.conn?.localPort ?? r.listener?.localPort ?? r.boundPort;
  }

  info(s: HostSocket): TcpInfo | undefined {
    const r = this.record(s);
    if (r.listener) {
      return { state: 'LISTEN', timestamps: false, sack: false, windowScale: false, ecn: false };
    }
    const conn = r.conn;
    if (conn === undefined) return undefined;
    return {
      state: stateName(conn.state),
      timestamps: conn.tsOk,
      sack: conn.sackOk,
      windowScale: conn.wscaleOk,
      ecn: conn.ecnOk,
    };
  }

  connections(): { state: string; localPort: number; open: boolean }[] {
    const out: { state: string; localPort: number; open: boolean }[] = [];
    const owned = new Set<TcpConnection>();
    for (const r of this.sockets) {
      if (r.closed) continue;
      if (r.listener) out.push({ state: 'LISTEN', localPort: r.listener.localPort, open: true });
      else if (r.conn) {
        owned.add(r.conn);
        out.push({ state: stateName(r.conn.state), localPort: r.conn.localPort, open: true });
      } else out.push({ state: 'CLOSED', localPort: r.boundPort ?? 0, open: true });
    }
    for (const conn of this.core.connections) {
      if (owned.has(conn)) continue;
      out.push({ state: stateName(conn.state), localPort: conn.localPort, open: false });
    }
    return out;
  }

  dropConnections(state: string): void {
    for (const conn of [...this.core.connections]) {
      if (stateName(conn.state) === state) this.core.abort(this.now, conn);
    }
  }
}

function firstNonZero(buf: Uint8Array, offset: number, length: number): number {
  for (let i = 0; i < length; i++) if (buf[offset + i] !== 0) return i;
  return -1;
}

/** Every option of a written header as packetdrill iterates it: padding EOLs included. */
function wireOptions(buf: Uint8Array, start: number, end: number): WireOption[] {
  const out: WireOption[] = [];
  const read32 = (i: number): number =>
    ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
  let i = start;
  while (i < end) {
    const kind = buf[i];
    if (kind === OPT_EOL || kind === OPT_NOP) {
      out.push({ kind: kind === OPT_EOL ? 'eol' : 'nop' });
      i++;
      continue;
    }
    const size = i + 1 < end ? buf[i + 1] : 0;
    if (size < 2 || i + size > end) {
      out.push({ kind: 'unknown', type: kind, length: size });
      break;
    }
    if (kind === OPT_MSS && size === 4) {
      out.push({ kind: 'mss', value: (buf[i + 2] << 8) | buf[i + 3] });
    } else if (kind === OPT_WINDOW_SCALE && size === 3) {
      out.push({ kind: 'wscale', value: buf[i + 2] });
    } else if (kind === OPT_SACK_PERMITTED && size === 2) {
      out.push({ kind: 'sackOK' });
    } else if (kind === OPT_SACK && (size - 2) % 8 === 0) {
      const blocks: [number, number][] = [];
      for (let b = i + 2; b < i + size; b += 8) blocks.push([read32(b), read32(b + 4)]);
      out.push({ kind: 'sack', blocks });
    } else if (kind === OPT_TIMESTAMP && size === 10) {
      out.push({ kind: 'TS', val: read32(i + 2), ecr: read32(i + 6) });
    } else {
      out.push({ kind: 'unknown', type: kind, length: size });
    }
    i += size;
  }
  return out;
}
