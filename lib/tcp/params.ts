// Every tunable of the TCP core in one place, with the source of its default.
// Times are integer microseconds; sizes are bytes unless the name says otherwise.

export const MICROSECONDS_PER_MILLISECOND = 1_000;
export const MICROSECONDS_PER_SECOND = 1_000_000;
const ms = MICROSECONDS_PER_MILLISECOND;
const s = MICROSECONDS_PER_SECOND;

export interface TcpParams {
  /** Maximum segment lifetime; TIME_WAIT lasts twice this. FreeBSD net.inet.tcp.msl
   *  (RFC 9293 3.4.2 suggests 2 minutes; FreeBSD uses 30 s). */
  msl: number;
  /** Give up an active or passive open after this long: FreeBSD tcp_keepinit (75 s,
   *  the RFC 1122 4.2.3.5 R2 for SYN of at least 3 minutes is a SHOULD, not a MUST). */
  connectionTimeout: number;
  /** RTO before the first RTT sample. RFC 6298 2.1. */
  rtoInitial: number;
  /** Lower bound of the RTO. RFC 6298 2.4 (1 s). */
  rtoMin: number;
  /** Upper bound of the RTO. RFC 6298 2.5 (at least 60 s). */
  rtoMax: number;
  /** Added to every timeout computed from an RTT estimate or backed off, as FreeBSD's
   *  TCPT_RANGESET does with net.inet.tcp.rexmit_slop. 0 in the RFC 6298 profile. */
  rtoSlop: number;
  /** Round both buffers up to a multiple of the MSS once it is known (FreeBSD tcp_mss). */
  roundBuffersToMss: boolean;
  /** Granularity G of the clock in RFC 6298 2.2/2.3. */
  clockGranularity: number;
  /** Retransmissions of one segment before the connection is dropped with ETIMEDOUT.
   *  FreeBSD TCP_MAXRXTSHIFT; RFC 1122 4.2.3.5 R2 of at least 100 s is met with backoff. */
  maxRetransmits: number;
  /** SYN/SYN-ACK retransmissions before giving up (further bounded by connectionTimeout).
   *  FreeBSD retries the SYN TCP_MAXRXTSHIFT times within tcp_keepinit. */
  maxSynRetransmits: number;
  /** Delayed-ACK timer. FreeBSD net.inet.tcp.delacktime (40 ms); RFC 5681 4.2 < 500 ms. */
  delayedAckTime: number;
  /** Delayed ACK on or off (RFC 1122 4.2.3.2, RFC 5681 4.2). FreeBSD net.inet.tcp.delayed_ack. */
  delayedAck: boolean;
  /** Keepalive idle time before the first probe. RFC 1122 4.2.3.6 (>= 2 hours). */
  keepIdle: number;
  /** Time between keepalive probes. FreeBSD net.inet.tcp.keepintvl (75 s). */
  keepInterval: number;
  /** Unanswered probes before the connection is dropped. FreeBSD net.inet.tcp.keepcnt. */
  keepCount: number;
  /** FIN_WAIT_2 lifetime once the application has closed. FreeBSD
   *  net.inet.tcp.finwait2_timeout (60 s). */
  finWait2Timeout: number;
  /** Persist timer bounds. FreeBSD TCPTV_PERSMIN / TCPTV_PERSMAX. */
  persistMin: number;
  persistMax: number;
  /** MSS assumed when the peer sends none. RFC 9293 3.7.1 (536 for IPv4). */
  defaultMss: number;
  /** Floor for the peer's MSS, so a tiny MSS cannot turn a transfer into a flood of
   *  48-byte segments. FreeBSD net.inet.tcp.minmss (216). */
  minMss: number;
  /** MTU of the path until told otherwise; the MSS we offer is this minus 40. */
  mtu: number;
  /** Initial congestion window in segments. RFC 6928. */
  initialWindowSegments: number;
  /** Duplicate ACKs that trigger fast retransmit. RFC 5681 3.2. */
  dupAckThreshold: number;
  /** Limited transmit (RFC 3042). */
  limitedTransmit: boolean;
  /** Send buffer. FreeBSD net.inet.tcp.sendspace (32 KiB). */
  sendBuffer: number;
  /** Receive buffer, which bounds the window and the out-of-order data.
   *  FreeBSD net.inet.tcp.recvspace (64 KiB). */
  receiveBuffer: number;
  /** Out-of-order ranges kept per connection (the bytes are bounded by receiveBuffer). */
  reassemblyRanges: number;
  /** Offer window scaling (RFC 7323 2). FreeBSD net.inet.tcp.rfc1323. */
  windowScaling: boolean;
  /** Shift we offer: -1 picks the smallest that covers the receive buffer; RFC 7323 2.3
   *  caps it at 14. */
  windowScale: number;
  /** Offer timestamps (RFC 7323 3). */
  timestamps: boolean;
  /** Timestamp clock period: one TSval tick every this many microseconds (RFC 7323 5.4
   *  asks for 1 ms .. 1 s). */
  timestampTick: number;
  /** Offer SACK-permitted and send SACK blocks (RFC 2018). */
  sack: boolean;
  /** ECN (RFC 3168): 'off', 'passive' (accept when the peer asks), 'on' (ask and accept).
   *  FreeBSD net.inet.tcp.ecn.enable=2 is 'passive'. */
  ecn: 'off' | 'passive' | 'on';
  /** Challenge ACKs (RFC 5961 3, 4, 5) instead of acting on in-window RST/SYN. FreeBSD
   *  net.inet.tcp.insecure_rst=0 / insecure_syn=0. */
  challengeAcks: boolean;
  /** At most this many challenge ACKs per connection per challengeAckPeriod (RFC 5961 7).
   *  FreeBSD net.inet.tcp.ack_war_cnt / ack_war_timewindow (5 per 1 s). */
  challengeAckLimit: number;
  challengeAckPeriod: number;
  /** Half-open connections kept per listener beyond which SYNs are dropped.
   *  FreeBSD kern.ipc.somaxconn (128) also bounds the accept queue. */
  maxBacklog: number;
  /** Ephemeral port range. RFC 6056 2.1 recommends the IANA range 49152-65535. */
  ephemeralFirst: number;
  ephemeralLast: number;
  /** Nagle's algorithm (RFC 1122 4.2.3.4, RFC 9293 3.7.4) unless noDelay. */
  noDelay: boolean;
  /** Keepalive on new connections (RFC 1122 4.2.3.6: off by default). */
  keepalive: boolean;
  /** Advertised window follows free receive space only in steps of at least
   *  min(buffer/2, MSS) (RFC 9293 3.8.6.2.2 receiver SWS avoidance). */
  receiverSwsAvoidance: boolean;
  /** Segments held in one ACK-per-every-N policy: ACK at least every this many full
   *  segments (RFC 5681 4.2: every second). */
  ackEvery: number;
  /** Shift the ISN clock applies: RFC 6528 3 uses a 4 µs timer M. */
  isnClockPeriod: number;
}

