// What the runner needs from the TCP implementation under test: a host on a virtual clock
// that takes segments and ICMP errors, runs its timers when told the time, emits segments,
// and offers socket-like calls that never block (the runner supplies blocking semantics).
// `core-host.ts` implements it over the µTCP core.

import { type TcpParams } from '../../tcp/params.js';
import { type TcpInfo } from './python.js';

/** One option as it appears on the wire, in order. */
export type WireOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'TS'; val: number; ecr: number }
  | { kind: 'unknown'; type: number; length: number };

/** A TCP segment on the wire between the host and the script's remote end. */
export interface WireSegment {
  /** The host's address and port (the "local" end of the script). */
  localPort: number;
  remotePort: number;
  seq: number;
  ack: number;
  /** FIN 0x01 .. CWR 0x80, as in the TCP header. */
  flags: number;
  window: number;
  urgentPointer: number;
  options: WireOption[];
  payloadLength: number;
  /** The two ECN bits of the IP header (RFC 3168 5): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE. */
  ecn: number;
}

export interface EmittedSegment extends WireSegment {
  /** Virtual time at which the host sent it, in microseconds. */
  time: number;
  /** Offset of the first payload byte that differs from what the application wrote (the
   *  runner writes and injects zeros, as packetdrill does), or -1 when all match. */
  payloadMismatch: number;
}

/** An ICMP error quoting a segment the host sent (RFC 792, RFC 5927). */
export interface IcmpError {
  type: number;
  code: number;
  /** Next-hop MTU of a fragmentation-needed message (RFC 1191). */
  mtu?: number;
  localPort: number;
  remotePort: number;
  /** Sequence number in the quoted TCP header. */
  seq: number;
}

/** An errno name as POSIX spells it, or a number of bytes / a descriptor. */
export type CallResult = { ok: true; value: number } | { ok: false; errno: string };

/** A socket handle inside the host. */
export type HostSocket = number;

export interface TcpHost {
  /** Current virtual time. */
  readonly now: number;
  /** The earliest time at which a timer is due, if any. */
  nextDeadline(): number | undefined;
  /** Run everything due up to `time` (inclusive) and set the clock to it. */
  advanceTo(time: number): void;
  /** Segments sent since the last call, oldest first. */
  takeOutput(): EmittedSegment[];

  /** Deliver a segment from the remote end. */
  injectTcp(segment: WireSegment): void;
  injectIcmp(error: IcmpError): void;
  /** Change parameters of the running host (a `sysctl -w` mid-script). */
  setParams(params: Partial<TcpParams>): void;

  socket(): HostSocket;
  bind(s: HostSocket, port: number): CallResult;
  listen(s: HostSocket, backlog: number): CallResult;
  /** Start an active open; value 0 when established at once, else errno EINPROGRESS. */
  connect(s: HostSocket, remotePort: number): CallResult;
  /** A completed connection, or errno EAGAIN. */
  accept(s: HostSocket): CallResult;
  /** Bytes queued, or EAGAIN when the buffer is full. */
  send(s: HostSocket, length: number): CallResult;
  /** Bytes read (0 at end of stream), or EAGAIN when nothing is there yet. */
  recv(s: HostSocket, length: number, peek: boolean): CallResult;
  /** Bytes ready to read (FIONREAD). */
  readable(s: HostSocket): number;
  shutdown(s: HostSocket, how: 'read' | 'write' | 'both'): CallResult;
  close(s: HostSocket): CallResult;
  /** SO_ERROR: the pending error (errno name) or undefined; reading it clears it. */
  takeError(s: HostSocket): string | undefined;
  /** For connect on a blocking socket: 'pending' until established or failed. */
  connectStatus(s: HostSocket): 'pending' | 'established' | { errno: string };
  getOption(s: HostSocket, name: string): CallResult;
  setOption(s: HostSocket, name: string, value: number): CallResult;
  /** The port the socket is bound to or connected from, if any. */
  localPort(s: HostSocket): number | undefined;
  info(s: HostSocket): TcpInfo | undefined;
  /** States (RFC names with underscores) of the connections the host holds, with ports. */
  connections(): { state: string; localPort: number; open: boolean }[];
  /** Drop every connection in this state without sending anything (FreeBSD tcpdrop). */
  dropConnections(state: string): void;
}
