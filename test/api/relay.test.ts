import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { relay, type Relay } from '../../lib/api/relay.js';
import { NOTHING_LEFT, leftovers, pair, runUntil, type Pair } from './harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('relay', () => {
  it('proxies both ways with one copy per byte, and ends when the client ends', async () => {
    const p = (current = pair());
    const up = Buffer.alloc(1 << 20);
    for (let i = 0; i < up.length; i++) up[i] = (i * 31 + (i >> 10)) & 255;
    const down = Buffer.from(up).reverse();

    // The origin on A: reads everything, then answers.
    const originGot: Buffer[] = [];
    p.a
      .createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('data', (chunk: Buffer) => originGot.push(chunk));
        socket.on('end', () => socket.end(down));
      })
      .listen(2000);

    // The proxy on B: each inbound connection relayed to the origin.
    const relays: Relay[] = [];
    p.b
      .createServer({ allowHalfOpen: true }, (inbound) => {
        const outbound = p.b.connect({ host: '198.18.0.1', port: 2000, allowHalfOpen: true });
        relays.push(relay(inbound, outbound), relay(outbound, inbound));
      })
      .listen(1000);

    const client = p.a.connect({ host: '198.18.0.2', port: 1000, allowHalfOpen: true });
    const clientGot: Buffer[] = [];
    let closed = false;
    client.on('data', (chunk: Buffer) => clientGot.push(chunk));
    client.on('close', () => (closed = true));
    client.end(up);
    await runUntil(p.clock, () => closed);

    expect(sha256(Buffer.concat(originGot))).toBe(sha256(up));
    expect(sha256(Buffer.concat(clientGot))).toBe(sha256(down));
    expect(relays.map((r) => r.bytes)).toEqual([up.length, down.length]);
    expect(relays.map((r) => r.bytesCopied)).toEqual([up.length, down.length]);
    await runUntil(p.clock, () => leftovers(p.a).connections + leftovers(p.b).connections === 0);
    expect(leftovers(p.a)).toEqual(NOTHING_LEFT);
    expect(leftovers(p.b)).toEqual(NOTHING_LEFT);
  });
});
