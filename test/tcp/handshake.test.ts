import { describe, expect, it } from 'vitest';
import {
  ACK,
  CWR,
  ECE,
  FIN,
  Harness,
  LOCAL,
  LOCAL_PORT,
  PEER_ISS,
  REMOTE,
  REMOTE_PORT,
  RST,
  SYN,
  TcpEvent,
} from './harness.js';
import { ESTABLISHED, SYN_RECEIVED, SYN_SENT, CLOSE_WAIT } from '../../lib/tcp/states.js';
import {
  OPT_MSS,
  OPT_NOP,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
} from '../../lib/wire/tcp.js';
import { TcpError } from '../../lib/tcp/errors.js';

describe('active open (RFC 9293 3.5)', () => {
  it('sends a SYN with FreeBSD option order and completes on the SYN-ACK', () => {
    const t = new Harness();
    const conn = t.core.connect(0, {
      remoteAddress: REMOTE,
      remotePort: REMOTE_PORT,
      localAddress: LOCAL,
    });
    expect(conn.state).toBe(SYN_SENT);
    const [syn] = t.take();
    expect(syn.flags).toBe(SYN);
    expect(syn.kinds).toEqual([
      OPT_MSS,
      OPT_NOP,
      OPT_WINDOW_SCALE,
      OPT_SACK_PERMITTED,
      OPT_TIMESTAMP,
    ]);
    expect(syn.mss).toBe(1460);
    expect(syn.window).toBe(65535);
    expect(syn.dstPort).toBe(REMOTE_PORT);
    expect(syn.srcPort).toBeGreaterThanOrEqual(49152);
    t.inject({
      flags: SYN | ACK,
      seq: PEER_ISS,
      ack: syn.seq + 1,
      mss: 1200,
      windowScale: 2,
      sackPermitted: true,
      ts: [77, syn.tsVal],
      dstPort: syn.srcPort,
    });
    expect(conn.state).toBe(ESTABLISHED);
    expect(t.eventKinds(conn)).toEqual([TcpEvent.ESTABLISHED]);
    const [ack] = t.take();
    expect(ack.flags).toBe(ACK);
    expect(ack.ack).toBe(PEER_ISS + 1);
    expect(ack.seq).toBe(syn.seq + 1);
    expect(ack.tsEcr).toBe(77);
    expect(conn.smss).toBe(1200 - 12);
    expect(conn.sndWscale).toBe(2);
    expect(conn.sackOk).toBe(true);
    expect(t.core.counters.tcpActiveOpens).toBe(1);
  });

  it('retransmits the SYN with exponential backoff, then times out with ETIMEDOUT', () => {
    const t = new Harness({ maxSynRetransmits: 3, connectionTimeout: 600_000_000 });
    const conn = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
    t.take();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      t.runFor(100_000_000);
      void i;
    }
    for (const s of t.sent) times.push(s.at);
    expect(t.sent.every((s) => s.flags === SYN)).toBe(true);
    expect(times).toEqual([1_000_000, 3_000_000, 7_000_000]);
    expect(conn.error).toBe('ETIMEDOUT');
    expect(t.eventKinds(conn)).toEqual([TcpEvent.TIMED_OUT, TcpEvent.CLOSED]);
    expect(t.core.counters.tcpAttemptFails).toBe(1);
    expect(t.core.connectionCount).toBe(0);
    expect(t.core.portsInUse).toBe(0);
  });

  it('gives up after the connection-establishment time', () => {
    const t = new Harness({ connectionTimeout: 5_000_000 });
    const conn = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
    t.runFor(10_000_000);
    expect(conn.error).toBe('ETIMEDOUT');
    expect(t.now).toBe(10_000_000);
    expect(t.core.connectionCount).toBe(0);
  });

  it('RST with an acceptable ACK refuses the connection (deliver_in_7d)', () => {
    const t = new Harness();
    const conn = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
    const [syn] = t.take();
    t.inject({ flags: RST | ACK, seq: 0, ack: syn.seq + 1, srcPort: 80, dstPort: syn.srcPort });
    expect(conn.error).toBe('ECONNREFUSED');
    expect(t.eventKinds(conn)).toEqual([TcpEvent.RESET, TcpEvent.CLOSED]);
  });

  it('an unacceptable ACK in SYN_SENT is answered by RST and ignored (deliver_in_2a)', () => {
    const t = new Harness();
    const conn = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
    const [syn] = t.take();
    t.inject({ flags: SYN | ACK, seq: 5, ack: syn.seq + 1000, srcPort: 80, dstPort: syn.srcPort });
    const [rst] = t.take();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe((syn.seq + 1000) >>> 0);
    expect(conn.state).toBe(SYN_SENT);
    t.inject({ flags: RST, seq: 0, srcPort: 80, dstPort: syn.srcPort });
    expect(conn.state).toBe(SYN_SENT);
    expect(t.core.counters.drops['syn-sent-rst-unacceptable']).toBe(1);
  });

  it('delivers data carried on the SYN-ACK', () => {
    const t = new Harness();
    const { conn } = t.activeOpen({ mss: 1460, data: 10 });
    expect(conn.readableBytes).toBe(10);
    const out = new Uint8Array(20);
    expect(t.core.recv(t.now, conn, out)).toBe(10);
  });
});

