/**
 * The client program, run by `utcp bench` inside the client namespace, pinned to its CPU:
 * `node runner.js kernel` or `node runner.js utcp '<options as JSON>'`. It opens its stack
 * once, then runs each job read from stdin (one JSON `Job` per line) and answers with a
 * `result` line carrying the workload's figures and this process's CPU use during it.
 * It exits when stdin closes.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { cpuPercent } from './peer-server.js';
import type { BenchNet } from './protocol.js';
import type { UtcpClientOptions } from './sides.js';
import { openUtcp, type OpenedStack } from './utcp.js';
import { runWorkload, type Job } from './workloads.js';

function emit(message: object): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

async function openStack(kind: string, options: string | undefined): Promise<OpenedStack> {
  if (kind === 'kernel') {
    return {
      net: net as unknown as BenchNet,
      linkKind: 'kernel',
      bindMode: null,
      linkFallback: null,
      stats: () => null,
      close: async () => {},
    };
  }
  if (kind === 'utcp' && options) return openUtcp(JSON.parse(options) as UtcpClientOptions);
  throw Object.assign(new Error(`unknown stack ${kind}`), { code: 'EINVAL' });
}

try {
  const stack = await openStack(process.argv[2] ?? 'kernel', process.argv[3]);
  emit({
    type: 'ready',
    pid: process.pid,
    linkKind: stack.linkKind,
    bindMode: stack.bindMode,
    linkFallback: stack.linkFallback,
  });

  const jobs: Job[] = [];
  let busy = false;
  const drain = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      // Limitation: the kernel's TCP work done in softirq context is charged to whichever task
      // the CPU was running (often this one, sometimes ksoftirqd or the peer), so the kernel
      // client's CPU is approximate; fixing it needs per-CPU softirq time from /proc/stat.
      const cpuBefore = process.cpuUsage();
      const wallBefore = performance.now();
      const result = await runWorkload(stack.net, job, (progress) =>
        emit({ type: 'progress', progress }),
      );
      const cpu = process.cpuUsage(cpuBefore);
      const cpuPct = cpuPercent(cpu, performance.now() - wallBefore);
      emit({ type: 'result', result, cpuPct, stackStats: stack.stats() });
    }
    busy = false;
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    jobs.push(JSON.parse(line) as Job);
    void drain();
  });
  // The bench closes stdin once it has every result; stdin closing in the middle of a job means
  // the bench is gone, and nobody would read the rest.
  lines.on('close', () => {
    if (busy) process.exit(1);
    void stack.close().then(() => process.exit(0));
  });
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException;
  emit({ type: 'error', code: code ?? 'EUNKNOWN', message });
  process.exit(1);
}
