// The transmission control block (RFC 9293 3.3.1) of one connection, and of one listener.
// Every figure a user may want (state, srtt, cwnd, ...) is a plain field: reading it costs
// no call. Timers are absolute deadlines in microseconds (-1 when not armed).

import { SendBuffer, ReceiveBuffer } from './buffers.js';
import type { CongestionControl, CongestionState } from './congestion.js';
import type { TcpErrorCode } from './errors.js';
import type { TcpParams } from './params.js';
import { CLOSED } from './states.js';

export const NO_TIMER = -1;

export class TcpListener {
  readonly family: 4 | 6 = 4;
  /** 0 means any local address. */
  readonly localAddress: number;
  readonly localPort: number;
  backlog: number;
  readonly params: TcpParams;
  /** Established connections not yet accepted, oldest first. */
  readonly acceptQueue: TcpConnection[] = [];
  /** Connections of this listener still in SYN_RECEIVED. */
  halfOpen = 0;
  closed = false;
  /** Anything the host wants to hang on the listener. */
  user: unknown = undefined;

  constructor(localAddress: number, localPort: number, backlog: number, params: TcpParams) {
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.backlog = backlog;
    this.params = params;
  }
}

export class TcpConnection implements CongestionState {
  // Identity. Addresses are IPv4 as unsigned 32-bit numbers; `family` keeps room for IPv6.
  // Limitation: only IPv4 addresses are carried; IPv6 needs 128-bit addresses here, in the
  // demultiplexing key and in the ISN and port hashes.
  readonly family: 4 | 6 = 4;
  readonly localAddress: number;
  readonly localPort: number;
  readonly remoteAddress: number;
  readonly remotePort: number;
  /** Next connection in the same demultiplexing bucket. */
  hashNext: TcpConnection | null = null;
  /** The listener a passive connection came from, until accepted. */
  listener: TcpListener | null = null;
  /** Anything the host wants to hang on the connection (its socket object). */
  user: unknown = undefined;

  state = CLOSED;
  params: TcpParams;
  cc: CongestionControl;
  /** True once the connection left the core's tables (CLOSED event sent). */
  released = false;
  /** The application closed: it will neither read nor write again. */
  userClosed = false;
  /** shutdown(SHUT_RD): incoming data is acknowledged and discarded. */
  readShutdown = false;
  /** The application asked for a FIN after the queued data (shutdown(SHUT_WR) or close). */
  finQueued = false;
  /** Why the connection failed, for the next user call (SO_ERROR). */
  error: TcpErrorCode | null = null;
  /** Last ICMP soft error (RFC 1122 4.2.3.9), reported if the connection then times out. */
  softError: TcpErrorCode | null = null;
  /** The application wants a WRITABLE event when send space frees up. */
  wantWritable = false;

  // Send sequence space (RFC 9293 3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent (BSD snd_max); sndNxt moves back on retransmission. */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Sequence number of the first byte in the send buffer. */
  sndBufSeq = 0;
  /** Shift applied to the windows the peer advertises (RFC 7323 2.2). */
  sndWscale = 0;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised (BSD rcv_adv). */
  rcvAdv = 0;
  /** Shift applied to the windows we advertise. */
  rcvWscale = 0;
  /** Shift we offered on our SYN (used if the peer agrees). */
  requestedWscale = 0;
  /** The SYN goes without window scale, SACK and timestamps from now on (rexmitDropsOptions). */
  synOptionsDropped = false;
  /** An out-of-order FIN waiting for the data before it (sequence number), or -1. */
  pendingFinSeq = -1;

