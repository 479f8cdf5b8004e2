// Each state against each kind of segment (RFC 9293 3.10.7.4, RFC 5961, RFC 1337): what goes
// back and which state follows.

import { describe, expect, it } from 'vitest';
import { ACK, FIN, Harness, PEER_ISS, RST, SYN, type Sent } from './harness.js';
import type { TcpConnection } from '../../lib/tcp/connection.js';
import {
  CLOSE_WAIT,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  SYN_RECEIVED,
  TIME_WAIT,
  stateName,
} from '../../lib/tcp/states.js';

type Setup = { t: Harness; conn: TcpConnection };

function established(): Setup {
  const t = new Harness({ timestamps: false });
  const { conn } = t.passiveOpen({ mss: 1460 });
  t.take();
  return { t, conn };
}

function peerFin(s: Setup): void {
  s.t.inject({ flags: FIN | ACK, seq: s.conn.rcvNxt, ack: s.conn.sndUna });
  s.t.take();
}

const setups: Record<string, () => Setup> = {
  SYN_RECEIVED: () => {
    const t = new Harness({ timestamps: false });
    t.listen();
    t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
    t.take();
    return { t, conn: [...t.core.connections][0] };
  },
  ESTABLISHED: established,
  FIN_WAIT_1: () => {
    const s = established();
    s.t.core.shutdown(s.t.now, s.conn, 'write');
    s.t.take();
    return s;
  },
  FIN_WAIT_2: () => {
    const s = setups.FIN_WAIT_1();
    s.t.inject({ flags: ACK, seq: s.conn.rcvNxt, ack: s.conn.sndMax });
    s.t.take();
    return s;
  },
  CLOSING: () => {
    const s = setups.FIN_WAIT_1();
    peerFin(s);
    return s;
  },
  TIME_WAIT: () => {
    const s = setups.FIN_WAIT_2();
    peerFin(s);
    return s;
  },
  CLOSE_WAIT: () => {
    const s = established();
    peerFin(s);
    return s;
  },
  LAST_ACK: () => {
    const s = setups.CLOSE_WAIT();
    s.t.core.close(s.t.now, s.conn);
    s.t.take();
    return s;
  },
};

const expectedState: Record<string, number> = {
  SYN_RECEIVED,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  CLOSING,
  TIME_WAIT,
  CLOSE_WAIT,
  LAST_ACK,
};

type Kind =
  | 'rst-exact'
  | 'rst-in-window'
  | 'rst-out-of-window'
  | 'syn-in-window'
  | 'ack-duplicate'
  | 'data-in-window'
  | 'data-out-of-window'
  | 'ack-unsent'
  | 'data-without-ack'
  | 'fin';

function inject(s: Setup, kind: Kind): void {
  const { t, conn } = s;
  const n = conn.rcvNxt;
  const una = conn.sndUna;
  switch (kind) {
    case 'rst-exact':
      return t.inject({ flags: RST, seq: n });
    case 'rst-in-window':
      return t.inject({ flags: RST, seq: n + 10 });
    case 'rst-out-of-window':
      return t.inject({ flags: RST, seq: n + 1_000_000 });
    case 'syn-in-window':
      return t.inject({ flags: SYN, seq: n + 10 });
    case 'ack-duplicate':
      return t.inject({ flags: ACK, seq: n, ack: una });
    case 'data-in-window':
      return t.inject({ flags: ACK, seq: n, ack: una, data: 100 });
    case 'data-out-of-window':
      return t.inject({ flags: ACK, seq: n + 1_000_000, ack: una, data: 100 });
    case 'ack-unsent':
      return t.inject({ flags: ACK, seq: n, ack: conn.sndMax + 1000 });
    case 'data-without-ack':
      return t.inject({ flags: 0, seq: n, data: 100 });
    case 'fin':
      return t.inject({ flags: FIN | ACK, seq: n, ack: una });
  }
}

