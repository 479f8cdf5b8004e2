// Congestion control behind an interface, so other algorithms plug in. The core calls these
// hooks at the points RFC 5681 names; loss recovery bookkeeping (duplicate-ACK counting,
// the recovery point of RFC 6582, limited transmit) stays in the input rules.

/** What an algorithm may read and write on a connection. */
export interface CongestionState {
  cwnd: number;
  ssthresh: number;
  /** Sender MSS (SMSS) in bytes. */
  smss: number;
  /** Bytes sent and not yet acknowledged (FlightSize). */
  bytesInFlight: number;
}

export interface CongestionControl {
  readonly name: string;
  /** Initial window (RFC 5681 3.1, RFC 6928). */
  init(c: CongestionState, initialWindowSegments: number): void;
  /** New data acknowledged outside recovery. */
  onAck(c: CongestionState, ackedBytes: number): void;
  /** Third duplicate ACK or equivalent: returns nothing, sets ssthresh and cwnd. */
  onEnterRecovery(c: CongestionState): void;
  /** Partial ACK during recovery (RFC 6582 3.2 step 5). */
  onPartialAck(c: CongestionState, ackedBytes: number): void;
  /** Each further duplicate ACK during recovery (RFC 5681 3.2 step 4). */
  onDupAckInRecovery(c: CongestionState): void;
  /** Full ACK ends recovery (RFC 6582 3.2 step 3). */
  onExitRecovery(c: CongestionState, flightAfterAck: number): void;
  /** Retransmission timeout (RFC 5681 3.1 equation 4, then cwnd = 1 SMSS). */
  onTimeout(c: CongestionState): void;
  /** ECN-Echo seen, at most once per window (RFC 3168 6.1.2). */
  onCongestionSignal(c: CongestionState): void;
  /** Idle restart (RFC 5681 4.1). */
  onIdle(c: CongestionState, initialWindowSegments: number): void;
}

/** RFC 5681 3.1 equation 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
function halfFlight(c: CongestionState): number {
  return Math.max(Math.floor(c.bytesInFlight / 2), 2 * c.smss);
}

/** NewReno: RFC 5681 slow start and congestion avoidance with RFC 6582 fast recovery. */
export const newReno: CongestionControl = {
  name: 'newreno',

  init(c, initialWindowSegments) {
    // RFC 6928: IW = min(10 * MSS, max(2 * MSS, 14600)) for 10 segments.
    c.cwnd =
      initialWindowSegments >= 10
        ? Math.min(initialWindowSegments * c.smss, Math.max(2 * c.smss, 14600))
        : initialWindowSegments * c.smss;
    c.ssthresh = 0x7fffffff;
  },

  onAck(c, ackedBytes) {
    if (c.cwnd < c.ssthresh) {
      // RFC 5681 3.1 slow start with appropriate byte counting limit L = SMSS (RFC 3465).
      c.cwnd += Math.min(ackedBytes, c.smss);
    } else {
      // RFC 5681 3.1 equation 3, once per ACK.
      c.cwnd += Math.max(1, Math.floor((c.smss * c.smss) / c.cwnd));
    }
  },

  onEnterRecovery(c) {
    c.ssthresh = halfFlight(c);
    // RFC 5681 3.2 step 3: inflate by the three segments that left the network.
    c.cwnd = c.ssthresh + 3 * c.smss;
  },

  onPartialAck(c, ackedBytes) {
    // RFC 6582 3.2 step 5: deflate by the amount acked, add back one SMSS if that much left.
    c.cwnd = Math.max(c.cwnd - ackedBytes, c.smss);
    if (ackedBytes >= c.smss) c.cwnd += c.smss;
  },

  onDupAckInRecovery(c) {
    c.cwnd += c.smss;
  },

  onExitRecovery(c, flightAfterAck) {
    // RFC 6582 3.2 step 3, option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
    c.cwnd = Math.min(c.ssthresh, Math.max(flightAfterAck, c.smss) + c.smss);
  },

  onTimeout(c) {
    c.ssthresh = halfFlight(c);
    c.cwnd = c.smss;
  },

  onCongestionSignal(c) {
    c.ssthresh = halfFlight(c);
    c.cwnd = Math.max(c.ssthresh, c.smss);
  },

  onIdle(c, initialWindowSegments) {
    // RFC 5681 4.1: restart window = min(IW, cwnd).
    const iw = Math.min(initialWindowSegments * c.smss, Math.max(2 * c.smss, 14600));
    c.cwnd = Math.min(c.cwnd, iw);
  },
};
