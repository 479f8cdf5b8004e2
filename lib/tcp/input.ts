/**
 * Segment arrival: the input rules of netsem (as in µTCP), updated to RFC 9293 and the RFCs
 * that amend it. Index, rule by rule:
 *
 *   netsem rule        what it covers                             RFC             function
 *   deliver_in_1       SYN to a listener: passive open            9293 3.10.7.2   listenInput
 *   deliver_in_1b      other segment to a listener (ACK gets RST) 9293 3.10.7.2   listenInput
 *   deliver_in_2       SYN-ACK in SYN_SENT: active open completes 9293 3.10.7.3   synSentInput
 *                      (SYN alone: simultaneous open)             9293 3.10.7.3   synSentInput
 *   deliver_in_2a      unacceptable ACK in SYN_SENT: RST          9293 3.10.7.3   synSentInput
 *   deliver_in_3       data, ACK, FIN in a synchronised state     9293 3.10.7.4   synchronisedInput
 *                        sequence check and trimming              9293 3.10.7.4   synchronisedInput
 *                        PAWS, TS.Recent                          7323 5.3, 4.3   synchronisedInput
 *                        ACK processing, window update            9293, 5961 5.2  ackArrives
 *                        duplicate ACKs, fast retransmit/recovery 5681, 6582,3042 duplicateAck
 *                        RTT sample                               6298, 7323 4    rttSample
 *                        text, reassembly, delayed ACK            9293, 5681 4.2  textArrives
 *                        FIN                                      9293 3.10.7.4   finArrives
 *   deliver_in_3a      data for a socket the application closed   2525 2.17       textArrives
 *   deliver_in_3c      stray ACK in SYN_RECEIVED: RST             9293 3.10.7.4   ackArrives
 *   deliver_in_4       RST with no connection: dropped silently   9293 3.10.7.1   noConnection
 *   deliver_in_5       other segment with no connection: RST      9293 3.10.7.1   noConnection
 *   deliver_in_7       RST in a synchronised state                9293, 5961 3.2  resetArrives
 *   deliver_in_7a      RST in SYN_RECEIVED                        9293 3.10.7.4   resetArrives
 *   deliver_in_7b      RST to a listener: ignored                 9293 3.10.7.2   listenInput
 *   deliver_in_7c      RST not acceptable (SYN_SENT, TIME_WAIT)   9293, 1337      synSentInput
 *   deliver_in_7d      RST with acceptable ACK in SYN_SENT        9293 3.10.7.3   synSentInput
 *   deliver_in_8       SYN in a synchronised state: challenge ACK 5961 4.2        synchronisedInput
 *   deliver_in_9       SYN in TIME_WAIT starting a new connection 6191            segmentArrives
 *   deliver_in_icmp_*  ICMP errors                                5927, 1122, 1191 icmpArrives
 */

import { ACK, CWR, ECE, FIN, RST, SYN, type TcpHeader } from '../wire/tcp.js';
import type { CoreContext } from './core.js';
import { TcpEvent } from './core.js';
import { NO_TIMER, type TcpConnection, type TcpListener } from './connection.js';
import {
  currentRto,
  output,
  replyWithReset,
  retransmitFirst,
  sendChallengeAck,
  sendReset,
  timestampNow,
} from './output.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqInWindow, seqLeq, seqLt } from './sequence.js';
import {
  CLOSE_WAIT,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
} from './states.js';
import { enterTimeWait, startKeepalive, updateDeadline } from './timers.js';

/** 24 days: TS.Recent older than this is invalid (RFC 7323 5.5). */
const PAWS_IDLE_LIMIT = 24 * 24 * 60 * 60 * 1_000_000;

export type IcmpErrorKind =
  | 'net-unreachable'
  | 'host-unreachable'
  | 'protocol-unreachable'
  | 'port-unreachable'
  | 'fragmentation-needed'
  | 'admin-prohibited'
  | 'time-exceeded'
  | 'parameter-problem'
  | 'source-quench';

export function segmentArrives(
  core: CoreContext,
  now: number,
  h: TcpHeader,
  buf: Uint8Array,
  remoteAddress: number,
  localAddress: number,
  ecn: number,
): void {
  const flags = h.flags;
  if (core.params.dropSynFin && (flags & (SYN | FIN)) === (SYN | FIN)) {
    // No valid open carries both; FreeBSD's drop_synfin drops them in every state unanswered.
    core.drop('syn-fin', h);
    return;
  }
  let c = core.findConnection(localAddress, h.dstPort, remoteAddress, h.srcPort);

  // deliver_in_9, RFC 6191: a SYN may end TIME_WAIT early when it is clearly newer.
  if (c !== null && c.state === TIME_WAIT && (flags & (SYN | ACK | RST)) === SYN) {
    const newer =
      c.tsOk && h.options.timestamp ? seqGt(h.options.tsVal, c.tsRecent) : seqGt(h.seq, c.rcvNxt);
    const listener = core.findListener(localAddress, h.dstPort);
    if (newer && listener !== null && !listener.closed) {
      core.counters.timeWaitReused++;
      core.finish(c, 0);
      c = null;
    }
  }

  if (c === null) {
    const listener = core.findListener(localAddress, h.dstPort);
    if (listener !== null && !listener.closed) {
      listenInput(core, now, listener, h, buf, remoteAddress, localAddress, ecn);
    } else {
      noConnection(core, h, remoteAddress, localAddress);
    }
    return;
  }

  c.lastReceived = now;
  c.keepaliveProbes = 0;
  c.persistProbesUnanswered = 0;
  if (c.state === SYN_SENT) synSentInput(core, now, c, h, buf, ecn);
  else synchronisedInput(core, now, c, h, buf, ecn);
  if (!c.released) {
    output(core, now, c);
    updateDeadline(core, c);
  }
}

