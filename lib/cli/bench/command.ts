/**
 * `utcp bench`: builds the lab, starts the peer on the kernel's TCP in the peer namespace, and
 * runs the same workloads from the client namespace over the kernel's TCP (offloads off, then
 * the interface defaults) and over utcp; checks every figure against the peer's counts and
 * reports a table, and on request JSON and a self-contained HTML page.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createBenchLab, type BenchLab } from './bench-lab.js';
import { checkAgainstPeer } from './check.js';
import { renderHtml } from './html.js';
import { LineChild } from './lines.js';
import { StatusLine } from './progress.js';
import type { PeerCounts } from './protocol.js';
import { formatTable, summarize, type Placement, type Run, type StackLabel } from './report.js';
import type { Job, Progress, WorkloadName, WorkloadResult } from './workloads.js';

const run = promisify(execFile);

export interface BenchOptions {
  duration: number;
  connections: number;
  mtu: number;
  link: 'xdp' | 'packet' | 'memory';
  busyPoll: boolean;
  pin?: Placement;
  only?: 'throughput' | 'latency' | 'crr';
  json?: string;
  html?: string;
}

/** Options of the utcp client, passed to the runner as JSON. */
export interface UtcpRunnerOptions {
  link: 'xdp' | 'packet';
  ifname: string;
  address: string;
  prefixLength: number;
  mtu: number;
  busyPoll: boolean;
}

const SETS: Record<NonNullable<BenchOptions['only']>, WorkloadName[]> = {
  throughput: ['send', 'recv'],
  latency: ['rr1', 'rr1k'],
  crr: ['crr'],
};

/** A peer above this share of one CPU may be what limits the figure, not the client. */
const PEER_BOUND_PCT = 90;

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure utcp against the kernel TCP across a veth pair between two namespaces')
    .option('-d, --duration <seconds>', 'seconds per workload', positiveNumber, 5)
    .option(
      '-c, --connections <n>',
      'parallel connections (bulk) or in flight (crr)',
      positiveInteger,
      1,
    )
    .option('--mtu <bytes>', 'MTU of the veth pair', positiveInteger, 1500)
    .addOption(
      new Option('--link <mode>', 'utcp link: AF_XDP, AF_PACKET, or two utcp stacks in memory')
        .choices(['xdp', 'packet', 'memory'])
        .default('xdp'),
    )
    .option('--busy-poll', 'utcp polls its link instead of waiting for wake-ups', false)
    .addOption(
      new Option(
        '--pin <placement>',
        'client and peer on two CPUs, or on one (default: both)',
      ).choices(['split', 'same']),
    )
    .addOption(
      new Option('--only <set>', 'run one set of workloads').choices([
        'throughput',
        'latency',
        'crr',
      ]),
    )
    .option('--json <file>', 'write the figures as JSON')
    .option('--html <file>', 'write a self-contained HTML report')
    .action(async (options: BenchOptions) => {
      process.exitCode = await runBench(options);
    });
}

interface PlanStep {
  stack: StackLabel;
  placement: Placement;
  workloads: WorkloadName[];
}

/** What runs, in order: kernel first (no XDP program attached yet), utcp last. */
export function plan(options: BenchOptions): PlanStep[] {
  const workloads: WorkloadName[] = options.only
    ? SETS[options.only]
    : [...SETS.throughput, ...SETS.latency, ...SETS.crr];
  const primary = options.pin ?? 'split';
  if (options.link === 'memory') return [{ stack: 'utcp', placement: primary, workloads }];
  const steps: PlanStep[] = [
    { stack: 'kernel', placement: primary, workloads },
    { stack: 'kernel_offloads', placement: primary, workloads },
    { stack: 'utcp', placement: primary, workloads },
  ];
  const latency = workloads.filter((w) => SETS.latency.includes(w));
  if (options.pin === undefined && latency.length > 0) {
    steps.push({ stack: 'kernel', placement: 'same', workloads: latency });
    steps.push({ stack: 'utcp', placement: 'same', workloads: latency });
  }
  return steps;
}

/** What is missing to build the lab, in words a user can act on; undefined when nothing. */
async function missingPrivileges(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) {
    return (
      'utcp bench needs CAP_NET_ADMIN (network namespaces, veth, ethtool) and CAP_NET_RAW ' +
      'with CAP_BPF (AF_XDP sockets and the XDP program): run it as root, for example ' +
      '`sudo npx utcp bench`.'
    );
  }
  for (const [command, pkg] of [
    ['ip', 'iproute2'],
    ['ethtool', 'ethtool'],
    ['taskset', 'util-linux'],
  ]) {
    try {
      await run('sh', ['-c', `command -v ${command}`]);
    } catch {
      return `utcp bench needs the command ${command} (Debian package ${pkg}).`;
    }
  }
  return undefined;
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

