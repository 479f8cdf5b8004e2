import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { pair, runUntil, type Pair } from './harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function connected(p: Pair, port: number): Promise<{ client: Socket; server: Socket }> {
  let server: Socket | undefined;
  p.b.createServer((socket) => (server = socket)).listen(port);
  const client = p.a.connect({ host: '198.18.0.2', port });
  await runUntil(p.clock, () => server !== undefined && !client.connecting);
  return { client, server: server as Socket };
}

describe('timers', () => {
  it("emits 'timeout' after the idle time, on the stack's clock", async () => {
    const p = (current = pair());
    const { client } = await connected(p, 10);
    const start = p.clock.now();
    let firedAt = 0;
    client.setTimeout(3000, () => (firedAt = p.clock.now()));
    await runUntil(p.clock, () => firedAt > 0);
    expect(firedAt - start).toBeGreaterThanOrEqual(3_000_000);
    expect(firedAt - start).toBeLessThan(3_100_000);
    client.destroy();
  });

  it('gives ETIMEDOUT when the peer vanishes with data outstanding', async () => {
    const p = (current = pair({ tcp: { maxRetransmits: 4 } }));
    const { client } = await connected(p, 11);
    p.b.stack.close();
    let error: NodeJS.ErrnoException | undefined;
    client.on('error', (e) => (error = e));
    client.write('anyone there?');
    await runUntil(p.clock, () => error !== undefined);
    expect(error?.code).toBe('ETIMEDOUT');
    expect(p.a.stats().tcp.tcpRetransSegs).toBeGreaterThanOrEqual(4);
  });

  it('gives ETIMEDOUT from keepalive when an idle peer vanishes', async () => {
    const p = (current = pair({ tcp: { keepInterval: 500_000, keepCount: 3 } }));
    const { client } = await connected(p, 12);
    client.setKeepAlive(true, 1000);
    p.b.stack.close();
    let error: NodeJS.ErrnoException | undefined;
    client.on('error', (e) => (error = e));
    const start = p.clock.now();
    await runUntil(p.clock, () => error !== undefined);
    expect(error?.code).toBe('ETIMEDOUT');
    expect(p.clock.now() - start).toBeGreaterThanOrEqual(1_000_000 + 3 * 500_000);
    expect(p.a.stats().tcp.keepaliveProbes).toBeGreaterThanOrEqual(3);
  });
});

describe('stats', () => {
  it('counts pure ACKs merged within a receive burst, and the data still arrives', async () => {
    const p = (current = pair());
    let got = 0;
    let ended = false;
    p.b
      .createServer((socket) => {
        socket.on('data', (chunk: Buffer) => (got += chunk.length));
        socket.on('end', () => (ended = true));
      })
      .listen(14);
    const client = p.a.connect({ host: '198.18.0.2', port: 14 });
    client.end(Buffer.alloc(1 << 20, 3));
    await runUntil(p.clock, () => ended);
    expect(got).toBe(1 << 20);
    const stats = p.b.stats();
    expect(stats.tcp.acksCoalesced).toBeGreaterThan(0);
    // Every ACK the core made either left in a frame or was merged into a later one.
    expect(stats.link.txFrames).toBeLessThan(stats.tcp.tcpOutSegs);
  });

  it('names counters after RFC 4022 and RFC 4293 and shows connections by state', async () => {
    const p = (current = pair());
    const { client } = await connected(p, 13);
    const stats = p.a.stats();
    expect(stats.tcp).toMatchObject({ tcpActiveOpens: 1, tcpAttemptFails: 0 });
    expect(stats.tcp.tcpOutSegs).toBeGreaterThanOrEqual(2);
    expect(stats.ip.ipInReceives).toBeGreaterThan(0);
    expect(stats.ip.ipOutRequests).toBeGreaterThan(0);
    expect(stats.ip.arpOutRequests + stats.ip.arpInRequests).toBeGreaterThan(0);
    expect(stats.gauges.connectionsByState).toEqual({ ESTABLISHED: 1 });
    expect(stats.gauges.connections).toBe(1);
    // The rings are allocated on first use: none yet, one once the client has written.
    expect(stats.gauges.bytesBuffered).toBe(0);
    client.write('x');
    expect(p.a.stats().gauges.bytesBuffered).toBeGreaterThan(0);
    expect(p.b.stats().tcp.tcpPassiveOpens).toBe(1);
    expect(client.state).toBe('ESTABLISHED');
    client.destroy();
  });
});
