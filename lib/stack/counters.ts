import { debuglog } from 'node:util';

/** `NODE_DEBUG=utcp` turns these lines on; off, a drop costs one counter increment. */
export const debug = debuglog('utcp');

/**
 * The stack's own counters, named after the MIB objects they mirror: RFC 4293 (IP-MIB:
 * `ipSystemStats*` without the prefix, `icmpMsgStats*` per message type) and plain names for
 * ARP, which has no counter MIB of its own. TCP counters (RFC 4022) come from the core.
 */
export class StackCounters {
  // RFC 4293 ipSystemStatsTable
  ipInReceives = 0;
  ipInHdrErrors = 0;
  ipInAddrErrors = 0;
  ipInUnknownProtos = 0;
  ipInDiscards = 0;
  ipInDelivers = 0;
  ipOutRequests = 0;
  ipOutNoRoutes = 0;
  ipOutDiscards = 0;
  ipOutTransmits = 0;
  ipReasmReqds = 0;
  ipReasmOKs = 0;
  ipReasmFails = 0;

  // RFC 4293 icmpStatsTable and icmpMsgStatsTable (the RFC 2011 names per type)
  icmpInMsgs = 0;
  icmpInErrors = 0;
  icmpOutMsgs = 0;
  icmpOutErrors = 0;
  icmpInEchos = 0;
  icmpInEchoReps = 0;
  icmpInDestUnreachs = 0;
  icmpInTimeExcds = 0;
  icmpOutEchos = 0;
  icmpOutEchoReps = 0;
  icmpOutDestUnreachs = 0;

  arpInRequests = 0;
  arpInReplies = 0;
  arpOutRequests = 0;
  arpOutReplies = 0;
  arpOutGratuitous = 0;
  arpResolveFailures = 0;

  ethInFrames = 0;
  ethOutFrames = 0;

  /** Every frame or packet the stack let go of, by reason. */
  readonly drops: Record<string, number> = Object.create(null);

  /** Counts a drop under `reason` and logs it at debug level with `detail` when given. */
  drop(reason: string, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    if (debug.enabled) debug('drop %s%s', reason, detail === undefined ? '' : ': ' + detail);
  }

  snapshot(): Record<string, number | Record<string, number>> {
    const out: Record<string, number | Record<string, number>> = {};
    for (const [key, value] of Object.entries(this)) {
      if (typeof value === 'number') out[key] = value;
    }
    out.drops = { ...this.drops };
    return out;
  }
}