describe('passive open', () => {
  it('answers a SYN with a SYN-ACK echoing the offered options, then accepts', () => {
    const t = new Harness();
    const listener = t.listen();
    t.inject({
      flags: SYN,
      seq: PEER_ISS,
      mss: 1400,
      windowScale: 3,
      sackPermitted: true,
      ts: [9, 0],
    });
    const [synAck] = t.take();
    expect(synAck.flags).toBe(SYN | ACK);
    expect(synAck.ack).toBe(PEER_ISS + 1);
    expect(synAck.kinds).toEqual([
      OPT_MSS,
      OPT_NOP,
      OPT_WINDOW_SCALE,
      OPT_SACK_PERMITTED,
      OPT_TIMESTAMP,
    ]);
    expect(synAck.tsEcr).toBe(9);
    expect(t.core.accept(listener)).toBeNull();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: synAck.seq + 1, ts: [10, synAck.tsVal] });
    const conn = t.core.accept(listener);
    expect(conn?.state).toBe(ESTABLISHED);
    expect(t.take()).toEqual([]);
    expect(t.core.counters.tcpPassiveOpens).toBe(1);
  });

  it('offers only the options the SYN offered', () => {
    const t = new Harness();
    t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1400 });
    const [synAck] = t.take();
    expect(synAck.kinds).toEqual([OPT_MSS]);
  });

  it('uses the default MSS of 536 without the option, and floors a tiny MSS at minMss', () => {
    const t = new Harness();
    const a = t.passiveOpen({});
    expect(a.conn.smss).toBe(536);
    const t2 = new Harness();
    const b = t2.passiveOpen({ mss: 48 });
    expect(b.conn.smss).toBe(216);
  });

  it('keeps the connection when the last ACK lacks the timestamp option (RFC 7323 3.2)', () => {
    const t = new Harness();
    const listener = t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460, ts: [9, 0] });
    const [synAck] = t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: synAck.seq + 1 });
    expect(t.core.accept(listener)?.state).toBe(ESTABLISHED);
  });

  it('delivers data on the SYN and on the last ACK of the handshake', () => {
    const t = new Harness();
    const listener = t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460, data: 5 });
    const [synAck] = t.take();
    expect(synAck.ack).toBe(PEER_ISS + 6);
    t.inject({ flags: ACK | PSHFLAG, seq: PEER_ISS + 6, ack: synAck.seq + 1, data: 7 });
    const conn = t.core.accept(listener)!;
    expect(conn.readableBytes).toBe(12);
  });

  it('retransmits the SYN-ACK on a duplicate SYN', () => {
    const t = new Harness();
    t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
    const [first] = t.take();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
    const [again] = t.take();
    expect(again.flags).toBe(SYN | ACK);
    expect(again.seq).toBe(first.seq);
  });

  it('retransmits the SYN-ACK on timeout and drops the half-open connection at the end', () => {
    const t = new Harness({ maxSynRetransmits: 2 });
    const listener = t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
    t.take();
    t.runFor(60_000_000);
    expect(t.sent.map((s) => s.flags)).toEqual([SYN | ACK, SYN | ACK]);
    expect(listener.halfOpen).toBe(0);
    expect(t.core.connectionCount).toBe(0);
    expect(t.core.counters.tcpAttemptFails).toBe(1);
  });

  it('bounds half-open connections by the backlog', () => {
    const t = new Harness();
    t.listen({ backlog: 2 });
    for (let i = 0; i < 5; i++) t.inject({ flags: SYN, seq: PEER_ISS, srcPort: 1000 + i });
    expect(t.take().length).toBe(2);
    expect(t.core.counters.drops['listen-overflow']).toBe(3);
  });

  it('answers an ACK to a listener with RST and ignores a RST (deliver_in_1b, 7b)', () => {
    const t = new Harness();
    t.listen();
    t.inject({ flags: ACK, seq: 1, ack: 12345 });
    const [rst] = t.take();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe(12345);
    t.inject({ flags: RST, seq: 1 });
    expect(t.take()).toEqual([]);
  });

  it('RST in SYN_RECEIVED drops the embryonic connection (deliver_in_7a)', () => {
    const t = new Harness();
    const listener = t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS });
    t.take();
    t.inject({ flags: RST, seq: PEER_ISS + 1 });
    expect(listener.halfOpen).toBe(0);
    expect(t.core.connectionCount).toBe(0);
  });

  it('a stray ACK in SYN_RECEIVED gets a RST (deliver_in_3c)', () => {
    const t = new Harness();
    t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS });
    const [synAck] = t.take();
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: synAck.seq + 50 });
    const [rst] = t.take();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe((synAck.seq + 50) >>> 0);
  });

  it('a segment for no connection gets RST per RFC 9293 3.10.7.1', () => {
    const t = new Harness();
    t.inject({ flags: SYN, seq: 77 });
    const [rst] = t.take();
    expect(rst.flags).toBe(RST | ACK);
    expect(rst.seq).toBe(0);
    expect(rst.ack).toBe(78);
    t.inject({ flags: RST, seq: 5 });
    expect(t.take()).toEqual([]);
    expect(t.core.counters.drops['no-connection']).toBe(2);
    expect(t.core.counters.tcpOutRsts).toBe(1);
  });
});

