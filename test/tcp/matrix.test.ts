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
    TIME_WAIT: ['none', 'TIME_WAIT'],
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
