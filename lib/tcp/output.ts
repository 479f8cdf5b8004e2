// Segment output (netsem deliver_out_1, RFC 9293 3.10.2 and 3.8.6): what to send now, given
// the windows, Nagle, silly-window avoidance and the FIN; plus resets, challenge ACKs,
// keepalive probes and fast retransmissions. Every segment leaves through `host.transmit`
// with the core's one reused `OutboundSegment`.

import {
  ACK,
  CWR,
  ECE,
  FIN,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  PSH,
  RST,
  SYN,
  tcpHeaderLength,
  type TcpHeader,
} from '../wire/tcp.js';
import type { CoreContext } from './core.js';
import { NO_TIMER, type TcpConnection } from './connection.js';
import { seqAdd, seqDiff, seqGt, seqLt } from './sequence.js';
import {
  CLOSED,
  CLOSING,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  LISTEN,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
} from './states.js';

/** TSval for `now` (RFC 7323 5.4): a tick clock plus the connection's offset. */
export function timestampNow(c: TcpConnection, now: number): number {
  return (Math.floor(now / c.params.timestampTick) + c.tsOffset) >>> 0;
}

/**
 * The retransmission timeout with backoff applied, within the bounds (RFC 6298 5.5). The slop
 * (FreeBSD) applies once an estimate exists or the timer has backed off.
 */
export function currentRto(c: TcpConnection): number {
  const p = c.params;
  let value = c.rto * 2 ** Math.min(c.backoff, 30);
  if (c.srtt > 0 || c.backoff > 0) value += p.rtoSlop;
  return Math.min(Math.max(value, p.rtoMin), p.rtoMax);
}

/**
 * The window field we send. It is the free receive space, shown as zero when smaller than a
 * segment and a quarter of the buffer (receiver SWS avoidance, RFC 9293 3.8.6.2.2), and it
 * never moves the right edge left (RFC 9293 3.8.6.2.2 "SHOULD NOT shrink").
 */
function windowField(c: TcpConnection, syn: boolean): number {
  let win = c.receiveBuffer.free;
  if (c.params.receiverSwsAvoidance && win < c.receiveBuffer.capacity / 4 && win < c.rcvMss) {
    win = 0;
  }
  if (syn) return Math.min(win, 65535);
  const advertised = seqDiff(c.rcvAdv, c.rcvNxt);
  if (win < advertised) win = advertised;
  const scale = c.rcvWscale;
  // Rounded down the window never offers more than the buffer holds; FreeBSD's tcp_output
  // rounds up to the scale unit instead (windowRoundUp).
  let field = c.params.windowRoundUp ? Math.ceil(win / 2 ** scale) : Math.floor(win / 2 ** scale);
  if (field * 2 ** scale < advertised) field++;
  return Math.min(field, 65535);
}

