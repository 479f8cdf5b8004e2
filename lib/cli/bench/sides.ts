/**
 * The two ends a workload runs between. In the lab each is a process in its own namespace,
 * pinned with taskset; with `--link memory` both live in the bench's own process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchLab } from './bench-lab.js';
import { LineChild, type Message } from './lines.js';
import type { PeerCounts } from './protocol.js';
import type { Job, Progress, WorkloadResult } from './workloads.js';

const run = promisify(execFile);

export interface PeerSide {
  /** Counts since the previous mark. */
  mark(): Promise<PeerCounts>;
  /** Moves the peer (every thread) to one CPU; null when it cannot be moved. */
  place(cpu: number): Promise<void>;
  close(): Promise<void>;
  kill(): void;
}

export interface ClientOutcome {
  result: WorkloadResult;
  /** CPU use of the client's process during the workload, % of one CPU. */
  cpuPct: number | null;
  /** utcp's `stack.stats()` after the workload (counters since the stack started). */
  stackStats?: unknown;
}

export interface ClientSide {
  /** How the utcp link bound (AF_XDP copy or zero-copy), when the link says. */
  readonly bindMode: string | null;
  /** The link the client's stack used: 'kernel', 'xdp', 'packet' or 'memory'. */
  readonly linkKind: string;
  /** Why AF_XDP was asked for but AF_PACKET is in use, else null. */
  readonly linkFallback: string | null;
  run(job: Job, onProgress: (progress: Progress) => void): Promise<ClientOutcome>;
  close(): Promise<void>;
  kill(): void;
}

/** Options of the utcp client, handed to the client process as JSON. */
export interface UtcpClientOptions {
  link: 'xdp' | 'packet';
  ifname: string;
  address: string;
  prefixLength: number;
  mtu: number;
  busyPoll: boolean;
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

export function childError(who: string, message: Message): Error & { code: string } {
  const code = typeof message.code === 'string' ? message.code : 'EPROTO';
  const text = typeof message.message === 'string' ? message.message : JSON.stringify(message);
  return Object.assign(new Error(`${who}: ${code}: ${text}`), { code });
}

/** The peer program on the kernel's TCP inside the peer namespace. */
export async function startPeerProcess(
  lab: BenchLab,
  cpu: number,
  registry: Set<LineChild>,
): Promise<PeerSide> {
  const child = new LineChild('ip', lab.ipExec('peer', [
    'taskset', '-c', String(cpu), process.execPath, script('peer'), lab.record.peerAddress,
  ]), registry); // prettier-ignore
  const ready = await child.next();
  if (ready.type !== 'ready') {
    child.kill();
    throw childError('peer', ready);
  }
  const pid = Number(ready.pid);
  return {
    async mark() {
      child.send('mark');
      const message = await child.next();
      if (message.type !== 'counts') throw childError('peer', message);
      return message.counts as PeerCounts;
    },
    async place(to) {
      await run('taskset', ['-a', '-p', '-c', String(to), String(pid)]);
    },
    close: () => child.close(),
    kill: () => child.kill(),
  };
}

/** The client program inside the client namespace, on the kernel's TCP or on utcp. */
export async function startClientProcess(
  lab: BenchLab,
  kind: 'kernel' | 'utcp',
  cpu: number,
  utcp: UtcpClientOptions,
  registry: Set<LineChild>,
  nodeOptions: readonly string[] = [],
): Promise<ClientSide> {
  const child = new LineChild('ip', lab.ipExec('client', [
    'taskset', '-c', String(cpu),
    process.execPath, ...nodeOptions, script('runner'), kind, JSON.stringify(utcp),
  ]), registry); // prettier-ignore
  const ready = await child.next();
  if (ready.type !== 'ready') {
    await child.close();
    throw childError(`${kind} client`, ready);
  }
  return {
    bindMode: typeof ready.bindMode === 'string' ? ready.bindMode : null,
    linkKind: typeof ready.linkKind === 'string' ? ready.linkKind : kind,
    linkFallback: typeof ready.linkFallback === 'string' ? ready.linkFallback : null,
    async run(job, onProgress) {
      child.onProgress((message) => onProgress(message.progress as Progress));
      child.send(JSON.stringify(job));
      const answer = await child.next();
      child.onProgress(null);
      if (answer.type !== 'result') throw childError(`${kind} client`, answer);
      return {
        result: answer.result as WorkloadResult,
        cpuPct: answer.cpuPct as number,
        stackStats: answer.stackStats ?? undefined,
      };
    },
    close: () => child.close(),
    kill: () => child.kill(),
  };
}
