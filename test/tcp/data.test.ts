import { describe, expect, it } from 'vitest';
import { ACK, FIN, Harness, PEER_ISS, RST, SYN, TcpEvent } from './harness.js';
import { CLOSED, ESTABLISHED, FIN_WAIT_2, TIME_WAIT } from '../../lib/tcp/states.js';

function open(params = {}, synOptions?: Parameters<Harness['passiveOpen']>[0], rtt = 0) {
  const t = new Harness({ timestamps: false, ...params });
  const r = t.passiveOpen(synOptions ?? { mss: 1000 }, rtt);
  t.take();
  return { t, conn: r.conn, iss: r.iss };
}

const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('receiving: acceptability and trimming (RFC 9293 3.10.7.4)', () => {
  it('trims data before RCV.NXT and keeps the new part', () => {
    const { t, conn, iss } = open();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: bytes(100) });
    t.inject({ flags: ACK, seq: PEER_ISS + 51, ack: iss + 1, data: bytes(100, 9) });
    expect(conn.rcvNxt).toBe(PEER_ISS + 151);
    const out = new Uint8Array(200);
    expect(t.core.recv(t.now, conn, out)).toBe(150);
    expect(out.subarray(100, 150)).toEqual(bytes(100, 9).subarray(50));
  });

  it('trims data past the window and ACKs', () => {
    const { t, conn, iss } = open({ receiveBuffer: 4096 });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 5000 });
    expect(conn.rcvNxt).toBe(PEER_ISS + 1 + 4096);
    const [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 1 + 4096);
    expect(ack.window).toBe(0);
  });

  it('answers a fully duplicate segment with an ACK at once', () => {
    const { t, iss } = open();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10 });
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10 });
    const [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 11);
  });

  it('never answers an acceptable pure ACK', () => {
    const { t, iss } = open();
    for (let i = 0; i < 5; i++) t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1 });
    expect(t.take()).toEqual([]);
  });

  it('accepts a zero-window probe at RCV.NXT only for its ACK and answers with window 0', () => {
    const { t, conn, iss } = open({ receiveBuffer: 2000 });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 2000 });
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 2001, ack: iss + 1, data: 1 });
    const [ack] = t.take();
    expect(ack.window).toBe(0);
    expect(ack.ack).toBe(PEER_ISS + 2001);
    // Reading reopens the window with an update.
    t.core.recv(t.now, conn, new Uint8Array(2000));
    const [update] = t.take();
    expect(update.window).toBe(2000);
  });
});