function fillOptions(c: TcpConnection, h: TcpHeader, now: number, syn: boolean): void {
  const o = h.options;
  o.reset();
  if (syn) {
    const p = c.params;
    o.mss = c.rcvMss;
    o.push(OPT_MSS);
    // On a SYN-ACK an option is offered only if the SYN offered it (RFC 7323 2.2, 3.2;
    // RFC 2018 2). The order mirrors FreeBSD: mss, nop, wscale, sackOK, TS.
    const passive = c.state === SYN_RECEIVED;
    const bare = c.synOptionsDropped;
    const offerScale = passive ? c.wscaleOk : p.windowScaling && !bare;
    if (offerScale) {
      o.windowScale = c.requestedWscale;
      o.push(OPT_NOP);
      o.push(OPT_WINDOW_SCALE);
    }
    const offerSack = passive ? c.sackOk : p.sack && !bare;
    if (offerSack) o.push(OPT_SACK_PERMITTED);
    const offerTs = passive ? c.tsOk : p.timestamps && !bare;
    if (offerTs) {
      if (!offerSack) {
        o.push(OPT_NOP);
        o.push(OPT_NOP);
      }
      o.timestamp = true;
      o.tsVal = timestampNow(c, now);
      o.tsEcr = passive ? c.tsRecent : 0;
      o.push(OPT_TIMESTAMP);
    }
    return;
  }
  if (c.tsOk) {
    o.push(OPT_NOP);
    o.push(OPT_NOP);
    o.timestamp = true;
    o.tsVal = timestampNow(c, now);
    o.tsEcr = c.tsRecent;
    o.push(OPT_TIMESTAMP);
  }
  const ranges = c.receiveBuffer.rangeCount;
  const dsack = c.dsackLeft !== c.dsackRight;
  if (c.sackOk && (ranges > 0 || dsack) && (h.flags & ACK) !== 0) {
    // RFC 2018 4: the block holding the most recent arrival first, then the others from the
    // most recently changed (FreeBSD keeps the same order).
    const max = c.tsOk ? 3 : 4;
    const rb = c.receiveBuffer;
    const r = rb.ranges;
    let n = 0;
    if (dsack) {
      o.sackBlocks[0] = c.dsackLeft;
      o.sackBlocks[1] = c.dsackRight;
      c.dsackLeft = c.dsackRight;
      n = 1;
    }
    let below = Infinity;
    while (n < max && n < ranges + (dsack ? 1 : 0)) {
      let best = -1;
      for (let i = 0; i < ranges; i++) {
        if (rb.stamps[i] < below && (best < 0 || rb.stamps[i] > rb.stamps[best])) best = i;
      }
      if (best < 0) break;
      below = rb.stamps[best];
      o.sackBlocks[2 * n] = r[2 * best];
      o.sackBlocks[2 * n + 1] = r[2 * best + 1];
      n++;
    }
    o.sackBlockCount = n;
    o.push(OPT_NOP);
    o.push(OPT_NOP);
    o.push(OPT_SACK);
  }
}

/**
 * Payload room in the next segment: SMSS less the SACK option the segment will carry (two
 * NOPs, kind and length, eight bytes per block; RFC 2018 3), so that data and options never
 * exceed the MSS. FreeBSD's tcp_output trims the data by the option length the same way.
 */
function segmentRoom(c: TcpConnection): number {
  if (!c.sackOk) return c.smss;
  const dsack = c.dsackLeft !== c.dsackRight ? 1 : 0;
  const blocks = Math.min(c.tsOk ? 3 : 4, c.receiveBuffer.rangeCount + dsack);
  return blocks === 0 ? c.smss : c.smss - 4 - 8 * blocks;
}

/** Builds and transmits one segment of connection `c`. */
function transmit(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  seq: number,
  flags: number,
  dataOffset: number,
  length: number,
  retransmission: boolean,
): void {
  const seg = core.segment;
  const h = seg.header;
  const syn = (flags & SYN) !== 0;
  h.srcPort = c.localPort;
  h.dstPort = c.remotePort;
  h.seq = seq;
  h.ack = (flags & ACK) !== 0 ? c.rcvNxt : 0;
  if (c.ecnOk && !syn) {
    // RFC 3168 6.1.3 / 6.1.2.
    if (c.ecnEchoPending && (flags & ACK) !== 0) flags |= ECE;
    if (c.cwrPending && length > 0 && !retransmission) {
      flags |= CWR;
      c.cwrPending = false;
    }
  }
  h.flags = flags;
  h.urgentPointer = 0;
  h.checksum = 0;
  // A reset advertises no window (FreeBSD).
  h.window = (flags & RST) !== 0 ? 0 : windowField(c, syn);
  fillOptions(c, h, now, syn);
  h.headerLength = tcpHeaderLength(h.options);
  if (length > 0) {
    c.sendBuffer.view(dataOffset, length);
    seg.payload = c.sendBuffer.viewBuffer;
    seg.payloadOffset = c.sendBuffer.viewOffset;
  } else {
    seg.payloadOffset = 0;
  }
  seg.payloadLength = length;
  h.payloadLength = length;
  seg.family = c.family;
  seg.localAddress = c.localAddress;
  seg.remoteAddress = c.remoteAddress;
  // RFC 3168 6.1.5: retransmissions and pure ACKs are not ECN-capable.
  seg.ecn = c.ecnOk && length > 0 && !retransmission ? 2 : 0;
  seg.connection = c;

  core.counters.tcpOutSegs++;
  if (retransmission) {
    core.counters.tcpRetransSegs++;
    c.retransmissions++;
  }
  if ((flags & ACK) !== 0) {
    c.lastAckSent = c.rcvNxt;
    const right = seqAdd(c.rcvNxt, syn ? h.window : h.window * 2 ** c.rcvWscale);
    if (seqGt(right, c.rcvAdv) || syn) c.rcvAdv = right;
    c.delayedAckAt = NO_TIMER;
    c.unackedSegments = 0;
    c.ackNow = false;
  }
  if (length > 0) {
    c.lastSent = now;
    c.bytesSent += length;
  }
  core.host.transmit(seg);
}

