import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { NOTHING_LEFT, leftovers, pair, runUntil, type Pair } from './harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe("node's http over utcp", () => {
  it('serves and fetches: http.Server fed by a utcp server, http.request over stack.connect', async () => {
    const p = (current = pair());
    const body = Buffer.alloc(300_000, 'utcp ');
    const httpServer = http.createServer((request, response) => {
      let posted = '';
      request.on('data', (chunk: Buffer) => (posted += chunk.toString()));
      request.on('end', () => {
        response.setHeader('x-posted', posted);
        response.setHeader('content-type', 'text/plain');
        response.end(body);
      });
    });
    const server = p.b.createServer((socket) => httpServer.emit('connection', socket));
    server.listen(80);

    let status: number | undefined;
    let posted: string | undefined;
    const chunks: Buffer[] = [];
    let done = false;
    const request = http.request(
      {
        method: 'POST',
        host: '198.18.0.2',
        port: 80,
        path: '/echo',
        createConnection: () => p.a.connect({ host: '198.18.0.2', port: 80 }),
      },
      (response) => {
        status = response.statusCode;
        posted = response.headers['x-posted'] as string;
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => (done = true));
      },
    );
    request.on('error', (error) => {
      throw error;
    });
    request.end('ping');
    await runUntil(p.clock, () => done);
    expect(status).toBe(200);
    expect(posted).toBe('ping');
    const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(digest(Buffer.concat(chunks))).toBe(digest(body));

    httpServer.close();
    httpServer.closeAllConnections();
    server.close();
    await runUntil(p.clock, () => leftovers(p.a).connections + leftovers(p.b).connections === 0);
    expect(leftovers(p.a)).toEqual(NOTHING_LEFT);
    expect(leftovers(p.b)).toEqual(NOTHING_LEFT);
  });
});