describe('reassembly and SACK (RFC 2018)', () => {
  it('holds out-of-order data, reports it in SACK blocks, and delivers in order', () => {
    const { t, conn, iss } = open({}, { mss: 1000, sackPermitted: true });
    expect(conn.sackOk).toBe(true);
    const data = bytes(400);
    const seg = (from: number, to: number) =>
      t.inject({ flags: ACK, seq: PEER_ISS + 1 + from, ack: iss + 1, data: data.slice(from, to) });
    seg(100, 200);
    let [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 1);
    expect(ack.sack).toEqual([PEER_ISS + 101, PEER_ISS + 201]);
    seg(300, 400);
    [ack] = t.take();
    expect(ack.sack).toEqual([PEER_ISS + 301, PEER_ISS + 401, PEER_ISS + 101, PEER_ISS + 201]);
    seg(0, 100);
    [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 201);
    expect(ack.sack).toEqual([PEER_ISS + 301, PEER_ISS + 401]);
    seg(200, 300);
    [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 401);
    expect(ack.sack).toEqual([]);
    const out = new Uint8Array(400);
    expect(t.core.recv(t.now, conn, out)).toBe(400);
    expect(out).toEqual(data);
  });

  it('ACKs a partly duplicate in-order segment at once with a D-SACK block (RFC 2883)', () => {
    const { t, conn, iss } = open({}, { mss: 1000, sackPermitted: true });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 100 });
    t.advance(1_000_000);
    t.take();
    // Bytes 1..100 again plus 50 new ones: without an immediate ACK the report would be lost.
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 150 });
    const [ack] = t.take();
    expect(conn.rcvNxt).toBe(PEER_ISS + 151);
    expect(ack.ack).toBe(PEER_ISS + 151);
    expect(ack.sack).toEqual([PEER_ISS + 1, PEER_ISS + 101]);
  });

  it('sends less data in a segment that carries SACK blocks, so it stays within the MSS', () => {
    const { t, conn, iss } = open({}, { mss: 1000, sackPermitted: true });
    // Two holes on the receive side: the ACKs (and data) we send carry two SACK blocks.
    t.inject({ flags: ACK, seq: PEER_ISS + 101, ack: iss + 1, data: 100 });
    t.inject({ flags: ACK, seq: PEER_ISS + 301, ack: iss + 1, data: 100 });
    t.take();
    t.core.send(t.now, conn, bytes(5000));
    const data = t.take().filter((s) => s.length > 0);
    expect(data.length).toBeGreaterThan(0);
    for (const s of data) {
      expect(s.sack.length).toBe(4);
      // NOP, NOP, kind, length and two 8-byte blocks: 20 bytes of options.
      expect(s.length + 20).toBe(1000);
    }
  });

  it('acts on a FIN only in order', () => {
    const { t, conn, iss } = open();
    t.inject({ flags: ACK | FIN, seq: PEER_ISS + 11, ack: iss + 1, data: 10 });
    expect(conn.state).toBe(ESTABLISHED);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10 });
    expect(conn.rcvNxt).toBe(PEER_ISS + 22);
    expect(t.eventKinds(conn)).toContain(TcpEvent.PEER_CLOSED);
  });

  it('drops out-of-order data beyond the range bound and counts it', () => {
    const { t, iss } = open({ reassemblyRanges: 2 });
    for (let i = 1; i <= 3; i++) {
      t.inject({ flags: ACK, seq: PEER_ISS + 1 + i * 100, ack: iss + 1, data: 10 });
    }
    expect(t.core.counters.drops['reassembly-full']).toBe(1);
  });
});

describe('delayed ACK and Nagle', () => {
  it('ACKs every second segment at once and a lone segment after the delayed-ACK time', () => {
    const { t, iss } = open();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 1000 });
    expect(t.take()).toEqual([]);
    t.inject({ flags: ACK, seq: PEER_ISS + 1001, ack: iss + 1, data: 1000 });
    expect(t.take().length).toBe(1);
    t.inject({ flags: ACK, seq: PEER_ISS + 2001, ack: iss + 1, data: 10 });
    expect(t.take()).toEqual([]);
    t.runFor(39_000);
    expect(t.take()).toEqual([]);
    t.runFor(2_000);
    const [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 2011);
    expect(ack.at).toBe(40_000);
  });

  it('holds a small segment while data is unacknowledged (Nagle), unless noDelay', () => {
    const { t, conn, iss } = open();
    t.core.send(t.now, conn, bytes(10));
    t.core.send(t.now, conn, bytes(10));
    expect(t.take().map((s) => s.length)).toEqual([10]);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 11 });
    expect(t.take().map((s) => s.length)).toEqual([10]);

    const b = open({ noDelay: true });
    b.t.core.send(0, b.conn, bytes(10));
    b.t.core.send(0, b.conn, bytes(10));
    expect(b.t.take().map((s) => s.length)).toEqual([10, 10]);
  });

  it('sends full segments at once and respects the initial window (RFC 6928)', () => {
    const { t, conn } = open({ sendBuffer: 100_000 });
    t.core.send(t.now, conn, bytes(50_000));
    const sent = t.take();
    expect(sent.every((s) => s.length === 1000)).toBe(true);
    expect(sent.length).toBe(10);
    expect(conn.bytesInFlight).toBe(10_000);
  });
});