function armRetransmit(c: TcpConnection, now: number): void {
  if (c.retransmitAt === NO_TIMER) {
    c.retransmitAt = now + currentRto(c);
    c.persistAt = NO_TIMER;
  }
}

function updateFlight(c: TcpConnection): void {
  c.bytesInFlight = seqDiff(c.sndMax, c.sndUna);
}

/**
 * Sends everything the state, windows and algorithms allow now (BSD tcp_output).
 * `forceOne` is the persist timer's: one segment regardless of Nagle and silly-window
 * avoidance (the override timeout of RFC 9293 3.8.6.2.1), or one byte into a zero window
 * (the probe of RFC 9293 3.8.6.1).
 */
export function output(core: CoreContext, now: number, c: TcpConnection, forceOne = false): void {
  if (c.released || c.state === CLOSED || c.state === LISTEN) return;

  // In SYN_RECEIVED the only acknowledgment we can send is the SYN-ACK again.
  if (c.state === SYN_RECEIVED && c.ackNow) c.sndNxt = c.iss;
  if ((c.state === SYN_SENT || c.state === SYN_RECEIVED) && c.sndNxt === c.iss) {
    let flags = SYN;
    if (c.state === SYN_RECEIVED) flags |= ACK;
    if (c.state === SYN_SENT && c.params.ecn === 'on') flags |= ECE | CWR;
    if (c.state === SYN_RECEIVED && c.ecnOk) flags |= ECE;
    const again = seqLt(c.iss, c.sndMax);
    c.ackNow = false;
    transmit(core, now, c, c.iss, flags, 0, 0, again);
    c.sndNxt = seqAdd(c.iss, 1);
    if (!again) {
      c.sndMax = c.sndNxt;
      if (c.rttTime < 0) {
        c.rttTime = now;
        c.rttSeq = c.iss;
      }
    }
    updateFlight(c);
    armRetransmit(c, now);
    return;
  }
  if (c.state === SYN_SENT || c.state === SYN_RECEIVED) {
    // Only the handshake is in flight; an ACK requested here would be a bare ACK the peer
    // cannot use, so it waits for the handshake.
    c.ackNow = false;
    return;
  }

  // RFC 5681 4.1: after an idle period longer than the RTO, restart from the initial window.
  if (c.sndNxt === c.sndUna && c.sndMax === c.sndUna && now - c.lastSent > c.rto) {
    c.cc.onIdle(c, c.params.initialWindowSegments);
  }

  for (;;) {
    const inFlight = seqDiff(c.sndNxt, c.sndUna);
    const bufferLength = c.sendBuffer.length;
    const dataOffset = seqDiff(c.sndNxt, c.sndBufSeq);
    const available = Math.max(0, bufferLength - dataOffset);
    let usable = Math.min(c.sndWnd, c.cwnd) - inFlight;
    if (forceOne && usable <= 0 && available > 0 && inFlight === 0) usable = 1;
    const room = segmentRoom(c);
    const length = Math.max(0, Math.min(available, usable, room));
    const retransmitting = seqLt(c.sndNxt, c.sndMax);
    const finNow =
      c.finQueued &&
      dataOffset + length === bufferLength &&
      c.state !== FIN_WAIT_2 &&
      c.state !== TIME_WAIT &&
      seqDiff(c.sndNxt, c.finSeq) + length === 0;

    let send = false;
    if (length > 0) {
      if (length === room || retransmitting || forceOne) send = true;
      else if (length === available && (c.params.noDelay || inFlight === 0 || c.finQueued)) {
        // Nagle (RFC 1122 4.2.3.4): a short segment only when nothing is unacknowledged.
        send = true;
      } else if (c.maxSndWnd > 0 && length >= c.maxSndWnd / 2) {
        // Sender SWS avoidance (RFC 9293 3.8.6.2.1): at least half the largest window.
        send = true;
      }
    } else if (finNow) {
      send = true;
    }
    if (!send) break;

    let flags = ACK;
    if (finNow) flags |= FIN;
    if (length > 0 && dataOffset + length === bufferLength) flags |= PSH;
    const seq = c.sndNxt;
    transmit(core, now, c, seq, flags, dataOffset, length, retransmitting);
    if (!retransmitting && c.rttTime < 0 && !c.tsOk && length > 0) {
      // RFC 6298 3 / Karn: time one segment that is not a retransmission.
      c.rttTime = now;
      c.rttSeq = seq;
    }
    c.sndNxt = seqAdd(c.sndNxt, length + (finNow ? 1 : 0));
    if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
    updateFlight(c);
    armRetransmit(c, now);
    if (forceOne) break;
  }

  if (c.ackNow) sendAck(core, now, c);

  if (c.sndWnd === 0 && !forceOne && c.sendBuffer.length > 0) {
    // A zero window with data to deliver: everything goes back to SND.UNA and the persist
    // timer probes until the window opens (RFC 9293 3.8.6.1; BSD tcp_output).
    c.sndNxt = c.sndUna;
    c.retransmitAt = NO_TIMER;
    c.backoff = 0;
    if (c.persistAt === NO_TIMER) startPersist(c, now);
    return;
  }

  // Anything outstanding needs a timer to recover it (RFC 6298 5.1).
  if (seqGt(c.sndMax, c.sndUna) && c.persistAt === NO_TIMER) armRetransmit(c, now);

  // Data waits with nothing in flight and no timer to get it out: the usable window is too
  // small for the silly-window rules. The persist timer sends it anyway later (the override
  // timeout of RFC 9293 3.8.6.2.1; BSD tcp_setpersist).
  const waiting = c.sendBuffer.length - Math.max(0, seqDiff(c.sndNxt, c.sndBufSeq)) > 0;
  if (waiting && c.sndNxt === c.sndUna && c.retransmitAt === NO_TIMER && c.persistAt === NO_TIMER) {
    startPersist(c, now);
  }
}

