// Connection timers (netsem timer_tt_*; BSD tcp_timer.c): retransmission (RFC 6298), persist
// (RFC 9293 3.8.6.1), keepalive (RFC 1122 4.2.3.6), delayed ACK (RFC 5681 4.2), TIME_WAIT
// and FIN_WAIT_2 lifetimes, and connection establishment. Each timer is an absolute deadline
// on the connection; `deadline` is the earliest of them.

import type { CoreContext } from './core.js';
import { TcpEvent } from './core.js';
import { NO_TIMER, type TcpConnection } from './connection.js';
import type { TcpErrorCode } from './errors.js';
import { output, sendAck, sendKeepalive, sendReset, startPersist } from './output.js';
import {
  CLOSE_WAIT,
  ESTABLISHED,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
  isSynchronised,
} from './states.js';

function earlier(a: number, b: number): number {
  if (a === NO_TIMER) return b;
  if (b === NO_TIMER) return a;
  return a < b ? a : b;
}

/** Recomputes `deadline` and tells the host when it moved. */
export function updateDeadline(core: CoreContext, c: TcpConnection): void {
  let d = earlier(c.retransmitAt, c.persistAt);
  d = earlier(d, c.delayedAckAt);
  d = earlier(d, c.keepaliveAt);
  d = earlier(d, c.closeAt);
  d = earlier(d, c.establishAt);
  if (d !== c.deadline) {
    c.deadline = d;
    core.host.deadline?.(c);
  }
}

export function startKeepalive(c: TcpConnection, now: number): void {
  if (c.params.keepalive) c.keepaliveAt = Math.max(now, c.lastReceived) + c.params.keepIdle;
}

/** TIME_WAIT for 2 MSL (RFC 9293 3.3.2); nothing is left to send. */
export function enterTimeWait(c: TcpConnection, now: number): void {
  c.state = TIME_WAIT;
  c.closeAt = now + 2 * c.params.msl;
  c.retransmitAt = NO_TIMER;
  c.persistAt = NO_TIMER;
  c.keepaliveAt = NO_TIMER;
  c.establishAt = NO_TIMER;
  c.sendBuffer.drop(c.sendBuffer.length);
}

/**
 * The connection gives up (retransmissions, keepalive, establishment): ETIMEDOUT, or the
 * ICMP soft error seen meanwhile (RFC 1122 4.2.3.9). A synchronised connection tells the
 * peer with a reset (BSD tcp_drop).
 */
export function giveUp(core: CoreContext, now: number, c: TcpConnection): void {
  const code: TcpErrorCode = c.softError ?? 'ETIMEDOUT';
  if (c.state === SYN_SENT || c.state === SYN_RECEIVED) core.counters.tcpAttemptFails++;
  else if (c.state === ESTABLISHED || c.state === CLOSE_WAIT) core.counters.tcpEstabResets++;
  if (isSynchronised(c.state) && c.state !== TIME_WAIT) sendReset(core, now, c);
  c.error = code;
  core.finish(c, TcpEvent.TIMED_OUT);
}

function retransmitTimeout(core: CoreContext, now: number, c: TcpConnection): void {
  c.retransmitAt = NO_TIMER;
  c.backoff++;
  const synState = c.state === SYN_SENT || c.state === SYN_RECEIVED;
  const limit = synState ? c.params.maxSynRetransmits : c.params.maxRetransmits;
  if (c.backoff > limit) {
    giveUp(core, now, c);
    return;
  }
  core.counters.timeoutRetransmits++;
  // Karn: no RTT sample from anything sent before this point.
  c.rttTime = -1;
  if (synState) {
    // FreeBSD tcp_timer_rexmt: from the fourth SYN on, no options, for middleboxes that drop
    // segments carrying options they do not know.
    if (c.state === SYN_SENT && c.backoff === 3 && c.params.rexmitDropsOptions) {
      c.synOptionsDropped = true;
    }
    c.sndNxt = c.iss;
    output(core, now, c);
    return;
  }
  // RFC 5681 3.1 equation 4 once per loss episode; later timeouts keep ssthresh.
  if (c.backoff === 1) c.cc.onTimeout(c);
  else c.cwnd = c.smss;
  c.inRecovery = false;
  c.dupAcks = 0;
  // RFC 6582 4: no fast retransmit for data sent before the timeout.
  c.recover = c.sndMax;
  // Go back to the first unacknowledged byte (RFC 6298 5.4, BSD snd_nxt = snd_una).
  c.sndNxt = c.sndUna;
  output(core, now, c);
}

function persistTimeout(core: CoreContext, now: number, c: TcpConnection): void {
  c.persistAt = NO_TIMER;
  if (c.sndWnd > 0) {
    // A usable window too small for the sender's silly-window rule: send it anyway.
    output(core, now, c, true);
    return;
  }
  // A closed window is no reason to wait for ever on a peer that answers nothing: after as
  // many unanswered probes as retransmissions are allowed, give up (Linux tcp_probe_timer;
  // FreeBSD tcp_timer_persist drops after a full backoff likewise).
  if (c.persistProbesUnanswered > c.params.maxRetransmits) {
    giveUp(core, now, c);
    return;
  }
  c.persistProbesUnanswered++;
  core.counters.persistProbes++;
  // The probe is the byte at SND.UNA, sent again until the window opens (BSD).
  c.sndNxt = c.sndUna;
  output(core, now, c, true);
  c.persistBackoff++;
  c.retransmitAt = NO_TIMER;
  startPersist(c, now);
}

function keepaliveTimeout(core: CoreContext, now: number, c: TcpConnection): void {
  c.keepaliveAt = NO_TIMER;
  if (!c.params.keepalive || !isSynchronised(c.state) || c.state === TIME_WAIT) return;
  const idleUntil = c.lastReceived + c.params.keepIdle;
  if (now < idleUntil) {
    c.keepaliveAt = idleUntil;
    return;
  }
  if (c.keepaliveProbes >= c.params.keepCount) {
    core.counters.keepaliveDrops++;
    giveUp(core, now, c);
    return;
  }
  sendKeepalive(core, now, c);
  c.keepaliveProbes++;
  c.keepaliveAt = now + c.params.keepInterval;
}

/** Runs whatever timers of `c` are due at `now`. */
export function connectionTimeout(core: CoreContext, now: number, c: TcpConnection): void {
  if (c.establishAt !== NO_TIMER && c.establishAt <= now) {
    c.establishAt = NO_TIMER;
    if (c.state === SYN_SENT || c.state === SYN_RECEIVED) {
      giveUp(core, now, c);
      return;
    }
  }
  if (c.closeAt !== NO_TIMER && c.closeAt <= now) {
    // TIME_WAIT over (netsem timer_tt_2msl_1), or FIN_WAIT_2 abandoned (timer_tt_fin_wait_2_1).
    c.closeAt = NO_TIMER;
    core.finish(c, 0);
    return;
  }
  if (c.retransmitAt !== NO_TIMER && c.retransmitAt <= now) {
    retransmitTimeout(core, now, c);
    if (c.released) return;
  }
  if (c.persistAt !== NO_TIMER && c.persistAt <= now) {
    persistTimeout(core, now, c);
    if (c.released) return;
  }
  if (c.keepaliveAt !== NO_TIMER && c.keepaliveAt <= now) {
    keepaliveTimeout(core, now, c);
    if (c.released) return;
  }
  if (c.delayedAckAt !== NO_TIMER && c.delayedAckAt <= now) {
    c.delayedAckAt = NO_TIMER;
    core.counters.delayedAcks++;
    sendAck(core, now, c);
  }
  updateDeadline(core, c);
}