describe('retransmission (RFC 6298)', () => {
  it('measures RTT, computes RTO with bounds, and backs off on timeout', () => {
    // The handshake takes 50 ms: the first sample (RFC 6298 2.2).
    const { t, conn, iss } = open({ rtoMin: 200_000 }, undefined, 50_000);
    expect(conn.srtt).toBe(50_000);
    expect(conn.rttvar).toBe(25_000);
    expect(conn.rto).toBe(200_000);
    // A second sample of 100 ms (RFC 6298 2.3).
    t.core.send(t.now, conn, bytes(100));
    t.take();
    t.advance(100_000);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 101 });
    expect(conn.rttvar).toBe(0.75 * 25_000 + 0.25 * 50_000);
    expect(conn.srtt).toBe(0.875 * 50_000 + 0.125 * 100_000);
    expect(conn.rto).toBe(Math.max(200_000, Math.round(conn.srtt + 4 * conn.rttvar)));
    t.core.send(t.now, conn, bytes(100));
    t.take();
    const start = t.now;
    t.runFor(1_500_000);
    const rto = conn.rto;
    const times = t.take().map((s) => s.at - start);
    expect(times).toEqual([rto, 3 * rto, 7 * rto].filter((x) => x <= 1_500_000));
    expect(conn.retransmissions).toBe(3);
    expect(t.core.counters.tcpRetransSegs).toBe(3);
  });

  it('takes no RTT sample from a retransmitted segment (Karn)', () => {
    const { t, conn, iss } = open({ rtoMin: 200_000 }, undefined, 50_000);
    t.core.send(t.now, conn, bytes(100));
    t.runFor(1_100_000);
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 101 });
    expect(conn.srtt).toBe(50_000);
  });

  it('drops the connection with ETIMEDOUT after maxRetransmits and sends RST', () => {
    const { t, conn } = open({ maxRetransmits: 2, rtoMin: 100_000 });
    t.core.send(t.now, conn, bytes(100));
    t.take();
    t.runFor(100_000_000);
    const sent = t.take();
    expect(sent.length).toBe(3);
    expect(sent[2].flags & RST).toBe(RST);
    expect(conn.error).toBe('ETIMEDOUT');
    expect(t.eventKinds(conn)).toContain(TcpEvent.TIMED_OUT);
  });

  it('retransmits a FIN in FIN_WAIT_1 and LAST_ACK', () => {
    const { t, conn } = open();
    t.core.close(t.now, conn);
    const [fin] = t.take();
    expect(fin.flags & FIN).toBe(FIN);
    t.runFor(1_100_000);
    const [again] = t.take();
    expect(again.flags & FIN).toBe(FIN);
    expect(again.seq).toBe(fin.seq);
  });
});

describe('NewReno and limited transmit (RFC 5681, 6582, 3042)', () => {
  it('sends new data on the first two duplicate ACKs and retransmits on the third', () => {
    const { t, conn, iss } = open({ sendBuffer: 100_000 });
    t.core.send(t.now, conn, bytes(20_000));
    const first = t.take();
    expect(first.length).toBe(10);
    const dup = () => t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1001 });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1001 });
    t.take();
    dup();
    expect(t.take().map((s) => s.seq - iss)).toEqual([12_001]);
    dup();
    expect(t.take().map((s) => s.seq - iss)).toEqual([13_001]);
    const flight = conn.bytesInFlight;
    dup();
    const re = t.take();
    expect(re[0].seq - iss).toBe(1001);
    expect(conn.inRecovery).toBe(true);
    expect(conn.ssthresh).toBe(Math.floor(flight / 2));
    expect(t.core.counters.fastRetransmits).toBe(1);
    // A partial ACK retransmits the next hole at once (RFC 6582 3.2 step 5).
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 3001 });
    expect(t.take()[0].seq - iss).toBe(3001);
    // A full ACK ends recovery.
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: conn.recover });
    expect(conn.inRecovery).toBe(false);
    expect(conn.cwnd).toBeLessThanOrEqual(conn.ssthresh);
  });
});