/** Arms the persist timer with backoff, within FreeBSD's TCPTV_PERSMIN..PERSMAX. */
export function startPersist(c: TcpConnection, now: number): void {
  const base = c.srtt > 0 ? c.srtt + 4 * c.rttvar : c.params.rtoInitial;
  const backedOff = base * 2 ** Math.min(c.persistBackoff, 30);
  // srtt and rttvar are fractional µs; deadlines are whole ones.
  const wait = Math.min(Math.max(backedOff, c.params.persistMin), c.params.persistMax);
  c.persistAt = now + Math.ceil(wait);
}

/** A bare ACK now (RFC 9293 3.10.7.4 "send an acknowledgment"). */
export function sendAck(core: CoreContext, now: number, c: TcpConnection): void {
  if (c.state === SYN_SENT || c.state === CLOSED || c.state === LISTEN) return;
  if (c.state === SYN_RECEIVED) {
    // The only thing to acknowledge with is the SYN-ACK.
    c.sndNxt = c.iss;
    output(core, now, c);
    return;
  }
  // While our FIN is unacknowledged, BSD repeats it on every ACK (tcp_outflags of FIN_WAIT_1,
  // CLOSING and LAST_ACK carry FIN), at the FIN's own sequence number.
  if (c.finQueued && c.sndMax === seqAdd(c.finSeq, 1) && c.sndNxt === c.sndMax) {
    if (c.state === FIN_WAIT_1 || c.state === CLOSING || c.state === LAST_ACK) {
      transmit(core, now, c, c.finSeq, ACK | FIN, 0, 0, false);
      return;
    }
  }
  // While retransmitting, sndNxt lags behind what the peer has seen; a bare ACK carries the
  // next new sequence number so the peer finds it acceptable (BSD tcp_output).
  transmit(core, now, c, c.sndMax, ACK, 0, 0, false);
}

