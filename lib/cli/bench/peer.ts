/**
 * The peer program, run by `utcp bench` inside the peer namespace on the kernel's TCP:
 * `node peer.js HOST`. It prints one JSON line when it listens, then answers each `mark` line
 * on stdin with one JSON line of counts (see `PeerCounts`). It exits when stdin closes.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { startPeerServer } from './peer-server.js';
import type { BenchNet } from './protocol.js';

const host = process.argv[2] ?? '0.0.0.0';

try {
  const server = await startPeerServer(net as unknown as BenchNet, host, { measureCpu: true });
  process.stdout.write(JSON.stringify({ type: 'ready', pid: process.pid }) + '\n');

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'mark') {
      process.stdout.write(JSON.stringify({ type: 'counts', counts: server.mark() }) + '\n');
    }
  });
  lines.on('close', () => {
    void server.close().then(() => process.exit(0));
  });
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException;
  process.stdout.write(JSON.stringify({ type: 'error', code, message }) + '\n');
  process.exit(1);
}