export const defaultParams: Readonly<TcpParams> = Object.freeze({
  msl: 30 * s,
  connectionTimeout: 75 * s,
  rtoInitial: 1 * s,
  rtoMin: 1 * s,
  rtoMax: 60 * s,
  rtoSlop: 0,
  roundBuffersToMss: false,
  clockGranularity: 1 * ms,
  maxRetransmits: 12,
  maxSynRetransmits: 6,
  delayedAckTime: 40 * ms,
  delayedAck: true,
  keepIdle: 2 * 60 * 60 * s,
  keepInterval: 75 * s,
  keepCount: 8,
  finWait2Timeout: 60 * s,
  persistMin: 5 * s,
  persistMax: 60 * s,
  defaultMss: 536,
  minMss: 216,
  mtu: 1500,
  initialWindowSegments: 10,
  dupAckThreshold: 3,
  limitedTransmit: true,
  sendBuffer: 32 * 1024,
  receiveBuffer: 64 * 1024,
  reassemblyRanges: 32,
  windowScaling: true,
  windowScale: -1,
  timestamps: true,
  timestampTick: 1 * ms,
  sack: true,
  ecn: 'off',
  challengeAcks: true,
  challengeAckLimit: 5,
  challengeAckPeriod: 1 * s,
  maxBacklog: 128,
  ephemeralFirst: 49152,
  ephemeralLast: 65535,
  noDelay: false,
  keepalive: false,
  receiverSwsAvoidance: true,
  ackEvery: 2,
  isnClockPeriod: 4,
} satisfies TcpParams);

