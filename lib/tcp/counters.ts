// Counters of one core. The RFC 4022 (TCP-MIB) names come first; then one counter per
// reason a segment is dropped, so every drop can be accounted for.

/** Why an incoming segment was dropped (or answered only with an ACK/RST and discarded). */
export const DROP_REASONS = [
  'no-connection',
  'listen-ack',
  'listen-not-syn',
  'listen-overflow',
  'listen-address',
  'syn-sent-bad-ack',
  'syn-sent-no-syn',
  'syn-sent-rst-unacceptable',
  'bad-ack',
  'ack-too-old',
  'ack-unsent-data',
  'out-of-window',
  'paws',
  'rst-out-of-window',
  'rst-challenged',
  'rst-in-time-wait',
  'syn-challenged',
  'syn-data-discarded',
  'syn-fin',
  'no-ack-flag',
  'after-close',
  'reassembly-full',
  'receive-buffer-full',
  'data-after-fin',
  'stray-ack-in-syn-received',
  'stray-segment',
  'checksum',
  'malformed',
  'icmp-unmatched',
  'icmp-sequence-not-in-flight',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export class TcpCounters {
  // RFC 4022 tcp group.
  tcpActiveOpens = 0;
  tcpPassiveOpens = 0;
  tcpAttemptFails = 0;
  tcpEstabResets = 0;
  tcpInSegs = 0;
  tcpOutSegs = 0;
  tcpRetransSegs = 0;
  tcpInErrs = 0;
  tcpOutRsts = 0;
  // Beyond the MIB.
  challengeAcksSent = 0;
  challengeAcksSuppressed = 0;
  delayedAcks = 0;
  fastRetransmits = 0;
  timeoutRetransmits = 0;
  persistProbes = 0;
  keepaliveProbes = 0;
  keepaliveDrops = 0;
  timeWaitReused = 0;
  pathMtuUpdates = 0;
  icmpErrorsApplied = 0;
  ecnCeReceived = 0;
  ecnEchoReceived = 0;
  readonly drops: Record<DropReason, number>;

  constructor() {
    const drops = {} as Record<DropReason, number>;
    for (const reason of DROP_REASONS) drops[reason] = 0;
    this.drops = drops;
  }

  /** A flat copy for reports and gauges. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(this)) {
      if (typeof value === 'number') out[key] = value;
    }
    for (const reason of DROP_REASONS) out[`drop.${reason}`] = this.drops[reason];
    return out;
  }
}