/** CPUs for the client and the peer under a placement; one CPU only allows `same`. */
export function cpusFor(placement: Placement): { client: number; peer: number } {
  if (placement === 'same' || os.availableParallelism() < 2) return { client: 0, peer: 0 };
  return { client: 0, peer: 1 };
}

export async function runBench(options: BenchOptions): Promise<number> {
  const status = new StatusLine();
  if (options.link === 'memory') {
    status.log('utcp bench --link memory: not available in this build (needs the utcp stack).');
    return 1;
  }
  const missing = await missingPrivileges();
  if (missing) {
    status.log(missing);
    status.log(
      'Without them, `utcp bench --link memory` runs two utcp stacks in one process ' +
        '(no comparison with the kernel).',
    );
    return 77;
  }

  const children = new Set<LineChild>();
  let lab: BenchLab | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    status.log(`utcp bench: ${signal}, tearing the lab down`);
    for (const child of children) child.kill();
    void (lab?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const runs: Run[] = [];
  const problems: string[] = [];
  let bindMode: string | null = null;
  try {
    status.update('building the lab');
    lab = await createBenchLab(options.mtu);
    const record = lab.record;

    const firstPlacement = options.pin ?? 'split';
    const peer = new LineChild('ip', lab.ipExec('peer', [
      'taskset', '-c', String(cpusFor(firstPlacement).peer),
      process.execPath, script('peer'), record.peerAddress,
    ])); // prettier-ignore
    children.add(peer);
    const ready = await peer.next();
    if (ready.type !== 'ready') throw childError('peer', ready);
    const peerPid = Number(ready.pid);

    const mark = async (): Promise<PeerCounts> => {
      peer.send('mark');
      const message = await peer.next();
      if (message.type !== 'counts') throw childError('peer', message);
      return message.counts as PeerCounts;
    };

    for (const step of plan(options)) {
      if (interrupted) break;
      const cpus = cpusFor(step.placement);
      await run('taskset', ['-a', '-p', '-c', String(cpus.peer), String(peerPid)]);
      await lab.setOffloads(step.stack === 'kernel_offloads' ? 'defaults' : 'off');

      const kind = step.stack === 'utcp' ? 'utcp' : 'kernel';
      const utcpOptions: UtcpRunnerOptions = {
        link: options.link === 'packet' ? 'packet' : 'xdp',
        ifname: record.clientInterface,
        address: record.utcpAddress,
        prefixLength: 24,
        mtu: options.mtu,
        busyPoll: options.busyPoll,
      };
      const client = new LineChild('ip', lab.ipExec('client', [
        'taskset', '-c', String(cpus.client),
        process.execPath, script('runner'), kind, JSON.stringify(utcpOptions),
      ])); // prettier-ignore
      children.add(client);
      const started = await client.next();
      if (started.type !== 'ready') {
        const error = childError(`${step.stack} client`, started);
        problems.push(`${step.stack} (${step.placement}): not run: ${error.message}`);
        status.log(`${step.stack}: not run: ${error.message}`);
        await client.close();
        children.delete(client);
        continue;
      }
      if (typeof started.bindMode === 'string') bindMode = started.bindMode;

      for (const workload of step.workloads) {
        if (interrupted) break;
        const job: Job = {
          workload,
          host: record.peerAddress,
          durationMs: options.duration * 1000,
          connections: workload === 'rr1' || workload === 'rr1k' ? 1 : options.connections,
        };
        const label = `${step.stack} ${step.placement} ${workload}`;
        await mark();
        client.onProgress((message) => {
          status.update(describeProgress(label, message.progress as Progress, job.durationMs));
        });
        client.send(JSON.stringify(job));
        const answer = await client.next();
        client.onProgress(null);
        const counts = await mark();
        if (answer.type !== 'result') {
          const error = childError(label, answer);
          problems.push(`${label}: ${error.message}`);
          status.log(`${label}: failed: ${error.message}`);
          continue;
        }
        const result = answer.result as WorkloadResult;
        const checked = checkAgainstPeer(result, counts);
        const entry: Run = {
          stack: step.stack,
          placement: step.placement,
          workload,
          result,
          clientCpuPct: answer.cpuPct as number,
          peer: counts,
          problems: checked,
        };
        runs.push(entry);
        for (const problem of checked) problems.push(`${label}: peer disagrees: ${problem}`);
        status.log(describeRun(label, entry));
      }
      await client.close();
      children.delete(client);
    }
    await peer.close();
    children.delete(peer);
  } catch (error) {
    status.log(`utcp bench: ${(error as Error).message}`);
    problems.push((error as Error).message);
    for (const child of children) child.kill();
    await lab?.close();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const record = lab.record;
  await lab.close();
  status.clear();

  const pick = (stack: StackLabel, placement: Placement): Run[] =>
    runs.filter((r) => r.stack === stack && r.placement === placement);
  const has = (stack: StackLabel, placement: Placement): boolean =>
    plan(options).some((step) => step.stack === stack && step.placement === placement);
  const primary = options.pin ?? 'split';
  const second = has('utcp', 'same') && primary === 'split';
  const peerCpus = runs.map((r) => r.peer.cpuPct).filter((n): n is number => n !== null);
  const peerBound = runs
    .filter((r) => r.peer.cpuPct !== null && r.peer.cpuPct > PEER_BOUND_PCT)
    .map((r) => `${r.stack} ${r.placement} ${r.workload}`);

  const document = {
    utcp: has('utcp', primary) ? summarize(pick('utcp', primary)) : null,
    kernel: has('kernel', primary) ? summarize(pick('kernel', primary)) : null,
    kernel_offloads: has('kernel_offloads', primary)
      ? summarize(pick('kernel_offloads', primary))
      : null,
    ...(second
      ? {
          utcp_same: summarize(pick('utcp', 'same')),
          kernel_same: summarize(pick('kernel', 'same')),
        }
      : {}),
    peer_cpu_pct: peerCpus.length > 0 ? Number(Math.max(...peerCpus).toFixed(1)) : null,
    peer_bound: peerBound,
    env: {
      kernel: os.release(),
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.availableParallelism(),
      mtu: options.mtu,
      link: options.link,
      bind_mode: bindMode,
      busy_poll: options.busyPoll,
      placement: second ? 'split+same' : primary,
      cpus_split: cpusFor('split'),
      cpus_same: cpusFor('same'),
      duration_s: options.duration,
      connections: options.connections,
      node: process.version,
      date: new Date().toISOString(),
      lab: record,
    },
    problems,
    runs,
  };

  const columns: [string, (typeof document)['utcp']][] = [
    ['kernel', document.kernel],
    ['kernel_offloads', document.kernel_offloads],
    ['utcp', document.utcp],
  ];
  process.stdout.write(`placement ${primary}:\n${formatTable(columns)}\n`);
  if (second) {
    process.stdout.write(
      `\nplacement same (latency):\n` +
        formatTable([
          ['kernel', document.kernel_same ?? null],
          ['utcp', document.utcp_same ?? null],
        ]) +
        '\n',
    );
  }
  if (document.peer_cpu_pct !== null) {
    process.stdout.write(`\npeer CPU: up to ${document.peer_cpu_pct}% of one CPU\n`);
  }
  if (peerBound.length > 0) process.stdout.write(`peer-bound: ${peerBound.join(', ')}\n`);
  for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);

  if (options.json) await writeFile(options.json, JSON.stringify(document, null, 2) + '\n');
  if (options.html) await writeFile(options.html, await renderHtml(document));
  return problems.length > 0 ? 1 : 0;
}

function childError(who: string, message: { type: string; [key: string]: unknown }): Error {
  const code = typeof message.code === 'string' ? message.code : 'EPROTO';
  const text = typeof message.message === 'string' ? message.message : JSON.stringify(message);
  return Object.assign(new Error(`${who}: ${code}: ${text}`), { code });
}

function describeProgress(label: string, progress: Progress, durationMs: number): string {
  const seconds = `${(progress.elapsedMs / 1000).toFixed(1)}/${durationMs / 1000}s`;
  const done =
    progress.workload === 'send' || progress.workload === 'recv'
      ? `${((progress.done * 8) / (progress.elapsedMs * 1e6)).toFixed(2)} Gbit/s`
      : `${progress.done} ${progress.workload === 'crr' ? 'connections' : 'round trips'}`;
  return `${label}  ${seconds}  ${done}`;
}

function describeRun(label: string, entry: Run): string {
  const { result } = entry;
  const figure =
    result.gbps !== null
      ? `${result.gbps.toFixed(2)} Gbit/s`
      : result.latency
        ? `p50 ${result.latency.p50Us.toFixed(1)} µs p99 ${result.latency.p99Us.toFixed(1)} µs`
        : `${(result.perSecond ?? 0).toFixed(0)}/s`;
  const cpu = entry.clientCpuPct === null ? '' : ` client CPU ${entry.clientCpuPct.toFixed(0)}%`;
  const peer = entry.peer.cpuPct === null ? '' : ` peer CPU ${entry.peer.cpuPct.toFixed(0)}%`;
  const check = entry.problems.length === 0 ? ' (peer agrees)' : ' (PEER DISAGREES)';
  return `${label}: ${figure}${cpu}${peer}${check}`;
}
