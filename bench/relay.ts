/**
 * Proxy throughput: `relay(a, b)` against `a.pipe(b)`. Three parties on two stacks over an
 * in-memory cable on virtual time, so only CPU counts: a client on A sends to a proxy on B,
 * which forwards to an origin on A. Prints MB/s of wall time and bytes copied per byte moved.
 *
 *   npm run bench:relay -- [--mib N] [--rounds N] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { relay } from '../lib/api/relay.js';
import { createStack } from '../lib/api/stack.js';
import { VirtualClock } from '../lib/link/clock.js';
import { createMemoryLinkPair } from '../lib/link/memory.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const total = Number(values.mib) * 1024 * 1024;
const rounds = Number(values.rounds);

interface Result {
  seconds: number;
  bytes: number;
  copiedPerByte: number;
}

async function run(mode: 'relay' | 'pipe'): Promise<Result> {
  const clock = new VirtualClock(1);
  const [linkA, linkB] = createMemoryLinkPair({ clock, latencyUs: 50 });
  const tcp = { msl: 1_000_000, sendBuffer: 256 * 1024, receiveBuffer: 256 * 1024 };
  const a = createStack({ link: linkA, clock, address: '198.18.0.1', prefix: 24, tcp });
  const b = createStack({ link: linkB, clock, address: '198.18.0.2', prefix: 24, tcp });

  let received = 0;
  a.createServer((socket) =>
    socket.on('data', (chunk: Buffer) => (received += chunk.length)),
  ).listen(2000);
  let copied = 0;
  b.createServer((inbound) => {
    const outbound = b.connect({ host: '198.18.0.1', port: 2000 });
    if (mode === 'relay') {
      const r = relay(inbound, outbound);
      inbound.once('end', () => (copied = r.bytesCopied));
    } else {
      // One copy out of the receive buffer into each 'data' Buffer, one into the send buffer.
      inbound.on('data', (chunk: Buffer) => (copied += 2 * chunk.length));
      inbound.pipe(outbound);
    }
  }).listen(1000);

  const client = a.connect({ host: '198.18.0.2', port: 1000 });
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const produce = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!client.write(chunk)) {
        client.once('drain', produce);
        return;
      }
    }
    client.end();
  };
  produce();

  const started = performance.now();
  while (received < total) {
    clock.runUntil(clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    const next = clock.nextDeadline();
    if (next !== undefined) clock.runUntil(next);
  }
  const seconds = (performance.now() - started) / 1000;
  await a.close();
  await b.close();
  return { seconds, bytes: received, copiedPerByte: copied / received };
}

const results: Record<string, number> = {};
for (const mode of ['pipe', 'relay'] as const) {
  let best: Result | undefined;
  for (let i = 0; i < rounds; i++) {
    const result = await run(mode);
    if (best === undefined || result.seconds < best.seconds) best = result;
  }
  const r = best as Result;
  const mbps = r.bytes / r.seconds / 1e6;
  results[`${mode}_mb_per_s`] = Math.round(mbps * 10) / 10;
  results[`${mode}_copied_per_byte`] = Math.round(r.copiedPerByte * 100) / 100;
  console.log(
    `${mode.padEnd(5)} ${mbps.toFixed(1)} MB/s (best of ${rounds}, ${values.mib} MiB), ` +
      `${r.copiedPerByte.toFixed(2)} bytes copied per byte moved by the proxy`,
  );
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