type Reply = 'none' | 'ack' | 'synack' | 'rst';
/** [reply, state after ('gone' when the connection left)] per state, per kind. */
const matrix: Record<Kind, Record<string, [Reply, string]>> = {
  'rst-exact': {
    SYN_RECEIVED: ['none', 'gone'],
    ESTABLISHED: ['none', 'gone'],
    FIN_WAIT_1: ['none', 'gone'],
    FIN_WAIT_2: ['none', 'gone'],
    CLOSING: ['none', 'gone'],
    TIME_WAIT: ['none', 'TIME_WAIT'],
    CLOSE_WAIT: ['none', 'gone'],
    LAST_ACK: ['none', 'gone'],
  },
  'rst-in-window': {
    // FreeBSD's challenge ACK from the SYN cache is a bare ACK.
    SYN_RECEIVED: ['ack', 'SYN_RECEIVED'],
    ESTABLISHED: ['ack', 'ESTABLISHED'],
    FIN_WAIT_1: ['ack', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['ack', 'FIN_WAIT_2'],
    CLOSING: ['ack', 'CLOSING'],
    TIME_WAIT: ['none', 'TIME_WAIT'],
    CLOSE_WAIT: ['ack', 'CLOSE_WAIT'],
    LAST_ACK: ['ack', 'LAST_ACK'],
  },
  'rst-out-of-window': {
    SYN_RECEIVED: ['none', 'SYN_RECEIVED'],
    ESTABLISHED: ['none', 'ESTABLISHED'],
    FIN_WAIT_1: ['none', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['none', 'FIN_WAIT_2'],
    CLOSING: ['none', 'CLOSING'],
    TIME_WAIT: ['none', 'TIME_WAIT'],
    CLOSE_WAIT: ['none', 'CLOSE_WAIT'],
    LAST_ACK: ['none', 'LAST_ACK'],
  },
  'syn-in-window': {
    SYN_RECEIVED: ['none', 'gone'],
    ESTABLISHED: ['ack', 'ESTABLISHED'],
    FIN_WAIT_1: ['ack', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['ack', 'FIN_WAIT_2'],
    CLOSING: ['ack', 'CLOSING'],
    // RFC 6191: a SYN above RCV.NXT ends TIME_WAIT and opens a new connection.
    TIME_WAIT: ['synack', 'gone'],
    CLOSE_WAIT: ['ack', 'CLOSE_WAIT'],
    LAST_ACK: ['ack', 'LAST_ACK'],
  },
  'ack-duplicate': {
    SYN_RECEIVED: ['rst', 'SYN_RECEIVED'],
    ESTABLISHED: ['none', 'ESTABLISHED'],
    FIN_WAIT_1: ['none', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['none', 'FIN_WAIT_2'],
    CLOSING: ['none', 'CLOSING'],
    TIME_WAIT: ['none', 'TIME_WAIT'],
    CLOSE_WAIT: ['none', 'CLOSE_WAIT'],
    LAST_ACK: ['none', 'LAST_ACK'],
  },
  'data-in-window': {
    SYN_RECEIVED: ['rst', 'SYN_RECEIVED'],
    // Delayed ACK: the first segment is not acknowledged at once.
    ESTABLISHED: ['none', 'ESTABLISHED'],
    FIN_WAIT_1: ['none', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['none', 'FIN_WAIT_2'],
    CLOSING: ['none', 'CLOSING'],
    // TIME_WAIT answers anything but an exact duplicate ACK (BSD tcp_twcheck).
    TIME_WAIT: ['ack', 'TIME_WAIT'],
    CLOSE_WAIT: ['none', 'CLOSE_WAIT'],
    LAST_ACK: ['none', 'LAST_ACK'],
  },
  'data-out-of-window': {
    SYN_RECEIVED: ['synack', 'SYN_RECEIVED'],
    ESTABLISHED: ['ack', 'ESTABLISHED'],
    FIN_WAIT_1: ['ack', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['ack', 'FIN_WAIT_2'],
    CLOSING: ['ack', 'CLOSING'],
    TIME_WAIT: ['ack', 'TIME_WAIT'],
    CLOSE_WAIT: ['ack', 'CLOSE_WAIT'],
    LAST_ACK: ['ack', 'LAST_ACK'],
  },
  'ack-unsent': {
    SYN_RECEIVED: ['rst', 'SYN_RECEIVED'],
    ESTABLISHED: ['ack', 'ESTABLISHED'],
    FIN_WAIT_1: ['ack', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['ack', 'FIN_WAIT_2'],
    CLOSING: ['ack', 'CLOSING'],
    TIME_WAIT: ['ack', 'TIME_WAIT'],
    CLOSE_WAIT: ['ack', 'CLOSE_WAIT'],
    LAST_ACK: ['ack', 'LAST_ACK'],
  },
  'data-without-ack': {
    SYN_RECEIVED: ['none', 'SYN_RECEIVED'],
    ESTABLISHED: ['none', 'ESTABLISHED'],
    FIN_WAIT_1: ['none', 'FIN_WAIT_1'],
    FIN_WAIT_2: ['none', 'FIN_WAIT_2'],
    CLOSING: ['none', 'CLOSING'],
    TIME_WAIT: ['none', 'TIME_WAIT'],
    CLOSE_WAIT: ['none', 'CLOSE_WAIT'],
    LAST_ACK: ['none', 'LAST_ACK'],
  },
  fin: {
    SYN_RECEIVED: ['rst', 'SYN_RECEIVED'],
    ESTABLISHED: ['ack', 'CLOSE_WAIT'],
    FIN_WAIT_1: ['ack', 'CLOSING'],
    FIN_WAIT_2: ['ack', 'TIME_WAIT'],
    CLOSING: ['ack', 'CLOSING'],
    TIME_WAIT: ['ack', 'TIME_WAIT'],
    CLOSE_WAIT: ['ack', 'CLOSE_WAIT'],
    LAST_ACK: ['ack', 'LAST_ACK'],
  },
};

function classify(sent: Sent[]): Reply {
  if (sent.length === 0) return 'none';
  const f = sent[0].flags;
  if (f & RST) return 'rst';
  if (f & SYN) return 'synack';
  return 'ack';
}

describe('segment matrix: state × segment', () => {
  for (const [kind, row] of Object.entries(matrix) as [Kind, Record<string, [Reply, string]>][]) {
    for (const [state, [reply, next]] of Object.entries(row)) {
      it(`${state} + ${kind} → ${reply}, ${next}`, () => {
        const s = setups[state]();
        expect(stateName(s.conn.state)).toBe(state);
        expect(s.conn.state).toBe(expectedState[state]);
        const before = s.conn.rcvNxt;
        inject(s, kind);
        const sent = s.t.take();
        expect(classify(sent)).toBe(reply);
        if (next === 'gone') expect(s.conn.released).toBe(true);
        else expect(stateName(s.conn.state)).toBe(next);
        if (kind === 'data-in-window') {
          const accepts = state === 'ESTABLISHED' || state.startsWith('FIN_WAIT');
          expect(s.conn.rcvNxt).toBe(accepts ? (before + 100) >>> 0 : before);
        }
        if (reply === 'ack' && kind !== 'fin' && state !== 'SYN_RECEIVED') {
          // The ACK names what we expect next.
          expect(sent[0].ack).toBe(s.conn.rcvNxt);
        }
      });
    }
  }
});

describe('SYN in a synchronised state (RFC 9293 3.10.7.4 fourth, RFC 5961 4.2)', () => {
  const withParams = (params: object, state: 'FIN_WAIT_1' | 'CLOSING' | 'LAST_ACK'): Setup => {
    const t = new Harness({ timestamps: false, ...params });
    const { conn } = t.passiveOpen({ mss: 1460 });
    t.take();
    const s = { t, conn };
    if (state === 'LAST_ACK') peerFin(s);
    if (state === 'LAST_ACK') t.core.close(t.now, conn);
    else t.core.shutdown(t.now, conn, 'write');
    t.take();
    if (state === 'CLOSING') peerFin(s);
    expect(stateName(conn.state)).toBe(state);
    return s;
  };

  for (const state of ['FIN_WAIT_1', 'CLOSING', 'LAST_ACK'] as const) {
    for (const [name, seqOf] of [
      ['outside the window', (c: TcpConnection) => c.rcvNxt + 1_000_000],
      ['at the initial sequence number', (c: TcpConnection) => c.rcvNxt - 1],
    ] as const) {
      it(`${state}: a SYN ${name} draws a bare ACK at SND.NXT, not the FIN again`, () => {
        const { t, conn } = withParams({ synChallengeAcks: false }, state);
        t.inject({ flags: SYN, seq: seqOf(conn) >>> 0 });
        const sent = t.take();
        expect(sent).toHaveLength(1);
        expect(sent[0].flags).toBe(ACK);
        expect(sent[0].seq).toBe(conn.sndMax);
        expect(sent[0].ack).toBe(conn.rcvNxt);
        expect(stateName(conn.state)).toBe(state);
      });
    }
  }

  it('takes the RST and SYN switches apart (FreeBSD insecure_rst, insecure_syn)', () => {
    const rstOnly = withParams({ rstChallengeAcks: false, synChallengeAcks: true }, 'FIN_WAIT_1');
    rstOnly.t.inject({ flags: SYN, seq: rstOnly.conn.rcvNxt + 10 });
    expect(classify(rstOnly.t.take())).toBe('ack');
    expect(rstOnly.conn.released).toBe(false);
    rstOnly.t.inject({ flags: RST, seq: rstOnly.conn.rcvNxt + 10 });
    expect(rstOnly.conn.released).toBe(true);

    const synOnly = withParams({ rstChallengeAcks: true, synChallengeAcks: false }, 'FIN_WAIT_1');
    synOnly.t.inject({ flags: RST, seq: synOnly.conn.rcvNxt + 10 });
    expect(classify(synOnly.t.take())).toBe('ack');
    expect(synOnly.conn.released).toBe(false);
    synOnly.t.inject({ flags: SYN, seq: synOnly.conn.rcvNxt + 10 });
    expect(classify(synOnly.t.take())).toBe('rst');
    expect(synOnly.conn.released).toBe(true);
  });
});

describe('SYN in TIME_WAIT that does not reopen the connection', () => {
  const timeWait = (params: object): Setup => {
    const t = new Harness({ timestamps: false, ...params });
    const { conn } = t.passiveOpen({ mss: 1460 });
    t.take();
    const s = { t, conn };
    t.core.shutdown(t.now, conn, 'write');
    t.take();
    t.inject({ flags: ACK, seq: conn.rcvNxt, ack: conn.sndMax });
    peerFin(s);
    expect(stateName(conn.state)).toBe('TIME_WAIT');
    return s;
  };

  for (const offset of [0, -1]) {
    it(`at RCV.NXT${offset ? ' - 1' : ''}: challenge ACK by RFC 5961 4.2`, () => {
      const { t, conn } = timeWait({});
      t.inject({ flags: SYN, seq: (conn.rcvNxt + offset) >>> 0 });
      const sent = t.take();
      expect(classify(sent)).toBe('ack');
      expect(sent[0].seq).toBe(conn.sndMax);
    });

    it(`at RCV.NXT${offset ? ' - 1' : ''}: dropped unanswered as FreeBSD tcp_twcheck does`, () => {
      const { t, conn } = timeWait({ timeWaitAnswersSyn: false });
      t.inject({ flags: SYN, seq: (conn.rcvNxt + offset) >>> 0 });
      expect(t.take()).toEqual([]);
      expect(stateName(conn.state)).toBe('TIME_WAIT');
      // A segment with an ACK is still answered.
      t.inject({ flags: ACK, seq: (conn.rcvNxt - 1) >>> 0, ack: conn.sndMax });
      expect(classify(t.take())).toBe('ack');
    });
  }
});

describe('RST in SYN_RECEIVED from a listener (RFC 9293 3.10.7.4 first, RFC 5961 3.2)', () => {
  for (const rstChallengeAcks of [false, true]) {
    it(`checks against the SYN-ACK's window only (rstChallengeAcks ${rstChallengeAcks})`, () => {
      const t = new Harness({ timestamps: false, receiveBuffer: 65536, rstChallengeAcks });
      t.listen();
      t.inject({ flags: SYN, seq: PEER_ISS, mss: 1460 });
      const [synAck] = t.take();
      expect(synAck.window).toBe(65535);
      const conn = [...t.core.connections][0];
      // One past the offered window, though the buffer has room for it: ignored.
      t.inject({ flags: RST, seq: PEER_ISS + 1 + 65535 });
      expect(t.take()).toEqual([]);
      expect(conn.released).toBe(false);
      expect(stateName(conn.state)).toBe('SYN_RECEIVED');
      // The last byte of the offered window is in it.
      t.inject({ flags: RST, seq: PEER_ISS + 65535 });
      if (rstChallengeAcks) expect(classify(t.take())).toBe('ack');
      expect(conn.released).toBe(!rstChallengeAcks);
    });
  }
});