describe('flow control', () => {
  it('probes a zero window with one byte and backs off (persist timer)', () => {
    const { t, conn, iss } = open({ rtoMin: 200_000 });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, window: 0 });
    t.core.send(t.now, conn, bytes(100));
    expect(t.take()).toEqual([]);
    t.runFor(40_000_000);
    const probes = t.take();
    expect(probes.length).toBeGreaterThan(2);
    expect(probes.every((p) => p.length === 1 && p.seq === iss + 1)).toBe(true);
    const gaps = probes.slice(1).map((p, i) => p.at - probes[i].at);
    expect(gaps[1]).toBeGreaterThanOrEqual(gaps[0]);
    expect(conn.state).toBe(ESTABLISHED);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, window: 1000 });
    expect(t.take().reduce((n, s) => n + s.length, 0)).toBe(100);
  });

  it('a window closed while data is in flight goes to persist, not to retransmission', () => {
    const { t, conn, iss } = open({ rtoMin: 200_000, maxRetransmits: 3 });
    t.core.send(t.now, conn, bytes(3000));
    t.take();
    // A stale zero-window ACK (reordered behind a window update) closes the window.
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, window: 0 });
    expect(conn.persistAt).not.toBe(-1);
    expect(conn.retransmitAt).toBe(-1);
    for (let i = 0; i < 10; i++) {
      t.runFor(20_000_000);
      // The peer answers the probes, still without room: alive, so persist goes on.
      t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, window: 0 });
    }
    expect(conn.state).toBe(ESTABLISHED);
    const probes = t.take().filter((s) => s.length > 0);
    expect(probes.length).toBeGreaterThan(3);
    expect(probes.every((p) => p.length === 1)).toBe(true);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 2, window: 8000 });
    expect(t.take().reduce((n, s) => n + s.length, 0)).toBe(2999);
  });

  it('arms the persist timer at a whole microsecond when the RTT estimate is fractional', () => {
    const { t, conn, iss } = open({ persistMin: 1000 });
    conn.srtt = 1234.56;
    conn.rttvar = 78.9;
    t.core.send(t.now, conn, bytes(3000));
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1 + 1000, window: 0 });
    expect(conn.persistAt).not.toBe(-1);
    expect(Number.isInteger(conn.persistAt)).toBe(true);
    expect(Number.isInteger(conn.deadline)).toBe(true);
  });

  it('scales windows both ways (RFC 7323 2)', () => {
    const { t, conn, iss } = open({ receiveBuffer: 1 << 20 }, { mss: 1000, windowScale: 4 });
    expect(conn.rcvWscale).toBe(5);
    expect(conn.sndWscale).toBe(4);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, window: 100 });
    expect(conn.sndWnd).toBe(1600);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10 });
    t.runFor(100_000);
    const [ack] = t.take();
    expect(ack.window).toBe(Math.floor(((1 << 20) - 10) / 32));
  });

  it('never stores past the ring when the scaled window was rounded up', () => {
    // RFC 7323 2.4 rounds the scaled field up so the right edge never moves left; the offer
    // can then exceed the free space by less than one scale unit. A peer filling the offer
    // must not overwrite unread bytes at the head of the ring.
    const { t, conn, iss } = open({ receiveBuffer: 1 << 20 }, { mss: 1000, windowScale: 4 });
    const unit = 2 ** conn.rcvWscale;
    const first = bytes(10, 3);
    const second = bytes(30, 5);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: first });
    t.runFor(300_000);
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 11, ack: iss + 1, data: second });
    t.runFor(300_000);
    const acks = t.take();
    const last = acks[acks.length - 1];
    const offered = last.window * unit;
    expect(offered).toBeGreaterThan(conn.receiveBuffer.free);

    let seq = PEER_ISS + 41;
    let left = offered;
    while (left > 0) {
      const n = Math.min(left, 60_000);
      t.inject({ flags: ACK, seq, ack: iss + 1, data: bytes(n, 7) });
      seq += n;
      left -= n;
    }
    const out = new Uint8Array(40);
    expect(t.core.recv(t.now, conn, out)).toBe(40);
    expect(out.subarray(0, 10)).toEqual(first);
    expect(out.subarray(10)).toEqual(second);
    expect(t.core.counters.drops['receive-buffer-full']).toBeGreaterThan(0);
  });

  it('clamps a window-scale shift above 14', () => {
    const { conn } = open({}, { mss: 1000, windowScale: 20 });
    expect(conn.sndWscale).toBe(14);
  });
});

