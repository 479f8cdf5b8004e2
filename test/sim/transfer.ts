// Scenarios for the simulator: bulk transfers both ways over impaired paths, checked end to
// end (content hash, clean close or the right error, nothing left behind).

import { createHash, type Hash } from 'node:crypto';
import type { TcpConnection } from '../../lib/tcp/connection.js';
import { TcpError } from '../../lib/tcp/errors.js';
import type { TcpParams } from '../../lib/tcp/params.js';
import {
  Rng,
  SimNetwork,
  TcpEvent,
  noImpairment,
  type Impairment,
  type SimNode,
} from './network.js';

const CLIENT = 0xc6120001; // 198.18.0.1
const SERVER = 0xc6130001; // 198.19.0.1
const PORT = 80;

class Endpoint {
  sent = 0;
  received = 0;
  readonly receivedHash: Hash = createHash('sha256');
  eof = false;
  shutDown = false;
  closeCalled = false;
  closedEvent = false;
  error: string | null = null;
  constructor(
    readonly node: SimNode,
    readonly conn: TcpConnection,
    readonly data: Uint8Array,
  ) {}
}

export interface TransferOptions {
  seed: number;
  connections: number;
  /** Bytes each client sends. */
  upload: number;
  /** Bytes each server side sends back. */
  download: number;
  impairment: Impairment;
  params?: Partial<TcpParams>;
  /** Virtual-time limit in microseconds. */
  limit?: number;
  /** Start every connection this far below 2^32, so sequence numbers wrap. */
  isnBelowWrap?: number;
}

export interface TransferResult {
  ok: boolean;
  failure: string | null;
  virtualTime: number;
  segments: number;
  retransmissions: number;
  /** Segments that arrived marked CE (ECN), on either side. */
  ceReceived: number;
}