describe('simultaneous open (RFC 9293 3.5 figure 7)', () => {
  it('goes SYN_SENT → SYN_RECEIVED → ESTABLISHED', () => {
    const t = new Harness();
    const conn = t.core.connect(0, {
      remoteAddress: REMOTE,
      remotePort: REMOTE_PORT,
      localAddress: LOCAL,
      localPort: LOCAL_PORT,
    });
    const [syn] = t.take();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
    expect(conn.state).toBe(SYN_RECEIVED);
    const [synAck] = t.take();
    expect(synAck.flags).toBe(SYN | ACK);
    expect(synAck.seq).toBe(syn.seq);
    expect(synAck.ack).toBe(PEER_ISS + 1);
    t.inject({ flags: SYN | ACK, seq: PEER_ISS, ack: syn.seq + 1, mss: 1460 });
    expect(conn.state).toBe(ESTABLISHED);
    expect(t.eventKinds(conn)).toEqual([TcpEvent.ESTABLISHED]);
  });
});

describe('ports and errors', () => {
  it('EADDRINUSE for a second listener and for a duplicate 4-tuple', () => {
    const t = new Harness();
    t.listen();
    expect(() => t.listen()).toThrow(TcpError);
    try {
      t.listen();
    } catch (err) {
      expect((err as TcpError).code).toBe('EADDRINUSE');
    }
    const req = { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL, localPort: 5000 };
    t.core.connect(0, req);
    expect(() => t.core.connect(0, req)).toThrow(/EADDRINUSE/);
  });

  it('ephemeral ports come from the range, are freed on close, and run out with EADDRNOTAVAIL', () => {
    const t = new Harness({ ephemeralFirst: 50000, ephemeralLast: 50003 });
    const conns = [];
    for (let i = 0; i < 4; i++) {
      const c = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
      expect(c.localPort).toBeGreaterThanOrEqual(50000);
      expect(c.localPort).toBeLessThanOrEqual(50003);
      conns.push(c);
    }
    expect(new Set(conns.map((c) => c.localPort)).size).toBe(4);
    expect(() =>
      t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL }),
    ).toThrow(/EADDRNOTAVAIL/);
    // Another destination may reuse the same local ports (RFC 6056 3.3.3).
    t.core.connect(0, { remoteAddress: REMOTE, remotePort: 81, localAddress: LOCAL });
    t.core.close(0, conns[0]);
    const again = t.core.connect(0, { remoteAddress: REMOTE, remotePort: 80, localAddress: LOCAL });
    expect(again.localPort).toBe(conns[0].localPort);
  });

  it('ISNs differ per 4-tuple and advance with the clock (RFC 6528)', () => {
    const t = new Harness();
    const a = t.core.connect(0, {
      remoteAddress: REMOTE,
      remotePort: 80,
      localAddress: LOCAL,
      localPort: 1,
    });
    const b = t.core.connect(0, {
      remoteAddress: REMOTE,
      remotePort: 81,
      localAddress: LOCAL,
      localPort: 1,
    });
    expect(a.iss).not.toBe(b.iss);
    t.core.abort(0, a);
    const c = t.core.connect(4_000, {
      remoteAddress: REMOTE,
      remotePort: 80,
      localAddress: LOCAL,
      localPort: 1,
    });
    expect((c.iss - a.iss) >>> 0).toBe(1000);
  });
});