describe('timestamps and PAWS (RFC 7323)', () => {
  it('drops a segment with an old timestamp and ACKs it', () => {
    const t = new Harness();
    const { conn, iss } = t.passiveOpen({ mss: 1000, ts: [1000, 0] });
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10, ts: [1005, 0] });
    expect(conn.tsRecent).toBe(1005);
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 11, ack: iss + 1, data: 10, ts: [900, 0] });
    const [ack] = t.take();
    expect(ack.ack).toBe(PEER_ISS + 11);
    expect(ack.tsEcr).toBe(1005);
    expect(t.core.counters.drops.paws).toBe(1);
  });

  it('samples RTT from the timestamp echo', () => {
    const t = new Harness({ rtoMin: 100_000 });
    const { conn, iss } = t.passiveOpen({ mss: 1000, ts: [1000, 0] }, 30_000);
    expect(conn.srtt).toBe(30_000);
    t.take();
    t.core.send(t.now, conn, bytes(100));
    const [seg] = t.take();
    t.advance(30_000);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 101, ts: [1001, seg.tsVal] });
    expect(conn.srtt).toBe(30_000);
  });
});

describe('RST and SYN (RFC 5961, RFC 1337, RFC 6191)', () => {
  it('rate-limits challenge ACKs', () => {
    const { t, conn } = open({ challengeAckLimit: 3 });
    for (let i = 0; i < 10; i++) t.inject({ flags: RST, seq: conn.rcvNxt + 5 });
    expect(t.take().length).toBe(3);
    expect(t.core.counters.challengeAcksSuppressed).toBe(7);
    t.advance(1_000_000);
    t.inject({ flags: RST, seq: conn.rcvNxt + 5 });
    expect(t.take().length).toBe(1);
  });

  it('an exact RST resets with ECONNRESET', () => {
    const { t, conn } = open();
    t.inject({ flags: RST, seq: conn.rcvNxt });
    expect(conn.error).toBe('ECONNRESET');
    expect(t.eventKinds(conn)).toEqual([TcpEvent.ESTABLISHED, TcpEvent.RESET, TcpEvent.CLOSED]);
    expect(t.core.counters.tcpEstabResets).toBe(1);
    expect(() => t.core.send(t.now, conn, bytes(1))).toThrow(/ECONNRESET/);
  });

  it('TIME_WAIT lasts 2 MSL and ignores RST; FIN_WAIT_2 times out after close', () => {
    const { t, conn, iss } = open({ msl: 1_000_000, finWait2Timeout: 3_000_000 });
    t.core.close(t.now, conn);
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 2 });
    expect(conn.state).toBe(FIN_WAIT_2);
    t.inject({ flags: ACK | FIN, seq: PEER_ISS + 1, ack: iss + 2 });
    expect(conn.state).toBe(TIME_WAIT);
    t.inject({ flags: RST, seq: PEER_ISS + 2 });
    expect(conn.state).toBe(TIME_WAIT);
    t.runFor(1_999_000);
    expect(conn.state).toBe(TIME_WAIT);
    t.runFor(2_000);
    expect(conn.state).toBe(CLOSED);
    expect(t.core.connectionCount).toBe(0);

    const b = open({ finWait2Timeout: 3_000_000 });
    b.t.core.close(b.t.now, b.conn);
    b.t.take();
    b.t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: b.iss + 2 });
    b.t.runFor(3_000_000);
    expect(b.conn.released).toBe(true);
  });

  it('a new SYN with a higher sequence number reuses a TIME_WAIT pair (RFC 6191)', () => {
    const { t, conn, iss } = open({ msl: 60_000_000 });
    t.core.close(t.now, conn);
    t.inject({ flags: ACK | FIN, seq: PEER_ISS + 1, ack: iss + 2 });
    expect(conn.state).toBe(TIME_WAIT);
    t.take();
    t.inject({ flags: SYN, seq: PEER_ISS + 100_000, mss: 1000 });
    const [synAck] = t.take();
    expect(synAck.flags).toBe(SYN | ACK);
    expect(t.core.counters.timeWaitReused).toBe(1);
  });
});