  // Options in force.
  tsOk = false;
  tsRecent = 0;
  /** When tsRecent was last updated (RFC 7323 5.5: invalid after 24 days idle). */
  tsRecentAge = 0;
  tsOffset = 0;
  lastAckSent = 0;
  sackOk = false;
  /** A duplicate range to report as the first SACK block of the next ACK (RFC 2883), or
   *  dsackLeft === dsackRight when none. */
  dsackLeft = 0;
  dsackRight = 0;
  /** Both sides sent the window-scale option (RFC 7323 2.2). */
  wscaleOk = false;
  ecnOk = false;
  /** RFC 3168 6.1.3: set ECE on ACKs until the peer's CWR. */
  ecnEchoPending = false;
  /** RFC 3168 6.1.2: set CWR on the next new data segment. */
  cwrPending = false;
  /** React to ECE at most once per window: no reaction until sndUna passes this. */
  ecnRecover = 0;

  // Segment sizes.
  /** Sender MSS: the most payload one segment carries (options already subtracted). */
  smss: number;
  /** MSS we offered. */
  rcvMss: number;
  /** MSS the peer offered (or the default). */
  peerMss: number;
  pathMtu: number;

  // RTT estimation (RFC 6298), microseconds. srtt 0 until the first sample.
  srtt = 0;
  rttvar = 0;
  rto: number;
  /** Exponent of the retransmission backoff (BSD t_rxtshift). */
  backoff = 0;
  /** Segment being timed without timestamps: its sequence number and send time. */
  rttSeq = 0;
  rttTime = -1;
  /** Total segments retransmitted on this connection. */
  retransmissions = 0;

  // Congestion control (RFC 5681, 6582, 3042).
  cwnd = 0;
  ssthresh = 0x7fffffff;
  bytesInFlight = 0;
  dupAcks = 0;
  inRecovery = false;
  /** A partial ACK already restarted the timer in this recovery (RFC 6582 3.2 step 5). */
  partialAckSeen = false;
  recover = 0;

  // ACK generation (RFC 1122 4.2.3.2, RFC 5681 4.2).
  /** Full-sized segments received since the last ACK we sent. */
  unackedSegments = 0;
  ackNow = false;

  // Timers, absolute microseconds or NO_TIMER.
  retransmitAt = NO_TIMER;
  persistAt = NO_TIMER;
  delayedAckAt = NO_TIMER;
  keepaliveAt = NO_TIMER;
  /** TIME_WAIT 2MSL or FIN_WAIT_2 lifetime. */
  closeAt = NO_TIMER;
  /** Connection-establishment limit. */
  establishAt = NO_TIMER;
  /** The earliest of the timers above: what the host's timer wheel reads. */
  deadline = NO_TIMER;
  persistBackoff = 0;
  /** Zero-window probes sent since a segment last arrived: the peer may be gone. */
  persistProbesUnanswered = 0;
  keepaliveProbes = 0;
  /** Last time a segment arrived (keepalive idle time). */
  lastReceived = 0;
  /** Last time data was sent, for restarting after idle (RFC 5681 4.1). */
  lastSent = 0;

  // RFC 5961 7 rate limit of challenge ACKs.
  challengeWindowStart = 0;
  challengeCount = 0;

  // Traffic.
  bytesReceived = 0;
  bytesSent = 0;

  sendBuffer: SendBuffer;
  receiveBuffer: ReceiveBuffer;

  constructor(
    params: TcpParams,
    cc: CongestionControl,
    localAddress: number,
    localPort: number,
    remoteAddress: number,
    remotePort: number,
  ) {
    this.params = params;
    this.cc = cc;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.pathMtu = params.mtu;
    this.rcvMss = params.mtu - 40;
    this.peerMss = params.defaultMss;
    this.smss = params.defaultMss;
    this.rto = params.rtoInitial;
    this.sendBuffer = new SendBuffer(params.sendBuffer, params.mtu);
    this.receiveBuffer = new ReceiveBuffer(params.receiveBuffer, params.reassemblyRanges);
  }

  /** Bytes the application can read now. */
  get readableBytes(): number {
    return this.receiveBuffer.length;
  }

  /** Bytes the application can queue now. */
  get writableBytes(): number {
    return this.finQueued ? 0 : this.sendBuffer.free;
  }

  /** Sequence number of our FIN, once queued. */
  get finSeq(): number {
    return (this.sndBufSeq + this.sendBuffer.length) >>> 0;
  }
}
