import { afterEach, describe, expect, it } from 'vitest';
import { relay } from '../../lib/api/relay.js';
import type { Socket } from '../../lib/api/socket.js';
import { pair, runUntil, type Pair } from '../api/harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe('hostile: relay with a side that goes away', () => {
  it('destroying the outbound side mid-stream throws nothing and corrupts nothing', async () => {
    const p = (current = pair());
    const sunk: Buffer[] = [];
    p.a
      .createServer((s) => {
        s.on('data', (c: Buffer) => sunk.push(c));
        s.on('error', () => {});
      })
      .listen(81);
    const outbound: Socket[] = [];
    const inbound: Socket[] = [];
    p.b
      .createServer((s) => {
        inbound.push(s);
        s.on('error', () => {});
        const t = p.b.connect({ host: '198.18.0.1', port: 81 });
        t.on('error', () => {});
        outbound.push(t);
        relay(s, t);
      })
      .listen(80);
    const client = p.a.connect({ host: '198.18.0.2', port: 80 });
    let clientClosed = false;
    client.on('error', () => {});
    client.on('close', () => (clientClosed = true));
    client.write(Buffer.alloc(50_000, 1));
    await runUntil(p.clock, () => sunk.reduce((n, c) => n + c.length, 0) > 0);
    outbound[0].destroy();
    for (let i = 0; i < 20; i++) client.write(Buffer.alloc(10_000, 2));
    client.end();
    // Like `a.pipe(b)`, the relay leaves the inbound side open when the outbound is destroyed
    // without an error: what matters here is that nothing throws and nothing is corrupted.
    const end = p.clock.now() + 5_000_000;
    await runUntil(p.clock, () => clientClosed || p.clock.now() >= end, 10_000_000).catch(
      () => undefined,
    );
    expect(Buffer.concat(sunk).every((b) => b === 1)).toBe(true);
  });
});
