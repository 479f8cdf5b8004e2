import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import type { UtcpStack } from '../../lib/api/stack.js';
import { createLab, type Lab } from '../../lib/lab/lab.js';
import { RealClock } from '../../lib/link/clock.js';
import { impair, type Impairment } from '../../lib/link/impair.js';
import type { Link } from '../../lib/link/types.js';
import { openPacketLink } from '../../lib/link/packet.js';
import { openXdpLink } from '../../lib/link/xdp.js';
import { CURL, ETHTOOL, IP, PING, describeNeeding } from '../helpers/needs.js';
import { KernelPeer, clockForIsn, stackOn, waitFor } from './interop.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const BULK = Number(process.env.UTCP_INTEROP_BULK_MIB ?? 32) * MIB;
// Generous: about 1 s per MiB, so the 1 GiB runs of test:interop:long fit too.
const BULK_TIMEOUT = Math.max(120_000, (BULK / MIB) * 1000);
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

for (const kind of ['AF_XDP', 'AF_PACKET'] as const) {
  describeNeeding(['root', IP, ETHTOOL, CURL, PING], `interop with Linux TCP over ${kind}`, () => {
    let lab: Lab;
    let stack: UtcpStack | undefined;
    const peers: KernelPeer[] = [];

    beforeAll(async () => {
      lab = await createLab();
    });
    afterAll(async () => {
      await lab?.close();
    });
    afterEach(async () => {
      for (const peer of peers.splice(0)) peer.kill();
      if (stack !== undefined) {
        // Every connection must be gone by itself before the stack is closed.
        const s = stack;
        await waitFor(() => s.stats().gauges.connections === 0, 10_000).catch(() => {});
        const { gauges } = s.stats();
        stack = undefined;
        await s.close();
        expect({ connections: gauges.connections, framesHeld: gauges.framesHeld }).toEqual({
          connections: 0,
          framesHeld: 0,
        });
        expect(gauges.timers).toBe(0);
      }
    });

    async function start(
      options: Parameters<typeof stackOn>[2] & { impairment?: Impairment; seed?: number } = {},
    ): Promise<UtcpStack> {
      const where = { ifname: lab.stack.ifname, netns: lab.stack.netnsPath };
      let link: Link = kind === 'AF_XDP' ? await openXdpLink(where) : openPacketLink(where);
      if (options.impairment !== undefined) {
        const clock = new RealClock();
        const { impairment, seed = 1 } = options;
        link = impair(link, { clock, seed, tx: impairment, rx: impairment });
      }
      stack = stackOn(lab, link, options);
      return stack;
    }

    function kernel(mode: string, ...args: (string | number)[]): KernelPeer {
      const peer = new KernelPeer(lab, mode, args);
      peers.push(peer);
      return peer;
    }

    function closed(socket: Socket): Promise<void> {
      return new Promise((resolve) => socket.once('close', () => resolve()));
    }

    it('utcp client echoes through a kernel server', async () => {
      const s = await start();
      const peer = kernel('echo-server', 7000);
      await peer.record('ready');
      const socket = s.connect({ host: lab.peer.ipv4, port: 7000 });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.end('hello kernel');
      await closed(socket);
      expect(text).toBe('hello kernel');
    });

    it('kernel client echoes through a utcp server, and half-closes', async () => {
      const s = await start();
      s.createServer({ allowHalfOpen: true }, (socket) => {
        let question = '';
        socket.on('data', (chunk: Buffer) => (question += chunk.toString()));
        socket.on('end', () => socket.end(`answer to ${question}`));
      }).listen(7001);
      const peer = kernel('half-close-client', lab.userIpv4, 7001);
      expect(await peer.record('text')).toEqual({ text: 'answer to question' });
    });

    it(
      `utcp sends and receives ${BULK / MIB} MiB to a kernel server, its ISN near 2^32`,
      async () => {
        const secret = randomBytes(32);
        const localPort = 40001;
        const clock = clockForIsn(
          secret,
          lab.userIpv4,
          localPort,
          lab.peer.ipv4,
          7002,
          2 ** 32 - MIB,
        );
        const s = await start({ clock, secret });
        const peer = kernel('bulk-server', 7002, BULK);
        await peer.record('ready');
        const socket = s.connect({
          host: lab.peer.ipv4,
          port: 7002,
          localPort,
          allowHalfOpen: true,
        });
        const [conn] = s.tcp.core.connections;
        // Sequence numbers cross 2^32 within the first MiB sent.
        expect(conn.iss).toBeGreaterThan(2 ** 32 - MIB - 1_000_000);
        expect(conn.iss).toBeLessThan(2 ** 32 - MIB + 1_000_000);
        const sent = createHash('sha256');
        const received = createHash('sha256');
        let receivedBytes = 0;
        socket.on('data', (chunk: Buffer) => {
          receivedBytes += chunk.length;
          received.update(chunk);
        });
        let left = BULK;
        const pump = (): void => {
          while (left > 0) {
            const chunk = randomBytes(Math.min(65536, left));
            left -= chunk.length;
            sent.update(chunk);
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        pump();
        await closed(socket);
        const result = await peer.record('sha256', BULK_TIMEOUT);
        expect(result.received).toBe(BULK);
        expect(result.sha256).toBe(sent.digest('hex'));
        expect(receivedBytes).toBe(BULK);
        expect(received.digest('hex')).toBe(result.sentSha256);
      },
      BULK_TIMEOUT,
    );

    it(
      `a kernel client sends and receives ${BULK / MIB} MiB to a utcp server`,
      async () => {
        const s = await start();
        s.createServer({ allowHalfOpen: true }, (socket) => {
          const hash = createHash('sha256');
          let bytes = 0;
          socket.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            hash.update(chunk);
          });
          socket.on('end', () => {
            // Echo the digest and byte count, then as many bytes back as arrived.
            const digest = hash.digest('hex');
            serverResult = { bytes, digest };
            const back = createHash('sha256');
            let left = bytes;
            const pump = (): void => {
              while (left > 0) {
                const chunk = randomBytes(Math.min(65536, left));
                left -= chunk.length;
                back.update(chunk);
                if (!socket.write(chunk)) return void socket.once('drain', pump);
              }
              socket.end();
              serverSent = back.digest('hex');
            };
            pump();
          });
        }).listen(7003);
        let serverResult: { bytes: number; digest: string } | undefined;
        let serverSent: string | undefined;
        const peer = kernel('bulk-client', lab.userIpv4, 7003, BULK);
        const result = await peer.record('sha256', BULK_TIMEOUT);
        expect(serverResult).toEqual({ bytes: BULK, digest: result.sentSha256 });
        expect(result.received).toBe(BULK);
        expect(result.sha256).toBe(serverSent);
      },
      BULK_TIMEOUT,
    );

    for (const seed of [1, 2]) {
      it(`bulk both ways survives seeded loss, reordering, duplicates (seed ${seed})`, async () => {
        const impairment = { loss: 0.01, duplicate: 0.005, reorder: 0.01, reorderDelayUs: 500 };
        const s = await start({ impairment, seed });
        const bytes = Math.min(BULK, 8 * MIB);
        const peer = kernel('bulk-server', 7010 + seed, bytes);
        await peer.record('ready');
        const socket = s.connect({ host: lab.peer.ipv4, port: 7010 + seed, allowHalfOpen: true });
        const sent = createHash('sha256');
        const received = createHash('sha256');
        let receivedBytes = 0;
        socket.on('data', (chunk: Buffer) => {
          receivedBytes += chunk.length;
          received.update(chunk);
        });
        let left = bytes;
        const pump = (): void => {
          while (left > 0) {
            const chunk = randomBytes(Math.min(65536, left));
            left -= chunk.length;
            sent.update(chunk);
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        pump();
        let failure: Error | undefined;
        socket.on('error', (error) => (failure = error));
        await closed(socket);
        expect(failure).toBeUndefined();
        const result = await peer.record('sha256', 120_000);
        expect(result.sha256).toBe(sent.digest('hex'));
        expect(receivedBytes).toBe(bytes);
        expect(received.digest('hex')).toBe(result.sentSha256);
        const link = s.stack.link.stats() as unknown as Record<string, Record<string, number>>;
        expect(link.impairedTx.lost).toBeGreaterThan(0);
        expect(link.impairedRx.lost).toBeGreaterThan(0);
      });
    }

    it('serves 1000 concurrent kernel connections', async () => {
      // Buffers of 64 KiB each way: 1000 connections with the bulk tests' 1 MiB would
      // allocate 2 GiB while the SYNs pour in.
      const s = await start({ tcp: { sendBuffer: 65536, receiveBuffer: 65536 } });
      s.createServer((socket) => socket.pipe(socket)).listen(7004, undefined, 1024);
      const peer = kernel('many-clients', lab.userIpv4, 7004, 1000);
      const result = await peer.record('ok', 120_000);
      expect(result).toEqual({ ok: 1000, failed: 0, errors: {} });
    });

    it('opens 1000 concurrent connections to a kernel server', async () => {
      const s = await start({ tcp: { sendBuffer: 65536, receiveBuffer: 65536 } });
      const peer = kernel('echo-server', 7005);
      await peer.record('ready');
      const outcomes = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => {
          const message = `connection ${i}\n`;
          return new Promise<string>((resolve) => {
            const socket = s.connect({ host: lab.peer.ipv4, port: 7005 });
            let echoed = '';
            let code = '';
            socket.on('data', (chunk: Buffer) => (echoed += chunk.toString()));
            socket.on('error', (error: Error & { code?: string }) => (code = error.code ?? '?'));
            socket.on('close', () => resolve(echoed === message ? 'ok' : code || 'short'));
            socket.end(message);
          });
        }),
      );
      const counts: Record<string, number> = {};
      for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
      expect(counts).toEqual({ ok: 1000 });
    });

    it('abort gives the kernel ECONNRESET, and the kernel RST gives utcp ECONNRESET', async () => {
      const s = await start();
      s.createServer((socket) => socket.resetAndDestroy()).listen(7005);
      const peer = kernel('hold-client', lab.userIpv4, 7005);
      expect(await peer.record('error')).toEqual({ error: 'ECONNRESET' });

      // The kernel's echo server killed mid-connection: its RST reaches utcp.
      const echo = kernel('echo-server', 7006);
      await echo.record('ready');
      const socket = s.connect({ host: lab.peer.ipv4, port: 7006 });
      let error: NodeJS.ErrnoException | undefined;
      socket.on('error', (e) => (error = e));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('x'.repeat(1000));
      socket.setTimeout(0);
      echo.kill();
      // A killed process closes its socket with unread data or on the next segment: RST.
      const ping = setInterval(() => socket.writable && socket.write('y'), 50);
      await waitFor(() => error !== undefined, 20_000);
      clearInterval(ping);
      expect(error?.code).toBe('ECONNRESET');
    });

    it('closed ports give ECONNREFUSED both ways', async () => {
      const s = await start();
      const socket = s.connect({ host: lab.peer.ipv4, port: 7999 });
      const code = await new Promise<string | undefined>((resolve) =>
        socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code)),
      );
      expect(code).toBe('ECONNREFUSED');
      const peer = kernel('hold-client', lab.userIpv4, 7998);
      expect(await peer.record('error')).toEqual({ error: 'ECONNREFUSED' });
    });

    it("answers the kernel's ping", async () => {
      const s = await start();
      const { stdout } = await run('ip', [
      'netns', 'exec', lab.peer.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', lab.userIpv4,
    ]); // prettier-ignore
      expect(stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(s.stats().ip.icmpOutEchoReps).toBe(3);
    });

    it('curl fetches a large body from a utcp HTTP server', async () => {
      const s = await start();
      const body = randomBytes(8 * MIB);
      const httpServer = http.createServer((_request, response) => response.end(body));
      const server = s.createServer((socket) => httpServer.emit('connection', socket));
      server.listen(8080);
      const { stdout } = await run(
        'sh',
        ['-c', `ip netns exec ${lab.peer.netns} curl -sS http://${lab.userIpv4}:8080/ | sha256sum`],
        { maxBuffer: 1 << 20 },
      );
      expect(stdout.split(' ')[0]).toBe(sha256(body));
      httpServer.closeAllConnections();
      server.close();
    });

    it("utcp's http client fetches from a Node http server on kernel TCP", async () => {
      const s = await start();
      const peer = kernel('http-server', 8081, 4 * MIB);
      await peer.record('ready');
      const { digest, header } = await new Promise<{ digest: string; header: string }>(
        (resolve, reject) => {
          const request = http.get(
            {
              host: lab.peer.ipv4,
              port: 8081,
              path: '/',
              createConnection: () => s.connect({ host: lab.peer.ipv4, port: 8081 }),
            },
            (response) => {
              const hash = createHash('sha256');
              response.on('data', (chunk: Buffer) => hash.update(chunk));
              response.on('end', () =>
                resolve({
                  digest: hash.digest('hex'),
                  header: String(response.headers['x-sha256']),
                }),
              );
            },
          );
          request.on('error', reject);
        },
      );
      expect(digest).toBe(header);
    });
  });
}