describe('close and abort', () => {
  it('close with unread data sends RST (RFC 2525 2.17)', () => {
    const { t, conn, iss } = open();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 10 });
    t.take();
    t.core.close(t.now, conn);
    const [rst] = t.take();
    expect(rst.flags & RST).toBe(RST);
    expect(conn.released).toBe(true);
    expect(t.core.counters.tcpOutRsts).toBe(1);
  });

  it('data arriving after close sends RST', () => {
    const { t, conn, iss } = open();
    t.core.close(t.now, conn);
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 2, data: 10 });
    const sent = t.take();
    expect(sent[sent.length - 1].flags & RST).toBe(RST);
    expect(t.core.counters.drops['after-close']).toBe(1);
  });

  it('abort sends RST and frees everything', () => {
    const { t, conn } = open();
    t.core.abort(t.now, conn);
    const [rst] = t.take();
    expect(rst.flags).toBe(RST | ACK);
    expect(t.core.connectionCount).toBe(0);
    expect(t.core.timersArmed).toBe(0);
  });

  it('recv peeks without consuming and returns -1 when empty', () => {
    const { t, conn, iss } = open();
    const out = new Uint8Array(10);
    expect(t.core.recv(t.now, conn, out)).toBe(-1);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: bytes(5) });
    expect(t.core.recv(t.now, conn, out, 0, 10, true)).toBe(5);
    expect(t.core.recv(t.now, conn, out, 0, 10)).toBe(5);
    expect(out.subarray(0, 5)).toEqual(bytes(5));
  });
});

describe('keepalive (RFC 1122 4.2.3.6)', () => {
  it('probes after idle time and drops after the probe count', () => {
    const { t, conn } = open({
      keepalive: true,
      keepIdle: 10_000_000,
      keepInterval: 1_000_000,
      keepCount: 3,
    });
    t.runFor(9_000_000);
    expect(t.take()).toEqual([]);
    t.runFor(1_000_000);
    const [probe] = t.take();
    expect(probe.seq).toBe((conn.sndUna - 1) >>> 0);
    expect(probe.length).toBe(0);
    // An answer resets the count.
    t.inject({ flags: ACK, seq: conn.rcvNxt, ack: conn.sndUna });
    t.runFor(10_000_000 + 3_000_000);
    t.runFor(1_000_000);
    expect(conn.error).toBe('ETIMEDOUT');
    expect(t.core.counters.keepaliveDrops).toBe(1);
  });
});

