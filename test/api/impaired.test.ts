import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, leftovers, pair, runUntil, type Pair } from './harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('bulk transfer over a lossy, reordering, duplicating link', () => {
  for (const seed of [1, 2, 3]) {
    it(`arrives intact both ways (seed ${seed})`, async () => {
      const impairment = { loss: 0.02, duplicate: 0.01, reorder: 0.02, reorderDelayUs: 300 };
      const p = (current = pair({ impairment: { seed, tx: impairment, rx: impairment } }));
      const up = bytes(256 * 1024, seed);
      const down = bytes(256 * 1024, seed + 100);
      const serverGot: Buffer[] = [];
      p.b
        .createServer((socket) => {
          socket.on('data', (chunk: Buffer) => serverGot.push(chunk));
          socket.on('end', () => socket.end(down));
        })
        .listen(4000);
      const client = p.a.connect({ host: '198.18.0.2', port: 4000 });
      const clientGot: Buffer[] = [];
      let closed = false;
      let failure: Error | undefined;
      client.on('data', (chunk: Buffer) => clientGot.push(chunk));
      client.on('error', (error) => (failure = error));
      client.on('close', () => (closed = true));
      client.end(up);
      await runUntil(p.clock, () => closed);
      expect(failure).toBeUndefined();
      expect(sha256(Buffer.concat(serverGot))).toBe(sha256(up));
      expect(sha256(Buffer.concat(clientGot))).toBe(sha256(down));
      expect(p.a.stats().tcp.tcpRetransSegs + p.b.stats().tcp.tcpRetransSegs).toBeGreaterThan(0);
      const link = p.a.stack.link.stats() as unknown as Record<string, Record<string, number>>;
      for (const way of ['impairedTx', 'impairedRx']) {
        expect(link[way].lost).toBeGreaterThan(0);
        expect(link[way].duplicated + link[way].reordered).toBeGreaterThan(0);
      }
      await runUntil(p.clock, () => leftovers(p.a).connections + leftovers(p.b).connections === 0);
      expect(leftovers(p.a)).toEqual(NOTHING_LEFT);
      expect(leftovers(p.b)).toEqual(NOTHING_LEFT);
    });
  }
});
