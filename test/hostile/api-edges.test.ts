import { afterEach, describe, expect, it } from 'vitest';
import { checksum } from '../../lib/wire/checksum.js';
import { NOTHING_LEFT, leftovers, pair, runUntil, type Pair } from '../api/harness.js';
import { PEER_IP, Rig, STACK_IP, SYN } from './raw-peer.js';

let current: Pair | undefined;
let rig: Rig | undefined;
afterEach(async () => {
  await current?.close();
  await rig?.close();
  current = undefined;
  rig = undefined;
});

const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

describe('hostile: API edges', () => {
  it('local port clashes give EADDRINUSE, a foreign listen address EADDRNOTAVAIL', async () => {
    const p = (current = pair());
    p.b.createServer((s) => s.resume()).listen(80);
    const errors: unknown[] = [];
    const first = p.a.connect({ host: '198.18.0.2', port: 80, localPort: 5000 });
    first.on('error', (e) => errors.push(e));
    const second = p.a.connect({ host: '198.18.0.2', port: 80, localPort: 5000 });
    second.on('error', (e) => errors.push(e));
    const server = p.a.createServer();
    server.on('error', (e) => errors.push(e));
    server.listen(5000);
    const foreign = p.a.createServer();
    foreign.on('error', (e) => errors.push(e));
    foreign.listen(81, '198.18.0.77');
    await runUntil(p.clock, () => errors.length >= 2);
    const codes = errors.map(codeOf);
    expect(codes).toContain('EADDRINUSE');
    expect(codes).toContain('EADDRNOTAVAIL');
    first.destroy();
    second.destroy();
    server.close();
  });

  it('ping with an oversize payload or a negative timeout rejects with a code', async () => {
    const p = (current = pair());
    const outcomes: unknown[] = [];
    for (const options of [{ size: 70_000 }, { timeout: -5 }, { size: 1.5 }]) {
      p.a.ping('198.18.0.2', options).then(
        () => outcomes.push('ok'),
        (e) => outcomes.push(codeOf(e)),
      );
    }
    await runUntil(p.clock, () => outcomes.length === 3, 10_000_000);
    expect(outcomes).toContain('EMSGSIZE');
    for (const outcome of outcomes) expect(outcome).toBeTypeOf('string');
  });

  it('ping with a negative size rejects with a code instead of throwing', async () => {
    // Bug: lib/api/stack.ts:191 builds `new Uint8Array(options.size)` before any check, so
    // size -1 throws a RangeError (no `code`) synchronously out of ping().
    const p = (current = pair());
    let outcome: unknown;
    try {
      await p.a.ping('198.18.0.2', { size: -1 });
    } catch (e) {
      outcome = e;
    }
    expect(codeOf(outcome)).toBeTypeOf('string');
  });

  it('setTimeout/setKeepAlive/setNoDelay with odd values do not throw', async () => {
    const p = (current = pair());
    p.b.createServer((s) => s.resume()).listen(80);
    const client = p.a.connect({ host: '198.18.0.2', port: 80 });
    let connected = false;
    client.on('connect', () => (connected = true));
    await runUntil(p.clock, () => connected);
    client.setKeepAlive(true, -100);
    client.setKeepAlive(true, Number.NaN);
    client.setNoDelay(true);
    client.setNoDelay(false);
    client.setTimeout(0);
    client.destroy();
    await runUntil(p.clock, () => leftovers(p.a).sockets === 0 && leftovers(p.a).connections === 0);
    expect(leftovers(p.a)).toEqual(NOTHING_LEFT);
  });

  it('ICMP port unreachable quoting our SYN gives ECONNREFUSED; a wrong seq does not', async () => {
    const r = (rig = new Rig());
    const socket = r.stack.connect({ host: '198.18.0.1', port: 80 });
    let error: unknown;
    socket.on('error', (e) => (error = e));
    await r.settle();
    const syn = r.seen.find((s) => s.header.flags === SYN);
    expect(syn).toBeDefined();
    const quote = (seq: number): Uint8Array => {
      const q = new Uint8Array(28);
      q[0] = 0x45;
      q[3] = 44;
      q[8] = 64;
      q[9] = 6;
      q.set(STACK_IP, 12);
      q.set(PEER_IP, 16);
      new DataView(q.buffer).setUint16(10, checksum(q, 0, 20));
      new DataView(q.buffer).setUint16(20, syn!.header.srcPort);
      new DataView(q.buffer).setUint16(22, 80);
      new DataView(q.buffer).setUint32(24, seq >>> 0);
      const m = new Uint8Array(36);
      m[0] = 3;
      m[1] = 3;
      m.set(q, 8);
      new DataView(m.buffer).setUint16(2, checksum(m, 0, m.length));
      return m;
    };
    r.sendIp(1, quote(syn!.header.seq + 12345));
    await r.settle();
    expect(error).toBeUndefined();
    r.sendIp(1, quote(syn!.header.seq));
    await r.settle();
    expect(codeOf(error)).toBe('ECONNREFUSED');
    const gauges = r.stack.stats().gauges;
    expect(gauges.connections).toBe(0);
    expect(gauges.sockets).toBe(0);
    expect(gauges.timers).toBe(0);
  });
});