/**
 * What the FreeBSD packetdrill suite assumes of its host (FreeBSD 13/14 defaults), as core
 * parameters. Each entry names the FreeBSD behaviour it mirrors.
 */
export const freebsdParams: Readonly<Partial<TcpParams>> = Object.freeze({
  // net.inet.tcp.rexmit_min=30 ms; TCPTV_RTOBASE 1 s; TCPTV_REXMTMAX 64 s.
  rtoMin: 30 * ms,
  rtoInitial: 1 * s,
  rtoMax: 64 * s,
  // net.inet.tcp.rexmit_slop=200 ms, added by TCPT_RANGESET to every computed timeout.
  rtoSlop: 200 * ms,
  // tcp_mss() rounds so_snd/so_rcv up to a multiple of the MSS (65536 → 65700 for 1460).
  roundBuffersToMss: true,
  // kern.hz=1000 gives a 1 ms tick for RTT estimation and timestamps.
  clockGranularity: 1 * ms,
  timestampTick: 1 * ms,
  // net.inet.tcp.delacktime=40 ms (TCPTV_DELACK).
  delayedAckTime: 40 * ms,
  // net.inet.tcp.msl=30 s.
  msl: 30 * s,
  // net.inet.tcp.keepinit=75 s.
  connectionTimeout: 75 * s,
  // net.inet.tcp.sendspace=32768, net.inet.tcp.recvspace=65536.
  sendBuffer: 32768,
  receiveBuffer: 65536,
  // FreeBSD picks the smallest shift covering kern.ipc.maxsockbuf (2 MiB): 6.
  windowScale: 6,
  // net.inet.tcp.ecn.enable=2: answer ECN but do not ask for it.
  ecn: 'passive',
  // net.inet.tcp.insecure_rst=0, insecure_syn=0; ack_war_cnt=5 per 1000 ms.
  challengeAcks: true,
  challengeAckLimit: 5,
  challengeAckPeriod: 1 * s,
  // net.inet.tcp.minmss=216.
  minMss: 216,
  // net.inet.tcp.initcwnd_segments=10.
  initialWindowSegments: 10,
  // net.inet.tcp.finwait2_timeout=60 s.
  finWait2Timeout: 60 * s,
  // net.inet.ip.portrange.first/last: 10000-65535 on FreeBSD.
  ephemeralFirst: 10000,
  ephemeralLast: 65535,
  // TCP_MAXRXTSHIFT=12 for data and SYN alike; net.inet.tcp.keepinit usually ends a SYN
  // first.
  maxRetransmits: 12,
  maxSynRetransmits: 12,
});

/** Reject parameter sets that would make the core misbehave rather than fail loudly later. */
export function resolveParams(overrides: Partial<TcpParams> | undefined): TcpParams {
  const p: TcpParams = { ...defaultParams, ...overrides };
  const positive: (keyof TcpParams)[] = [
    'msl',
    'connectionTimeout',
    'rtoInitial',
    'rtoMin',
    'rtoMax',
    'delayedAckTime',
    'keepIdle',
    'keepInterval',
    'keepCount',
    'finWait2Timeout',
    'persistMin',
    'persistMax',
    'sendBuffer',
    'receiveBuffer',
    'timestampTick',
  ];
  for (const key of positive) {
    const v = p[key] as number;
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`TCP parameter ${key} must be a positive integer, got ${v}`);
    }
  }
  if (p.rtoMin > p.rtoMax) throw new RangeError('rtoMin exceeds rtoMax');
  if (!Number.isInteger(p.windowScale) || p.windowScale < -1 || p.windowScale > 14) {
    throw new RangeError('windowScale must be -1 or 0..14 (RFC 7323 2.3)');
  }
  if (p.ephemeralFirst < 1 || p.ephemeralLast > 65535 || p.ephemeralFirst > p.ephemeralLast) {
    throw new RangeError('ephemeral port range must lie within 1..65535');
  }
  if (p.mtu < 68 + 40) throw new RangeError('mtu too small');
  return p;
}