/** RFC 5961 7: a challenge ACK, at most challengeAckLimit per challengeAckPeriod. */
export function sendChallengeAck(core: CoreContext, now: number, c: TcpConnection): void {
  const p = c.params;
  if (now - c.challengeWindowStart >= p.challengeAckPeriod) {
    c.challengeWindowStart = now;
    c.challengeCount = 0;
  }
  if (c.challengeCount >= p.challengeAckLimit) {
    core.counters.challengeAcksSuppressed++;
    return;
  }
  c.challengeCount++;
  core.counters.challengeAcksSent++;
  // A bare ACK at the highest sequence number sent: no SYN-ACK from SYN_RECEIVED and no
  // repeated FIN (FreeBSD tcp_send_challenge_ack).
  transmit(core, now, c, c.sndMax, ACK, 0, 0, false);
}

/** Resends the first unacknowledged segment without moving sndNxt (fast retransmit). */
export function retransmitFirst(core: CoreContext, now: number, c: TcpConnection): void {
  const dataOffset = seqDiff(c.sndUna, c.sndBufSeq);
  const available = c.sendBuffer.length - dataOffset;
  const length = Math.max(0, Math.min(available, segmentRoom(c)));
  const finHere =
    c.finQueued && dataOffset + length === c.sendBuffer.length && seqLt(c.finSeq, c.sndMax);
  if (length === 0 && !finHere) return;
  let flags = ACK;
  if (finHere) flags |= FIN;
  if (length > 0 && dataOffset + length === c.sendBuffer.length) flags |= PSH;
  transmit(core, now, c, c.sndUna, flags, dataOffset, length, true);
}

/** RST for an aborted connection (RFC 9293 3.10.5): FreeBSD sends RST|ACK at the highest
 *  sequence number sent, which the peer finds in its window. */
export function sendReset(core: CoreContext, now: number, c: TcpConnection): void {
  const flags = c.state === SYN_SENT ? RST : RST | ACK;
  transmit(core, now, c, c.sndMax, flags, 0, 0, false);
  core.counters.tcpOutRsts++;
}

/** Keepalive probe (RFC 1122 4.2.3.6): SEG.SEQ = SND.NXT - 1, no data, asking for an ACK. */
export function sendKeepalive(core: CoreContext, now: number, c: TcpConnection): void {
  transmit(core, now, c, seqAdd(c.sndUna, -1), ACK, 0, 0, false);
  core.counters.keepaliveProbes++;
}

const EMPTY = new Uint8Array(0);

/**
 * The reset that answers a segment with no connection, or an unacceptable one in LISTEN or
 * SYN_SENT (RFC 9293 3.10.7.1, netsem deliver_in_5): if the segment had an ACK,
 * <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
 */
export function replyWithReset(
  core: CoreContext,
  incoming: TcpHeader,
  remoteAddress: number,
  localAddress: number,
): void {
  const seg = core.segment;
  const h = seg.header;
  const inFlags = incoming.flags;
  const seq = incoming.seq;
  const ack = incoming.ack;
  const segLen =
    incoming.payloadLength + ((inFlags & SYN) !== 0 ? 1 : 0) + ((inFlags & FIN) !== 0 ? 1 : 0);
  h.srcPort = incoming.dstPort;
  h.dstPort = incoming.srcPort;
  if ((inFlags & ACK) !== 0) {
    h.seq = ack;
    h.ack = 0;
    h.flags = RST;
  } else {
    h.seq = 0;
    h.ack = seqAdd(seq, segLen);
    h.flags = RST | ACK;
  }
  h.window = 0;
  h.urgentPointer = 0;
  h.checksum = 0;
  h.options.reset();
  h.headerLength = 20;
  h.payloadLength = 0;
  seg.payload = EMPTY;
  seg.payloadOffset = 0;
  seg.payloadLength = 0;
  seg.family = 4;
  seg.localAddress = localAddress;
  seg.remoteAddress = remoteAddress;
  seg.ecn = 0;
  seg.connection = null;
  core.counters.tcpOutSegs++;
  core.counters.tcpOutRsts++;
  core.host.transmit(seg);
}