describe('hostile: callbacks of writes that can never complete', () => {
  it('writes queued before a refused connect have their callbacks called', async () => {
    // Bug: lib/api/socket.ts:253 _destroy never calls the callback of the write held in
    // `pendingWrite`, so it and every write buffered behind it never complete (node:net
    // calls them with ERR_SOCKET_CLOSED_BEFORE_CONNECTION / ECONNREFUSED). Anything awaiting
    // the write (a promisified write, stream.finished, pipeline) hangs.
    const p = (current = pair());
    const socket = p.a.connect({ host: '198.18.0.2', port: 9 });
    const callbacks: unknown[] = [];
    let error: unknown;
    socket.on('error', (e) => (error = e));
    socket.write('one', (e) => callbacks.push(e ?? 'ok'));
    socket.write(Buffer.alloc(100_000), (e) => callbacks.push(e ?? 'ok'));
    let closed = false;
    socket.on('close', () => (closed = true));
    await runUntil(p.clock, () => closed);
    expect(codeOf(error)).toBe('ECONNREFUSED');
    expect(callbacks).toHaveLength(2);
    for (const e of callbacks) expect(codeOf(e)).toBeTypeOf('string');
  });

  it('writes after the peer reset fail with a code', async () => {
    const p = (current = pair());
    const serverSide: import('../../lib/api/socket.js').Socket[] = [];
    p.b.createServer((s) => serverSide.push(s)).listen(80);
    const socket = p.a.connect({ host: '198.18.0.2', port: 80 });
    const errors: unknown[] = [];
    socket.on('error', (e) => errors.push(e));
    await runUntil(p.clock, () => serverSide.length === 1);
    serverSide[0].resetAndDestroy?.();
    if (!serverSide[0].destroyed) serverSide[0].destroy(new Error('abort'));
    serverSide[0].on('error', () => {});
    await runUntil(p.clock, () => errors.length > 0);
    const callbacks: unknown[] = [];
    socket.write('late', (e) => callbacks.push(e));
    await runUntil(p.clock, () => callbacks.length > 0);
    expect(codeOf(errors[0])).toBe('ECONNRESET');
    expect(codeOf(callbacks[0])).toBeTypeOf('string');
  });
});

describe('hostile: timer arguments', () => {
  it('huge keepalive and idle timeouts are accepted and the socket still closes', async () => {
    const p = (current = pair());
    p.b.createServer((s) => s.resume()).listen(80);
    const c = p.a.connect({ host: '198.18.0.2', port: 80 });
    let closed = false;
    c.on('close', () => (closed = true));
    c.resume();
    c.on('connect', () => {
      c.setKeepAlive(true, 1e15);
      c.setTimeout(1e15);
      c.setTimeout(-1);
      c.end('bye');
    });
    await runUntil(p.clock, () => closed, 30_000_000);
    expect(leftovers(p.a).sockets).toBe(0);
  });

  it('setTimeout(NaN) is refused with a code or ignored; the socket keeps working', async () => {
    // Bug: lib/api/socket.ts:174 stores NaN as the idle timeout; setTimeout(NaN) throws a bare
    // RangeError from the clock, and every later send or receive on the socket re-arms the
    // idle timer and throws again, from inside the stack's callbacks (node:net throws
    // ERR_OUT_OF_RANGE, with a code, and leaves the socket usable).
    const p = (current = pair());
    p.b.createServer((s) => s.resume()).listen(80);
    const c = p.a.connect({ host: '198.18.0.2', port: 80 });
    let connected = false;
    c.on('connect', () => (connected = true));
    await runUntil(p.clock, () => connected);
    try {
      c.setTimeout(Number.NaN);
    } catch (e) {
      expect(codeOf(e)).toBeTypeOf('string');
    }
    let closed = false;
    c.on('close', () => (closed = true));
    // Read to the end: a socket whose readable side is never consumed never emits 'close'.
    c.resume();
    c.end('bye');
    await runUntil(p.clock, () => closed, 30_000_000);
    expect(closed).toBe(true);
  });
});

describe('hostile: local ports out of range', () => {
  it('connect with localPort -1, 70000, 1.5 or NaN fails at once with a code', async () => {
    // Bug: lib/tcp/core.ts:334 checks the remote port but takes any local port: the SYN
    // leaves with the port cut to 16 bits, the answer never matches, and the caller waits
    // out the whole connection timeout for ETIMEDOUT (node:net throws ERR_SOCKET_BAD_PORT).
    const p = (current = pair());
    p.b.createServer((s) => s.resume()).listen(80);
    const codes: unknown[] = [];
    for (const localPort of [-1, 70000, 1.5, Number.NaN]) {
      const c = p.a.connect({ host: '198.18.0.2', port: 80, localPort });
      c.on('error', (e) => codes.push(codeOf(e)));
    }
    await runUntil(p.clock, () => codes.length === 4, 10_000_000);
    expect(codes.filter((code) => code === 'ETIMEDOUT')).toEqual([]);
  });
});

describe('hostile: socket gauges', () => {
  it('gauges.sockets counts accepted sockets as well as connected ones', async () => {
    const p = (current = pair());
    const accepted: import('../../lib/api/socket.js').Socket[] = [];
    p.b.createServer((s) => accepted.push(s.resume())).listen(80);
    const client = p.a.connect({ host: '198.18.0.2', port: 80 });
    client.resume();
    await runUntil(p.clock, () => accepted.length === 1);
    expect(p.a.stats().gauges.sockets).toBe(1);
    expect(p.b.stats().gauges.sockets).toBe(1);
    let closed = false;
    accepted[0].on('close', () => (closed = true));
    client.end();
    await runUntil(p.clock, () => closed);
    expect(p.b.stats().gauges.sockets).toBe(0);
  });
});