describe('ICMP (RFC 5927, RFC 1191)', () => {
  it('ignores errors whose quoted sequence number is not in flight', () => {
    const { t, conn } = open();
    t.core.icmpError(
      t.now,
      'fragmentation-needed',
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      conn.remotePort,
      conn.sndNxt + 5,
      576,
    );
    expect(conn.smss).toBe(1000);
    expect(t.core.counters.drops['icmp-sequence-not-in-flight']).toBe(1);
  });

  it('lowers the MSS on fragmentation needed and resends smaller, never below the floor', () => {
    const { t, conn } = open({}, { mss: 1460 });
    t.core.send(t.now, conn, bytes(3000));
    t.take();
    t.core.icmpError(
      t.now,
      'fragmentation-needed',
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      conn.remotePort,
      conn.sndUna,
      1000,
    );
    expect(conn.smss).toBe(960);
    const re = t.take();
    expect(re[0].length).toBe(960);
    t.core.icmpError(
      t.now,
      'fragmentation-needed',
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      conn.remotePort,
      conn.sndUna,
      100,
    );
    expect(conn.smss).toBe(216);
  });

  it('port unreachable during SYN_SENT refuses the connection', () => {
    const t = new Harness();
    const conn = t.core.connect(0, {
      remoteAddress: 0xc6120002,
      remotePort: 9,
      localAddress: 0xc6120001,
    });
    t.core.icmpError(
      0,
      'port-unreachable',
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      9,
      conn.iss,
    );
    expect(conn.error).toBe('ECONNREFUSED');
    expect(t.eventKinds(conn)).toEqual([TcpEvent.ERROR, TcpEvent.CLOSED]);
  });

  it('port unreachable during SYN_SENT is a soft error when icmpMayReset is off', () => {
    const t = new Harness({ icmpMayReset: false, maxSynRetransmits: 1 });
    const conn = t.core.connect(0, {
      remoteAddress: 0xc6120002,
      remotePort: 9,
      localAddress: 0xc6120001,
    });
    t.take();
    const icmp = (kind: 'port-unreachable' | 'fragmentation-needed') =>
      t.core.icmpError(
        0,
        kind,
        conn.localAddress,
        conn.localPort,
        conn.remoteAddress,
        9,
        conn.iss,
        1234,
      );
    icmp('port-unreachable');
    expect(conn.released).toBe(false);
    expect(conn.error).toBe(null);
    // Fragmentation needed lowers the path MTU but does not resend the SYN before its timer.
    icmp('fragmentation-needed');
    expect(conn.pathMtu).toBe(1234);
    expect(t.take()).toEqual([]);
    t.runFor(60_000_000);
    expect(conn.error).toBe('ECONNREFUSED');
  });

  it('a host-unreachable soft error explains a later timeout', () => {
    const t = new Harness({ maxSynRetransmits: 1 });
    const conn = t.core.connect(0, {
      remoteAddress: 0xc6120002,
      remotePort: 9,
      localAddress: 0xc6120001,
    });
    t.core.icmpError(
      0,
      'host-unreachable',
      conn.localAddress,
      conn.localPort,
      conn.remoteAddress,
      9,
      conn.iss,
    );
    t.runFor(10_000_000);
    expect(conn.error).toBe('EHOSTUNREACH');
  });
});

describe('advertised window and the scale unit', () => {
  const run = (windowRoundUp: boolean) => {
    const t = new Harness({
      timestamps: false,
      windowScaling: true,
      windowScale: 6,
      receiveBuffer: 65700,
      windowRoundUp,
    });
    const { conn, iss } = t.passiveOpen({ mss: 1460, windowScale: 0 });
    t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: iss + 1, data: 90 });
    t.runFor(1_000_000);
    const [ack] = t.take();
    return { t, conn, iss, ack };
  };

  it('rounds down by default, never offering more than the buffer holds', () => {
    const { ack } = run(false);
    expect(ack.window).toBe(Math.floor(65610 / 64));
  });

  it('rounds up to the scale unit when asked (FreeBSD tcp_output)', () => {
    const { ack } = run(true);
    expect(ack.window).toBe(Math.ceil(65610 / 64));
  });

  it('cuts data beyond the ring from a rounded-up window and counts it', () => {
    const { t, conn, iss } = run(true);
    const offered = Math.ceil(65610 / 64) * 64;
    t.inject({ flags: ACK, seq: PEER_ISS + 91, ack: iss + 1, data: offered });
    expect(conn.rcvNxt).toBe(PEER_ISS + 65701);
    expect(t.core.counters.drops['receive-buffer-full']).toBe(1);
    const out = new Uint8Array(70_000);
    expect(t.core.recv(t.now, conn, out)).toBe(65700);
  });
});