const scratch = new Uint8Array(65536);

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function runTransfer(options: TransferOptions): TransferResult {
  const net = new SimNetwork(options.seed, options.impairment);
  const below = options.isnBelowWrap;
  if (below !== undefined) net.isn = (_now, conn) => 2 ** 32 - below - conn.localPort;
  const params: Partial<TcpParams> = { msl: 2_000_000, ...options.params };
  const client = net.addNode(CLIENT, params);
  const server = net.addNode(SERVER, params);
  const listener = server.core.listen({ port: PORT, backlog: 64 });
  const dataRng = new Rng(options.seed ^ 0x9e3779b9);
  const endpoints: Endpoint[] = [];
  const byConn = new Map<TcpConnection, Endpoint>();
  const expected = new Map<Endpoint, string>();

  function pump(node: SimNode): void {
    for (const e of node.pending.splice(0)) {
      const ep = byConn.get(e.conn);
      if (e.kind === TcpEvent.ESTABLISHED && e.conn.listener === listener) {
        for (let c = server.core.accept(listener); c; c = server.core.accept(listener)) {
          const ep2 = new Endpoint(server, c, dataRng.bytes(options.download));
          endpoints.push(ep2);
          byConn.set(c, ep2);
        }
      }
      if (ep === undefined) continue;
      if (e.kind === TcpEvent.CLOSED) ep.closedEvent = true;
      if (e.kind === TcpEvent.RESET || e.kind === TcpEvent.TIMED_OUT || e.kind === TcpEvent.ERROR) {
        ep.error = e.conn.error;
      }
    }
    for (const ep of endpoints) {
      if (ep.node !== node || ep.closeCalled || ep.error !== null || ep.closedEvent) continue;
      service(ep);
    }
  }

  function service(ep: Endpoint): void {
    const core = ep.node.core;
    const conn = ep.conn;
    try {
      while (ep.sent < ep.data.length && conn.state >= 4) {
        const n = core.send(net.now, conn, ep.data, ep.sent, ep.data.length - ep.sent);
        if (n === 0) break;
        ep.sent += n;
      }
      if (ep.sent === ep.data.length && !ep.shutDown && conn.state >= 4) {
        ep.shutDown = true;
        core.shutdown(net.now, conn, 'write');
      }
      while (!ep.eof) {
        const n = core.recv(net.now, conn, scratch, 0, scratch.length);
        if (n < 0) break;
        if (n === 0) {
          ep.eof = true;
          break;
        }
        ep.received += n;
        ep.receivedHash.update(scratch.subarray(0, n));
      }
      if (ep.eof && ep.shutDown && !ep.closeCalled) {
        ep.closeCalled = true;
        core.close(net.now, conn);
      }
    } catch (err) {
      if (err instanceof TcpError) ep.error = err.code;
      else throw err;
    }
  }

  net.onEvents = pump;
  for (let i = 0; i < options.connections; i++) {
    const conn = client.core.connect(net.now, {
      remoteAddress: SERVER,
      remotePort: PORT,
      localAddress: CLIENT,
    });
    const ep = new Endpoint(client, conn, dataRng.bytes(options.upload));
    endpoints.push(ep);
    byConn.set(conn, ep);
  }
  pump(client);

  const limit = options.limit ?? 3_600_000_000;
  const finished = (): boolean =>
    endpoints.length === 2 * options.connections &&
    endpoints.every((ep) => ep.closedEvent || ep.error !== null);
  try {
    net.run(finished, limit);
  } catch (err) {
    if ((globalThis as Record<string, unknown>).SIMDEBUG) {
      for (const ep of endpoints) {
        const c = ep.conn;
        console.log(
          ep.node === client ? 'client' : 'server',
          c.state,
          c.sndUna,
          c.sndNxt,
          c.sndMax,
          c.sndWnd,
          c.cwnd,
          c.rcvNxt,
          c.rcvAdv,
          c.receiveBuffer.length,
          c.sendBuffer.length,
          c.deadline,
          c.retransmitAt,
          c.persistAt,
          c.delayedAckAt,
          ep.sent,
          ep.received,
        );
      }
    }
    if ((globalThis as Record<string, unknown>).SIMDEBUG) console.log(net.trace.join('\n'));
    throw err;
  }
  // Let TIME_WAIT and any straggler run out, until the links hold no frame either.
  net.run(
    () =>
      client.core.connectionCount === 0 &&
      server.core.connectionCount === 0 &&
      net.framesHeld === 0 &&
      net.timersArmed === 0,
    net.now + 600_000_000,
  );
  server.core.closeListener(net.now, listener);
  if ((globalThis as Record<string, unknown>).SIMDEBUG) {
    for (const ep of endpoints) {
      const c = ep.conn;
      console.log(ep.node === client ? 'client' : 'server', c.state, {
        sent: ep.sent,
        received: ep.received,
        eof: ep.eof,
        shut: ep.shutDown,
        closeCalled: ep.closeCalled,
        sndUna: c.sndUna,
        sndNxt: c.sndNxt,
        sndMax: c.sndMax,
        sndWnd: c.sndWnd,
        rcvNxt: c.rcvNxt,
        buf: c.sendBuffer.length,
        rbuf: c.receiveBuffer.length,
        deadline: c.deadline,
        released: c.released,
        persistAt: c.persistAt,
        retransmitAt: c.retransmitAt,
        backoff: c.backoff,
        err: c.error,
      });
    }
  }

  const result = (failure: string | null): TransferResult => ({
    ok: failure === null,
    failure,
    virtualTime: net.now,
    segments: net.sent,
    retransmissions: client.core.counters.tcpRetransSegs + server.core.counters.tcpRetransSegs,
    ceReceived: client.core.counters.ecnCeReceived + server.core.counters.ecnCeReceived,
  });

  if (endpoints.length !== 2 * options.connections) {
    return result(
      `only ${endpoints.length - options.connections} of ${options.connections} accepted`,
    );
  }
  const clients = endpoints.filter((e) => e.node === client);
  const servers = endpoints.filter((e) => e.node === server);
  for (const ep of clients) {
    const peer = servers.find((s) => s.conn.remotePort === ep.conn.localPort);
    if (!peer) return result(`no server side for port ${ep.conn.localPort}`);
    expected.set(peer, sha(ep.data));
    expected.set(ep, sha(peer.data));
  }
  for (const ep of endpoints) {
    const side = ep.node === client ? 'client' : 'server';
    const where = `${side} port ${ep.conn.localPort}/${ep.conn.remotePort}`;
    if (ep.error !== null) return result(`${where}: error ${ep.error}`);
    if (!ep.closedEvent) return result(`${where}: no CLOSED event (state ${ep.conn.state})`);
    if (!ep.eof) return result(`${where}: no end of stream`);
    const got = ep.receivedHash.digest('hex');
    if (got !== expected.get(ep)) return result(`${where}: content differs (${ep.received} bytes)`);
  }
  for (const node of [client, server]) {
    const core = node.core;
    const name = node === client ? 'client' : 'server';
    if (core.connectionCount !== 0)
      return result(`${name}: ${core.connectionCount} connections left`);
    if (core.portsInUse !== 0) return result(`${name}: ${core.portsInUse} ports left`);
    if (core.timersArmed !== 0) return result(`${name}: timers left`);
    if (core.bufferBytes !== 0) return result(`${name}: buffers left`);
  }
  if (net.framesHeld !== 0) return result(`links: ${net.framesHeld} frames held`);
  if (net.timersArmed !== 0) return result(`links: ${net.timersArmed} timers armed`);
  const unread = net.takeUnread();
  if (unread !== 0) return result(`links: ${unread} frames delivered but never read`);
  return result(null);
}

/** The impairment and sizes for one seed of the randomized suite. */
export function scenarioForSeed(seed: number, scale = 1): TransferOptions {
  const rng = new Rng(seed * 7919 + 1);
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)];
  const impairment: Impairment = {
    ...noImpairment,
    loss: pick([0, 0, 0.01, 0.03, 0.1]),
    duplicate: pick([0, 0.01, 0.05]),
    reorder: pick([0, 0.02, 0.1]),
    reorderDelay: pick([500, 5_000, 20_000]),
    delay: pick([100, 1_000, 10_000, 50_000]),
    corrupt: pick([0, 0, 0.01]),
    rate: pick([0, 0, 12.5, 125]),
  };
  const size = (): number => Math.floor(pick([0, 1, 100, 1460, 5000, 70_000, 300_000]) * scale);
  return {
    seed,
    isnBelowWrap: pick([undefined, undefined, 1_000, 200_000]),
    connections: pick([1, 1, 2, 3]),
    upload: size(),
    download: size(),
    impairment,
    params: {
      sendBuffer: pick([8192, 32768, 131072]),
      receiveBuffer: pick([4096, 65536, 262144]),
      timestamps: pick([true, false]),
      sack: pick([true, false]),
      windowScaling: pick([true, true, false]),
      noDelay: pick([true, false]),
      rtoMin: pick([200_000, 1_000_000]),
    },
  };
}
