import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { NOTHING_LEFT, leftovers, pair, runUntil, type Pair } from './harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function settleAndCheckGauges(p: Pair): Promise<void> {
  await runUntil(p.clock, () => {
    const a = leftovers(p.a);
    const b = leftovers(p.b);
    return a.connections === 0 && b.connections === 0 && a.sockets === 0 && b.sockets === 0;
  });
  expect(leftovers(p.a)).toEqual(NOTHING_LEFT);
  expect(leftovers(p.b)).toEqual(NOTHING_LEFT);
}

describe('api over two stacks', () => {
  it('echoes, then both sides close and nothing is left behind', async () => {
    const p = (current = pair());
    const server = p.b.createServer((socket) => socket.pipe(socket));
    server.listen(7);
    const client = p.a.connect({ host: '198.18.0.2', port: 7 });
    const received: Buffer[] = [];
    let connected = false;
    let closed = false;
    client.on('connect', () => (connected = true));
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.on('close', () => (closed = true));
    client.write('hello, ');
    client.end('world');
    await runUntil(p.clock, () => closed);
    expect(connected).toBe(true);
    expect(Buffer.concat(received).toString()).toBe('hello, world');
    expect(client.remoteAddress).toBe('198.18.0.2');
    expect(client.remotePort).toBe(7);
    expect(client.localAddress).toBe('198.18.0.1');
    expect(client.bytesWritten).toBe(12);
    expect(client.bytesRead).toBe(12);
    expect(server.address()).toEqual({ address: '198.18.0.2', family: 'IPv4', port: 7 });
    let serverClosed = false;
    server.close(() => (serverClosed = true));
    await settleAndCheckGauges(p);
    await runUntil(p.clock, () => serverClosed);
  });

  it('moves 2 MiB each way with backpressure, SHA-256 equal', async () => {
    const p = (current = pair({ rateBitsPerSecond: 1_000_000_000 }));
    const toServer = bytes(2 << 20, 1);
    const toClient = bytes(2 << 20, 2);
    const serverGot: Buffer[] = [];
    let sawBackpressure = false;
    let drains = 0;
    p.b
      .createServer((socket) => {
        socket.on('data', (chunk: Buffer) => serverGot.push(chunk));
        socket.on('end', () => socket.end());
        writeAll(socket, toClient);
      })
      .listen(9000);
    const client = p.a.connect({ host: '198.18.0.2', port: 9000 });
    client.on('drain', () => drains++);
    const clientGot: Buffer[] = [];
    client.on('data', (chunk: Buffer) => clientGot.push(chunk));
    let closed = false;
    client.on('close', () => (closed = true));
    // Write as a well-behaved producer does: stop at false, go on at 'drain'.
    let offset = 0;
    const produce = (): void => {
      while (offset < toServer.length) {
        const chunk = toServer.subarray(offset, offset + 65536);
        offset += chunk.length;
        if (!client.write(chunk)) {
          sawBackpressure = true;
          client.once('drain', produce);
          return;
        }
      }
      client.end();
    };
    produce();
    await runUntil(p.clock, () => closed);
    expect(sawBackpressure).toBe(true);
    expect(drains).toBeGreaterThan(0);
    expect(sha256(Buffer.concat(serverGot))).toBe(sha256(toServer));
    expect(sha256(Buffer.concat(clientGot))).toBe(sha256(toClient));
    expect(client.srtt).toBeGreaterThanOrEqual(0);
    await settleAndCheckGauges(p);
  });

  it('lends bytes that wrap the receive ring as two views, in order', async () => {
    const p = (current = pair({ tcp: { receiveBuffer: 50_000 } }));
    const data = bytes(60_000, 9);
    let server: Socket | undefined;
    p.b.createServer({ pauseOnConnect: true }, (socket) => (server = socket)).listen(6000);
    const client = p.a.connect({ host: '198.18.0.2', port: 6000 });
    client.resume();
    const ring = () => p.b.tcp.core.connections.values().next().value?.receiveBuffer;
    client.write(data.subarray(0, 30_000));
    await runUntil(p.clock, () => server !== undefined && ring()?.length === 30_000);
    const s = server as Socket;

    // Borrow 20,000 of the 30,000 bytes, then nothing: the ring's head moves off zero.
    const got: Buffer[] = [];
    let views = 0;
    const borrow = (limit: number) => (view: Uint8Array) => {
      views++;
      const have = got.reduce((n, b) => n + b.length, 0);
      const take = Math.min(view.length, limit - have);
      got.push(Buffer.from(view.subarray(0, take)));
      return take;
    };
    s.setLendingReader(borrow(20_000));
    client.end(data.subarray(30_000));
    await runUntil(p.clock, () => ring()?.length === 40_000);
    const buffer = ring();
    expect((buffer?.head ?? 0) + (buffer?.length ?? 0)).toBeGreaterThan(50_000);

    views = 0;
    s.setLendingReader(borrow(60_000));
    expect(views).toBe(2);
    expect(sha256(Buffer.concat(got))).toBe(sha256(data));
    s.destroy();
  });

  it('keeps a half-closed connection open for the other direction (allowHalfOpen)', async () => {
    const p = (current = pair());
    let serverSawEnd = false;
    p.b
      .createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('data', () => {});
        socket.on('end', () => {
          serverSawEnd = true;
          socket.write('after your FIN');
          socket.end();
        });
      })
      .listen(80);
    const client = p.a.connect({ host: '198.18.0.2', port: 80, allowHalfOpen: true });
    const got: Buffer[] = [];
    let ended = false;
    let closed = false;
    client.on('data', (chunk: Buffer) => got.push(chunk));
    client.on('end', () => (ended = true));
    client.on('close', () => (closed = true));
    client.end();
    await runUntil(p.clock, () => closed);
    expect(serverSawEnd).toBe(true);
    expect(ended).toBe(true);
    expect(Buffer.concat(got).toString()).toBe('after your FIN');
    await settleAndCheckGauges(p);
  });

  it('gives ECONNREFUSED for a closed port', async () => {
    const p = (current = pair());
    const client = p.a.connect({ host: '198.18.0.2', port: 1 });
    let error: NodeJS.ErrnoException | undefined;
    client.on('error', (e) => (error = e));
    await runUntil(p.clock, () => client.destroyed && error !== undefined);
    expect(error?.code).toBe('ECONNREFUSED');
    await settleAndCheckGauges(p);
  });

  it('gives the peer ECONNRESET when one side aborts', async () => {
    const p = (current = pair());
    let serverSocket: Socket | undefined;
    p.b.createServer((socket) => (serverSocket = socket)).listen(5000);
    const client = p.a.connect({ host: '198.18.0.2', port: 5000 });
    let error: NodeJS.ErrnoException | undefined;
    client.on('error', (e) => (error = e));
    await runUntil(p.clock, () => serverSocket !== undefined && !client.connecting);
    serverSocket?.resetAndDestroy();
    await runUntil(p.clock, () => error !== undefined);
    expect(error?.code).toBe('ECONNRESET');
    await settleAndCheckGauges(p);
  });

  it('gives EADDRINUSE for a second listener on a port', async () => {
    const p = (current = pair());
    p.b.createServer().listen(22);
    const second = p.b.createServer();
    let error: NodeJS.ErrnoException | undefined;
    second.on('error', (e) => (error = e));
    second.listen(22);
    await runUntil(p.clock, () => error !== undefined);
    expect(error?.code).toBe('EADDRINUSE');
  });

  it('gives EHOSTUNREACH when ARP gets no answer, ENETUNREACH with no route', async () => {
    const p = (current = pair());
    const lost = p.a.connect({ host: '198.18.0.77', port: 80 });
    const offNet = p.a.connect({ host: '203.0.113.1', port: 80 });
    const errors: Record<string, string | undefined> = {};
    lost.on('error', (e: NodeJS.ErrnoException) => (errors.lost = e.code));
    offNet.on('error', (e: NodeJS.ErrnoException) => (errors.offNet = e.code));
    await runUntil(p.clock, () => errors.lost !== undefined && errors.offNet !== undefined);
    expect(errors).toEqual({ lost: 'EHOSTUNREACH', offNet: 'ENETUNREACH' });
    await settleAndCheckGauges(p);
  });

  it('answers ping', async () => {
    const p = (current = pair());
    let rtt: number | undefined;
    void p.a.ping('198.18.0.2').then((value) => (rtt = value));
    await runUntil(p.clock, () => rtt !== undefined);
    expect(rtt).toBeGreaterThan(0);
    expect(p.b.stats().ip.icmpOutEchoReps).toBe(1);
  });

  it('resolves names through the lookup option', async () => {
    const p = (current = pair());
    const looked: string[] = [];
    const { a } = p;
    const server = p.b.createServer((socket) => socket.end('hi'));
    server.listen(8080);
    // The lookup is per stack; make one that knows a single name.
    Object.assign(a, {
      lookup: (name: string, _o: unknown, cb: (e: null, address: string, f: number) => void) => {
        looked.push(name);
        cb(null, '198.18.0.2', 4);
      },
    });
    const client = a.connect({ host: 'b.test', port: 8080 });
    let text = '';
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await runUntil(p.clock, () => client.destroyed);
    expect(looked).toEqual(['b.test']);
    expect(text).toBe('hi');
  });
});

function writeAll(socket: Socket, data: Buffer): boolean {
  let allTaken = true;
  for (let offset = 0; offset < data.length; offset += 65536) {
    if (!socket.write(data.subarray(offset, offset + 65536))) allTaken = false;
  }
  return allTaken;
}