/** deliver_in_4 / deliver_in_5 (RFC 9293 3.10.7.1). */
function noConnection(
  core: CoreContext,
  h: TcpHeader,
  remoteAddress: number,
  localAddress: number,
): void {
  if ((h.flags & RST) !== 0) {
    core.drop('no-connection', h, 'RST');
    return;
  }
  replyWithReset(core, h, remoteAddress, localAddress);
  core.drop('no-connection', h);
}

/** Options of a SYN or SYN-ACK (RFC 9293 3.7.1, RFC 7323 2.2 and 3.2, RFC 2018 2). */
function negotiate(c: TcpConnection, h: TcpHeader, now: number): void {
  const o = h.options;
  const p = c.params;
  // An option we did not offer is not in use whatever the peer says (RFC 7323 1.3).
  const offered = !c.synOptionsDropped;
  c.peerMss = o.mss > 0 ? o.mss : p.defaultMss;
  if (o.windowScale >= 0 && p.windowScaling && offered) {
    c.wscaleOk = true;
    // RFC 7323 2.3: a shift above 14 is used as 14.
    c.sndWscale = Math.min(o.windowScale, 14);
    c.rcvWscale = c.requestedWscale;
  } else {
    c.wscaleOk = false;
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.tsOk = o.timestamp && p.timestamps && offered;
  if (c.tsOk) {
    c.tsRecent = o.tsVal;
    c.tsRecentAge = now;
  }
  c.sackOk = o.sackPermitted && p.sack && offered;
  updateMss(c);
  c.cc.init(c, p.initialWindowSegments);
}

/** SMSS from the peer's MSS (floored), the path MTU and the timestamp option's 12 bytes. */
export function updateMss(c: TcpConnection): void {
  const floor = c.params.minMss;
  let mss = Math.min(Math.max(c.peerMss, floor), Math.max(c.pathMtu - 40, floor));
  if (c.tsOk) mss -= 12;
  c.smss = mss;
}

/** deliver_in_1, deliver_in_1b, deliver_in_7b (RFC 9293 3.10.7.2). */
function listenInput(
  core: CoreContext,
  now: number,
  listener: TcpListener,
  h: TcpHeader,
  buf: Uint8Array,
  remoteAddress: number,
  localAddress: number,
  ecn: number,
): void {
  const flags = h.flags;
  if ((flags & RST) !== 0) {
    core.drop('listen-not-syn', h, 'RST to a listener');
    return;
  }
  if ((flags & ACK) !== 0) {
    // RFC 9293 3.10.7.2 second: any ACK to a listener, a SYN-ACK included, draws a RST. (The
    // FreeBSD suite expects no answer to a SYN-ACK carrying data; the RFC is followed here.)
    replyWithReset(core, h, remoteAddress, localAddress);
    core.drop('listen-ack', h);
    return;
  }
  if ((flags & SYN) === 0) {
    core.drop('listen-not-syn', h);
    return;
  }
  if (listener.halfOpen + listener.acceptQueue.length >= listener.backlog) {
    core.drop('listen-overflow', h);
    return;
  }
  void ecn;
  const c = core.createPassive(now, listener, localAddress, remoteAddress, h.srcPort);
  c.irs = h.seq;
  c.rcvNxt = seqAdd(h.seq, 1);
  c.rcvAdv = c.rcvNxt;
  negotiate(c, h, now);
  // RFC 7323 2.2: the window of a SYN is never scaled.
  c.sndWnd = h.window;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = h.seq;
  c.sndWl2 = c.iss;
  // RFC 3168 6.1.1: an ECN-setup SYN carries ECE and CWR.
  if ((flags & (ECE | CWR)) === (ECE | CWR) && c.params.ecn !== 'off') c.ecnOk = true;
  if (h.payloadLength > 0) {
    // RFC 9293 3.10.7.2: the SYN-ACK acknowledges the SYN alone and the text waits for the
    // connection to be established; a FIN on it is left for the peer to send again.
    if (c.params.keepSynData) holdSynText(c, buf, h.payloadOffset, h.payloadLength);
    else core.drop('syn-data-discarded', h);
  }
  output(core, now, c);
  updateDeadline(core, c);
}

function holdSynText(c: TcpConnection, buf: Uint8Array, offset: number, length: number): void {
  const n = Math.min(length, c.receiveBuffer.free);
  if (n > 0) c.receiveBuffer.hold(c.rcvNxt, buf, offset, n);
}

function storeInOrder(
  c: TcpConnection,
  seq: number,
  buf: Uint8Array,
  offset: number,
  length: number,
): void {
  const n = Math.min(length, c.receiveBuffer.free);
  const advance = c.receiveBuffer.store(c.rcvNxt, seq, buf, offset, n);
  if (advance > 0) {
    c.rcvNxt = seqAdd(c.rcvNxt, advance);
    c.bytesReceived += advance;
  }
}

/** deliver_in_2, deliver_in_2a, deliver_in_7c, deliver_in_7d (RFC 9293 3.10.7.3). */
function synSentInput(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  h: TcpHeader,
  buf: Uint8Array,
  ecn: number,
): void {
  const flags = h.flags;
  const hasAck = (flags & ACK) !== 0;
  if (hasAck && (seqLeq(h.ack, c.iss) || seqGt(h.ack, c.sndMax))) {
    if ((flags & RST) === 0) {
      replyWithReset(core, h, c.remoteAddress, c.localAddress);
    }
    core.drop('syn-sent-bad-ack', h);
    return;
  }
  if ((flags & RST) !== 0) {
    if (hasAck) {
      core.counters.tcpAttemptFails++;
      c.error = 'ECONNREFUSED';
      core.finish(c, TcpEvent.RESET);
    } else {
      core.drop('syn-sent-rst-unacceptable', h);
    }
    return;
  }
  if ((flags & SYN) === 0) {
    core.drop('syn-sent-no-syn', h);
    return;
  }

  c.irs = h.seq;
  c.rcvNxt = seqAdd(h.seq, 1);
  c.rcvAdv = c.rcvNxt;
  negotiate(c, h, now);
  c.sndWnd = h.window;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = h.seq;
  c.sndWl2 = hasAck ? h.ack : c.iss;
  roundBuffers(c);

  if (!hasAck) {
    // Simultaneous open: SYN_RECEIVED, and our SYN goes again with an ACK (RFC 9293 3.5).
    c.state = SYN_RECEIVED;
    if ((flags & (ECE | CWR)) === (ECE | CWR) && c.params.ecn !== 'off') c.ecnOk = true;
    // RFC 9293 3.10.7.3: text on the SYN is queued until ESTABLISHED; the SYN-ACK
    // acknowledges the SYN alone.
    if (h.payloadLength > 0) holdSynText(c, buf, h.payloadOffset, h.payloadLength);
    c.sndNxt = c.iss;
    c.retransmitAt = NO_TIMER;
    return;
  }

  // RFC 3168 6.1.1: an ECN-setup SYN-ACK carries ECE without CWR.
  if (c.params.ecn === 'on' && (flags & (ECE | CWR)) === ECE) c.ecnOk = true;
  rttSample(c, h, now);
  c.sndUna = h.ack;
  if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
  c.bytesInFlight = seqDiff(c.sndMax, c.sndUna);
  c.retransmitAt = NO_TIMER;
  c.backoff = 0;
  establish(core, now, c);
  c.ackNow = true;
  void ecn;

  // Data and FIN on the SYN-ACK (RFC 9293 3.10.7.3 "continue processing at the sixth step").
  let length = h.payloadLength;
  let fin = (flags & FIN) !== 0;
  const room = Math.max(0, seqDiff(seqAdd(c.rcvNxt, c.receiveBuffer.free), c.rcvNxt));
  if (length > room) {
    length = room;
    fin = false;
  }
  if (length > 0) {
    storeInOrder(c, c.rcvNxt, buf, h.payloadOffset, length);
    core.emit(c, TcpEvent.READABLE);
  }
  if (fin) finArrives(core, now, c);
}

/** FreeBSD tcp_mss: once the MSS is known, buffers become a whole number of segments. */
function roundBuffers(c: TcpConnection): void {
  if (!c.params.roundBuffersToMss) return;
  const mss = Math.min(Math.max(c.peerMss, c.params.minMss), c.pathMtu - 40);
  const round = (n: number) => Math.ceil(n / mss) * mss;
  if (c.sendBuffer.capacity > mss) c.sendBuffer.resize(round(c.sendBuffer.capacity));
  if (c.receiveBuffer.capacity > mss) c.receiveBuffer.resize(round(c.receiveBuffer.capacity));
}

function establish(core: CoreContext, now: number, c: TcpConnection): void {
  roundBuffers(c);
  c.state = ESTABLISHED;
  c.establishAt = NO_TIMER;
  startKeepalive(c, now);
  const listener = c.listener;
  if (listener !== null) {
    listener.halfOpen--;
    listener.acceptQueue.push(c);
  }
  core.emit(c, TcpEvent.ESTABLISHED);

  // Text held since the SYN becomes readable, acknowledged like any in-order arrival.
  const rb = c.receiveBuffer;
  if (rb.rangeCount > 0 && rb.ranges[0] === c.rcvNxt) {
    const advance = rb.store(c.rcvNxt, c.rcvNxt, noBytes, 0, 0);
    c.rcvNxt = seqAdd(c.rcvNxt, advance);
    c.bytesReceived += advance;
    if (!c.params.delayedAck) c.ackNow = true;
    else if (c.delayedAckAt === NO_TIMER) c.delayedAckAt = now + c.params.delayedAckTime;
    core.emit(c, TcpEvent.READABLE);
  }
}

const noBytes = new Uint8Array(0);

/** deliver_in_3 and its companions, for every state but LISTEN and SYN_SENT. */
function synchronisedInput(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  h: TcpHeader,
  buf: Uint8Array,
  ecn: number,
): void {
  const flags = h.flags;
  const o = h.options;
  let seq = h.seq;
  let dataOffset = h.payloadOffset;
  let dataLength = h.payloadLength;
  let fin = (flags & FIN) !== 0;
  let syn = (flags & SYN) !== 0;
  const rst = (flags & RST) !== 0;
  // RCV.WND: what was advertised, or more if the buffer has room beyond what the 16-bit field
  // could say (FreeBSD tcp_input computes it the same way).
  // A passive open not yet established has only the SYN-ACK's window, unscaled and at most
  // 65535: nothing beyond it was ever offered (RFC 9293 3.10.7.4; FreeBSD's syncache keeps
  // that window and checks RSTs against it in syncache_chkrst).
  const rcvWnd =
    c.state === SYN_RECEIVED && c.listener !== null
      ? Math.max(seqDiff(c.rcvAdv, c.rcvNxt), 0)
      : Math.max(c.receiveBuffer.free, seqDiff(c.rcvAdv, c.rcvNxt), 0);

  if (syn && !rst && seq === c.irs && c.state === SYN_RECEIVED) {
    // A retransmitted SYN while our SYN-ACK is unanswered: send the SYN-ACK again.
    if (c.state === SYN_RECEIVED && (flags & ACK) === 0) {
      c.sndNxt = c.iss;
      return;
    }
    // The peer's SYN-ACK in simultaneous open: the SYN is old, the rest is processed, and an
    // ACK goes back (BSD trims the SYN as duplicate data). In a synchronised state an old SYN
    // takes step four like any other (FreeBSD tcp_input checks it before trimming).
    syn = false;
    seq = seqAdd(seq, 1);
    c.ackNow = true;
  }

  // RFC 7323 5.3 R1: PAWS, before the sequence check.
  if (c.tsOk && o.timestamp && !rst && seqLt(o.tsVal, c.tsRecent)) {
    if (now - c.tsRecentAge > PAWS_IDLE_LIMIT) {
      c.tsRecent = o.tsVal;
      c.tsRecentAge = now;
    } else {
      c.ackNow = true;
      core.drop('paws', h);
      return;
    }
  }

  // RST first (RFC 9293 3.10.7.4 first and second, RFC 5961 3.2; RFC 1337 for TIME_WAIT).
  if (rst) {
    if (c.state === TIME_WAIT) {
      core.drop('rst-in-time-wait', h);
      return;
    }
    if (!resetInWindow(c, seq, rcvWnd)) {
      core.drop('rst-out-of-window', h);
      return;
    }
    if (seq === c.rcvNxt || !c.params.rstChallengeAcks) {
      resetArrives(core, c);
    } else {
      sendChallengeAck(core, now, c);
      core.drop('rst-challenged', h);
    }
    return;
  }

  // TIME_WAIT answers anything but an exact duplicate ACK with an ACK, and ignores segments
  // without one (BSD tcp_twcheck).
  if (c.state === TIME_WAIT && !syn) {
    if ((flags & ACK) === 0) {
      core.drop('no-ack-flag', h);
      return;
    }
    const exactDuplicate =
      flags === ACK && dataLength === 0 && seq === c.rcvNxt && h.ack === c.sndMax;
    if (!exactDuplicate) {
      c.ackNow = true;
      if (fin) c.closeAt = now + 2 * c.params.msl;
      core.drop('out-of-window', h, 'TIME_WAIT');
      return;
    }
  }

  if (c.state === TIME_WAIT && syn && (flags & ACK) === 0 && !c.params.timeWaitAnswersSyn) {
    core.drop('no-ack-flag', h, 'SYN in TIME_WAIT');
    return;
  }

  // Fourth: SYN in a synchronised state (RFC 5961 4.2; RFC 9293 3.10.7.4 fourth).
  if (syn) {
    if (c.state === SYN_RECEIVED && c.listener !== null) {
      // Passive open: back to LISTEN, which here means the embryonic connection goes.
      core.counters.tcpAttemptFails++;
      core.drop('syn-challenged', h, 'SYN in SYN_RECEIVED');
      core.finish(c, 0);
      return;
    }
    if (
      !c.params.synChallengeAcks &&
      c.state !== TIME_WAIT &&
      seqInWindow(seq, c.rcvNxt, seqAdd(c.rcvNxt, Math.max(rcvWnd, 1)))
    ) {
      // RFC 9293 3.10.7.4 fourth without RFC 5961: the connection is reset.
      core.drop('syn-challenged', h, 'reset by SYN');
      if (c.state === ESTABLISHED || c.state === CLOSE_WAIT) core.counters.tcpEstabResets++;
      sendReset(core, now, c);
      if (c.userClosed) core.finish(c, 0);
      else {
        c.error = 'ECONNRESET';
        core.finish(c, TcpEvent.RESET);
      }
      return;
    }
    // A SYN outside the window, or any SYN with RFC 5961 on: a bare ACK at SND.NXT, never a
    // repeated FIN (RFC 9293 3.10.7.4 fourth; FreeBSD tcp_input answers both cases with
    // tcp_send_challenge_ack).
    sendChallengeAck(core, now, c);
    core.drop('syn-challenged', h);
    return;
  }

  // RFC 7323 4.3: remember the peer's timestamp if this segment covers Last.ACK.sent: it
  // starts at or before it and reaches it (FreeBSD tcp_input tests both ends), so a blind
  // segment from far behind cannot move TS.Recent and have PAWS drop the real peer.
  if (
    c.tsOk &&
    o.timestamp &&
    seqLeq(seq, c.lastAckSent) &&
    seqLeq(c.lastAckSent, seqAdd(seq, dataLength + (fin ? 1 : 0))) &&
    seqGeq(o.tsVal, c.tsRecent)
  ) {
    c.tsRecent = o.tsVal;
    c.tsRecentAge = now;
  }

  // Acceptability and trimming (RFC 9293 3.10.7.4 first), done as BSD tcp_input does: what
  // lies before RCV.NXT is cut off (a segment that is all old still has its ACK processed,
  // and is answered at once); a segment that starts past the window is answered with an ACK
  // and dropped, except a zero-window probe at RCV.NXT; what runs past the window is cut off.
  const duplicate = seqDiff(c.rcvNxt, seq);
  if (duplicate > 0 && dataLength > 0 && c.sackOk) {
    // RFC 2883: tell the sender which bytes arrived twice, at once, as FreeBSD's tcp_input
    // does: a delayed ACK would lose the report to the next in-order segment's ACK.
    c.dsackLeft = seq;
    c.dsackRight = duplicate >= dataLength ? seqAdd(seq, dataLength) : c.rcvNxt;
    c.ackNow = true;
  }
  if (duplicate > 0) {
    if (duplicate > dataLength || (duplicate === dataLength && !fin)) {
      if (duplicate > dataLength) fin = false;
      dataLength = 0;
      c.ackNow = true;
    } else {
      dataOffset += duplicate;
      dataLength -= duplicate;
    }
    seq = c.rcvNxt;
  }
  const right = seqAdd(c.rcvNxt, rcvWnd);
  const beyond = seqDiff(seqAdd(seq, dataLength + (fin ? 1 : 0)), right);
  if (beyond > 0) {
    if (beyond >= dataLength + (fin ? 1 : 0)) {
      if (!(rcvWnd === 0 && seq === c.rcvNxt)) {
        c.ackNow = true;
        core.drop('out-of-window', h);
        return;
      }
      // A zero-window probe: no data taken, the ACK in it counts.
      dataLength = 0;
      fin = false;
      c.ackNow = true;
    } else {
      dataLength = Math.max(0, dataLength - Math.max(0, seqDiff(seqAdd(seq, dataLength), right)));
      fin = false;
      c.ackNow = true;
    }
  }

  // The window we offered can reach past the ring's free space: the field is rounded up to
  // the scale unit and the right edge never moves left (RFC 7323 2.4, RFC 9293 3.8.6.2.2),
  // and BSD's soft socket buffer would absorb the excess. Our ring is a hard bound, so bytes
  // past it are not taken (they are not acknowledged; the peer sends them again).
  const room = c.receiveBuffer.free - seqDiff(seq, c.rcvNxt);
  if (dataLength > 0 && dataLength > room) {
    core.drop('receive-buffer-full', h, `${dataLength - Math.max(room, 0)} bytes past the ring`);
    dataLength = Math.max(room, 0);
    fin = false;
    c.ackNow = true;
  }

  // A FIN already seen out of order ends the peer's stream: bytes past it, and a FIN
  // elsewhere, are not the stream (the peer is broken or hostile); they are cut and counted,
  // so that filling the hole delivers up to the FIN and then the end.
  if (c.pendingFinSeq !== -1) {
    const past = seqDiff(seqAdd(seq, dataLength), c.pendingFinSeq);
    if (past > 0) {
      core.drop('data-after-fin', h, `${Math.min(past, dataLength)} bytes past the FIN`);
      dataLength = Math.max(0, dataLength - past);
      c.ackNow = true;
    }
    if (fin && seqAdd(seq, dataLength) !== c.pendingFinSeq) fin = false;
  }

  // Fifth: the ACK field.
  if ((flags & ACK) === 0) {
    core.drop('no-ack-flag', h);
    return;
  }
  if (!ackArrives(core, now, c, h, dataLength)) return;

  // RFC 3168 6.1.3: a CE mark is echoed until the peer's CWR.
  if (c.ecnOk) {
    if ((flags & CWR) !== 0) c.ecnEchoPending = false;
    if ((ecn & 3) === 3) {
      core.counters.ecnCeReceived++;
      c.ecnEchoPending = true;
      c.ackNow = true;
    }
  }

  // Seventh: segment text. Urgent data is read inline (RFC 6093): the urgent pointer moves
  // no byte and no mark reaches the application.
  // Limitation: no out-of-band mark for urgent data; fixing it needs a SIOCATMARK-like
  // field on the connection.
  // Limitation: a segment that duplicates part of the out-of-order data is stored whole,
  // but only the first overlapped range is reported as D-SACK (RFC 2883 allows more).
  if (dataLength > 0) {
    if (!textArrives(core, now, c, h, buf, seq, dataOffset, dataLength)) return;
  }

  // Eighth: FIN, acted on only in order.
  if (fin) {
    const finSeq = seqAdd(seq, dataLength);
    if (finSeq === c.rcvNxt) finArrives(core, now, c);
    else if (seqGt(finSeq, c.rcvNxt)) c.pendingFinSeq = finSeq;
  }
  if (c.pendingFinSeq !== -1 && c.pendingFinSeq === c.rcvNxt) finArrives(core, now, c);
}

/**
 * Whether a RST's sequence number lies in the window (RFC 5961 3.2): from RCV.NXT, or from
 * Last.ACK.sent as FreeBSD's tcp_input has it, for RCV.WND bytes.
 */
function resetInWindow(c: TcpConnection, seq: number, rcvWnd: number): boolean {
  const left = c.params.resetWindowFreeBSD && c.state !== SYN_RECEIVED ? c.lastAckSent : c.rcvNxt;
  if (rcvWnd === 0) return seq === left;
  return seqInWindow(seq, left, seqAdd(left, rcvWnd));
}

/** deliver_in_7, deliver_in_7a (RFC 9293 3.10.7.4 second). */
function resetArrives(core: CoreContext, c: TcpConnection): void {
  if (c.state === SYN_RECEIVED) {
    core.counters.tcpAttemptFails++;
    if (c.listener !== null) {
      core.finish(c, 0);
      return;
    }
    c.error = 'ECONNREFUSED';
    core.finish(c, TcpEvent.RESET);
    return;
  }
  if (c.state === ESTABLISHED || c.state === CLOSE_WAIT) core.counters.tcpEstabResets++;
  if (c.userClosed) {
    core.finish(c, 0);
    return;
  }
  c.error = 'ECONNRESET';
  core.finish(c, TcpEvent.RESET);
}

/** Updates SRTT, RTTVAR and RTO with one measurement (RFC 6298 2.2, 2.3). */
export function updateRtt(c: TcpConnection, sample: number): void {
  const r = Math.max(sample, 1);
  if (c.srtt === 0) {
    c.srtt = r;
    c.rttvar = r / 2;
  } else {
    c.rttvar = 0.75 * c.rttvar + 0.25 * Math.abs(c.srtt - r);
    c.srtt = 0.875 * c.srtt + 0.125 * r;
  }
  const p = c.params;
  c.rto = Math.round(
    Math.min(Math.max(c.srtt + Math.max(p.clockGranularity, 4 * c.rttvar), p.rtoMin), p.rtoMax),
  );
  c.backoff = 0;
}

/** RTT from the timestamp echo (RFC 7323 4.1) or from the timed segment (RFC 6298 3). */
function rttSample(c: TcpConnection, h: TcpHeader, now: number): void {
  const o = h.options;
  if (c.tsOk && o.timestamp && o.tsEcr !== 0) {
    const ticks = seqDiff(timestampNow(c, now), o.tsEcr);
    if (ticks >= 0) {
      updateRtt(c, Math.max(ticks, 1) * c.params.timestampTick);
      c.rttTime = -1;
      return;
    }
  }
  if (c.rttTime >= 0 && seqGt(h.ack, c.rttSeq)) {
    updateRtt(c, now - c.rttTime);
    c.rttTime = -1;
  }
}

/**
 * RFC 9293 3.10.7.4 fifth, with RFC 5961 5.2 for ACK acceptability; returns false when the
 * segment needs no further processing.
 */
function ackArrives(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  h: TcpHeader,
  dataLength: number,
): boolean {
  const ack = h.ack;
  const seq = h.seq;

  if (c.state === SYN_RECEIVED) {
    if (seqLt(c.sndUna, ack) && seqLeq(ack, c.sndMax)) {
      c.sndWnd = h.window * 2 ** c.sndWscale;
      c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
      c.sndWl1 = seq;
      c.sndWl2 = ack;
      establish(core, now, c);
    } else {
      // deliver_in_3c.
      replyWithReset(core, h, c.remoteAddress, c.localAddress);
      core.drop('stray-ack-in-syn-received', h);
      return false;
    }
  }

  if (seqGt(ack, c.sndMax)) {
    c.ackNow = true;
    core.drop('ack-unsent-data', h);
    return false;
  }
  if (seqLt(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    c.ackNow = true;
    core.drop('ack-too-old', h);
    return false;
  }

  const acked = seqDiff(ack, c.sndUna);
  const window = h.window * 2 ** c.sndWscale;
  let windowChanged = false;
  let reopened = false;
  if (seqLt(c.sndWl1, seq) || (c.sndWl1 === seq && seqLeq(c.sndWl2, ack))) {
    windowChanged = window !== c.sndWnd;
    if (c.sndWnd === 0 && window > 0) {
      // The window reopened: persist ends, and a probe byte the peer did not take is sent
      // again with what follows it.
      c.persistAt = NO_TIMER;
      c.persistBackoff = 0;
      reopened = c.retransmitAt === NO_TIMER;
    }
    c.sndWnd = window;
    c.sndWl1 = seq;
    c.sndWl2 = ack;
    if (window > c.maxSndWnd) c.maxSndWnd = window;
  }

  if (reopened && seqGt(c.sndNxt, c.sndUna) && acked <= 0) c.sndNxt = c.sndUna;

  if (acked <= 0) {
    // RFC 5681 2 (DUPLICATE ACKNOWLEDGMENT): no data, no SYN/FIN, same ACK and window, and
    // something outstanding other than a window probe: with the window closed the answers
    // to persist probes repeat the ACK, and must not retransmit into it (FreeBSD counts
    // duplicates only while the retransmission timer runs).
    if (
      acked === 0 &&
      dataLength === 0 &&
      (h.flags & (SYN | FIN)) === 0 &&
      h.payloadLength === 0 &&
      !windowChanged &&
      c.sndWnd > 0 &&
      seqGt(c.sndMax, c.sndUna)
    ) {
      duplicateAck(core, now, c);
    }
    return true;
  }

  rttSample(c, h, now);

  let bytes = acked;
  if (c.sndUna === c.iss) bytes--; // the SYN
  let finAcked = false;
  if (c.finQueued && seqGt(ack, c.finSeq)) {
    finAcked = true;
    bytes--;
  }
  if (bytes > 0) {
    c.sendBuffer.drop(bytes);
    c.sndBufSeq = seqAdd(c.sndBufSeq, bytes);
  }
  c.sndUna = ack;
  if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
  c.bytesInFlight = seqDiff(c.sndMax, c.sndUna);

  if (c.inRecovery) {
    if (seqGeq(ack, c.recover)) {
      // RFC 6582 3.2 step 3: full acknowledgment.
      c.inRecovery = false;
      c.dupAcks = 0;
      c.cc.onExitRecovery(c, c.bytesInFlight);
    } else {
      // RFC 6582 3.2 step 5: partial acknowledgment.
      retransmitFirst(core, now, c);
      c.cc.onPartialAck(c, acked);
      if (!c.partialAckSeen) {
        c.partialAckSeen = true;
        c.retransmitAt = now + currentRto(c);
      }
    }
  } else {
    c.dupAcks = 0;
    c.cc.onAck(c, acked);
  }

  // RFC 3168 6.1.2: react to ECN-Echo once per window of data.
  if (c.ecnOk && (h.flags & ECE) !== 0) {
    core.counters.ecnEchoReceived++;
    if (!c.inRecovery && seqGt(ack, c.ecnRecover)) {
      c.cc.onCongestionSignal(c);
      c.cwrPending = true;
      c.ecnRecover = c.sndMax;
    }
  }

  // RFC 6298 5.2, 5.3: stop the timer when all is acknowledged, else restart it.
  if (c.sndUna === c.sndMax) c.retransmitAt = NO_TIMER;
  else if (!c.inRecovery) c.retransmitAt = now + currentRto(c);

  if (finAcked) {
    if (c.state === FIN_WAIT_1) {
      c.state = FIN_WAIT_2;
      if (c.userClosed) c.closeAt = now + c.params.finWait2Timeout;
    } else if (c.state === CLOSING) {
      enterTimeWait(c, now);
    } else if (c.state === LAST_ACK) {
      core.finish(c, 0);
      return false;
    }
  }

  if (c.wantWritable && c.sendBuffer.free > 0 && !c.finQueued) {
    c.wantWritable = false;
    core.emit(c, TcpEvent.WRITABLE);
  }
  return true;
}

/**
 * Duplicate ACK: fast retransmit, fast recovery and limited transmit.
 * Limitation: SACK blocks from the peer are not used for loss recovery (no RFC 6675
 * scoreboard), so recovery is NewReno's one hole per round trip; fixing it needs a record
 * of SACKed ranges on the send side.
 */
function duplicateAck(core: CoreContext, now: number, c: TcpConnection): void {
  c.dupAcks++;
  const p = c.params;
  if (c.inRecovery) {
    c.cc.onDupAckInRecovery(c);
    return;
  }
  if (c.dupAcks === p.dupAckThreshold) {
    // RFC 6582 3.2 step 2: only if this loss is past the last recovery point.
    if (seqGt(c.sndUna, c.recover) || c.sndUna === c.recover) {
      if (c.sndUna === c.recover && c.recover !== c.iss) return;
      c.inRecovery = true;
      c.partialAckSeen = false;
      c.recover = c.sndMax;
      c.cc.onEnterRecovery(c);
      c.rttTime = -1;
      core.counters.fastRetransmits++;
      retransmitFirst(core, now, c);
      c.retransmitAt = now + currentRto(c);
    }
    return;
  }
  if (c.dupAcks < p.dupAckThreshold && p.limitedTransmit) {
    // RFC 3042: one new segment per duplicate ACK, beyond cwnd by at most two segments.
    const saved = c.cwnd;
    c.cwnd = saved + c.dupAcks * c.smss;
    output(core, now, c);
    c.cwnd = saved;
  }
}

/**
 * RFC 9293 3.10.7.4 seventh: in-order bytes are appended, out-of-order bytes kept in the
 * receive buffer's ranges; the ACK is immediate for out-of-order data and holes filled,
 * delayed otherwise (RFC 5681 4.2). Returns false when the connection went away.
 */
function textArrives(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  h: TcpHeader,
  buf: Uint8Array,
  seq: number,
  offset: number,
  length: number,
): boolean {
  if (c.state !== ESTABLISHED && c.state !== FIN_WAIT_1 && c.state !== FIN_WAIT_2) {
    // After a FIN from the peer no new data can be legitimate.
    core.drop('stray-segment', h, 'data after FIN');
    return true;
  }
  if (c.userClosed) {
    // deliver_in_3a, RFC 2525 2.17: nobody will read this; reset.
    core.drop('after-close', h);
    c.ackNow = false;
    output(core, now, c);
    abortWithReset(core, now, c);
    return false;
  }
  if (c.readShutdown) {
    if (seq === c.rcvNxt) c.rcvNxt = seqAdd(c.rcvNxt, length);
    c.ackNow = true;
    return true;
  }
  const rb = c.receiveBuffer;
  const hadHoles = rb.rangeCount > 0;
  if (c.sackOk && hadHoles && c.dsackLeft === c.dsackRight) {
    // RFC 2883: bytes already held out of order arrived again.
    const end = seqAdd(seq, length);
    for (let i = 0; i < rb.rangeCount; i++) {
      const left = rb.ranges[2 * i];
      const right = rb.ranges[2 * i + 1];
      if (seqLt(left, end) && seqLt(seq, right)) {
        c.dsackLeft = seqGt(left, seq) ? left : seq;
        c.dsackRight = seqLt(right, end) ? right : end;
        break;
      }
    }
  }
  const advance = rb.store(c.rcvNxt, seq, buf, offset, length);
  if (advance < 0) {
    core.drop('reassembly-full', h);
    c.ackNow = true;
    return true;
  }
  if (advance === 0) {
    // Out of order: ACK at once so the sender sees the hole (RFC 5681 4.2, RFC 2018).
    c.ackNow = true;
    return true;
  }
  c.rcvNxt = seqAdd(c.rcvNxt, advance);
  c.bytesReceived += advance;
  if (hadHoles || !c.params.delayedAck) {
    c.ackNow = true;
  } else {
    c.unackedSegments++;
    if (c.unackedSegments >= c.params.ackEvery) c.ackNow = true;
    else if (c.delayedAckAt === NO_TIMER) c.delayedAckAt = now + c.params.delayedAckTime;
  }
  core.emit(c, TcpEvent.READABLE);
  return true;
}

function abortWithReset(core: CoreContext, now: number, c: TcpConnection): void {
  if (c.state === ESTABLISHED || c.state === CLOSE_WAIT) core.counters.tcpEstabResets++;
  // RST at SND.NXT acknowledging what we have (FreeBSD tcp_drop).
  sendReset(core, now, c);
  core.finish(c, 0);
}

/** RFC 9293 3.10.7.4 eighth. */
function finArrives(core: CoreContext, now: number, c: TcpConnection): void {
  c.pendingFinSeq = -1;
  c.ackNow = true;
  switch (c.state) {
    case SYN_RECEIVED:
    case ESTABLISHED:
      c.state = CLOSE_WAIT;
      break;
    case FIN_WAIT_1:
      c.state = CLOSING;
      break;
    case FIN_WAIT_2:
      enterTimeWait(c, now);
      break;
    case TIME_WAIT:
      c.closeAt = now + 2 * c.params.msl;
      return;
    default:
      // CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN is already counted.
      return;
  }
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  core.emit(c, TcpEvent.PEER_CLOSED);
}

/**
 * ICMP errors about a connection (RFC 5927 4.1: only when the quoted sequence number is in
 * flight; RFC 1122 4.2.3.9 hard and soft errors; RFC 1191 fragmentation needed). Returns the
 * connection's path MTU once the error is applied, 0 when it was ignored, so the host records
 * only a path MTU the connection itself adopted.
 */
export function icmpArrives(
  core: CoreContext,
  now: number,
  c: TcpConnection,
  kind: IcmpErrorKind,
  quotedSeq: number,
  nextHopMtu: number,
): number {
  if (!(seqLeq(c.sndUna, quotedSeq) && seqLt(quotedSeq, c.sndMax))) {
    core.drop('icmp-sequence-not-in-flight', null, `${kind} seq ${quotedSeq}`);
    return 0;
  }
  core.counters.icmpErrorsApplied++;
  switch (kind) {
    case 'fragmentation-needed': {
      // RFC 1191: lower the path MTU (never below the MSS floor) and resend smaller.
      const floor = c.params.minMss + 40;
      const mtu = Math.max(nextHopMtu >= 68 ? nextHopMtu : floor, floor);
      if (mtu < c.pathMtu) {
        c.pathMtu = mtu;
        updateMss(c);
        core.counters.pathMtuUpdates++;
        // A SYN carries no data and was not too big: nothing to send again before its timer.
        if (c.state !== SYN_SENT && c.state !== SYN_RECEIVED) {
          c.sndNxt = c.sndUna;
          output(core, now, c);
        }
      }
      break;
    }
    case 'port-unreachable':
    case 'protocol-unreachable':
    case 'admin-prohibited':
    case 'time-exceeded':
      // In SYN_SENT these end the attempt at once (FreeBSD tcp_drop_syn_sent, unless
      // icmp_may_rst=0); later they are soft errors (RFC 1122 4.2.3.9).
      if (c.state === SYN_SENT && c.params.icmpMayReset) {
        core.counters.tcpAttemptFails++;
        c.error = kind === 'time-exceeded' ? 'EHOSTUNREACH' : 'ECONNREFUSED';
        core.finish(c, TcpEvent.ERROR);
        return c.pathMtu;
      }
      if (kind !== 'time-exceeded') {
        c.softError = kind === 'admin-prohibited' ? 'EHOSTUNREACH' : 'ECONNREFUSED';
      }
      break;
    case 'net-unreachable':
      c.softError = 'ENETUNREACH';
      break;
    case 'host-unreachable':
      c.softError = 'EHOSTUNREACH';
      break;
    default:
      // Parameter problems are transient; source quench is ignored (RFC 6633).
      break;
  }
  updateDeadline(core, c);
  return c.pathMtu;
}