describe('ECN (RFC 3168)', () => {
  it('negotiates on a passive open and echoes CE until CWR', () => {
    const t = new Harness({ ecn: 'passive' });
    t.listen();
    t.inject({ flags: SYN | ECE | CWR, seq: PEER_ISS, mss: 1460 });
    const [synAck] = t.take();
    expect(synAck.flags).toBe(SYN | ACK | ECE);
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: synAck.seq + 1 });
    t.inject({ flags: ACK, seq: PEER_ISS + 1, ack: synAck.seq + 1, data: 100, ecn: 3 });
    const [ack] = t.take();
    expect(ack.flags & ECE).toBe(ECE);
    t.inject({ flags: ACK | CWR, seq: PEER_ISS + 101, ack: synAck.seq + 1, data: 100 });
    t.inject({ flags: ACK, seq: PEER_ISS + 201, ack: synAck.seq + 1, data: 100 });
    const after = t.take();
    expect(after.length).toBeGreaterThan(0);
    expect(after[after.length - 1].flags & ECE).toBe(0);
  });

  it('halves cwnd once per window on ECN-Echo and sets CWR', () => {
    const t = new Harness({ ecn: 'on' });
    const conn = t.core.connect(0, {
      remoteAddress: REMOTE,
      remotePort: REMOTE_PORT,
      localAddress: LOCAL,
      localPort: LOCAL_PORT,
    });
    const [syn] = t.take();
    expect(syn.flags).toBe(SYN | ECE | CWR);
    t.inject({ flags: SYN | ACK | ECE, seq: PEER_ISS, ack: syn.seq + 1, mss: 1000 });
    expect(conn.ecnOk).toBe(true);
    t.take();
    t.core.send(t.now, conn, new Uint8Array(5000));
    const data = t.take();
    expect(data.every((s) => s.ecn === 2)).toBe(true);
    const cwnd = conn.cwnd;
    t.inject({ flags: ACK | ECE, seq: PEER_ISS + 1, ack: syn.seq + 1001 });
    expect(conn.cwnd).toBeLessThan(cwnd);
    expect(conn.cwrPending || t.take().some((s) => (s.flags & CWR) !== 0)).toBe(true);
  });
});

describe('half close', () => {
  it('reads to end of stream after the peer FIN while still sending', () => {
    const t = new Harness();
    const { conn, iss } = t.passiveOpen({ mss: 1460 });
    t.inject({ flags: ACK | FIN, seq: PEER_ISS + 1, ack: iss + 1, data: 3 });
    expect(conn.state).toBe(CLOSE_WAIT);
    const buf = new Uint8Array(10);
    expect(t.core.recv(t.now, conn, buf)).toBe(3);
    expect(t.core.recv(t.now, conn, buf)).toBe(0);
    t.take();
    expect(t.core.send(t.now, conn, new Uint8Array(4))).toBe(4);
    const [seg] = t.take();
    expect(seg.length).toBe(4);
  });
});

const PSHFLAG = 0x08;
