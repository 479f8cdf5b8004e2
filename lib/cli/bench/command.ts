/**
 * `utcp bench`: builds the lab, starts the peer on the kernel's TCP in the peer namespace, and
 * runs the same workloads from the client namespace over the kernel's TCP (offloads off, then
 * the interface defaults) and over utcp; checks every figure against the peer's counts and
 * reports a table, and on request JSON and a self-contained HTML page.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createBenchLab, type BenchLab } from './bench-lab.js';
import { checkAgainstPeer } from './check.js';
import { renderHtml } from './html.js';
import type { LineChild } from './lines.js';
import { memoryArena } from './memory.js';
import { summarizeProfile, type ProfileSummary } from './profile.js';
import { StatusLine } from './progress.js';
import {
  formatTable,
  summarize,
  type Placement,
  type Run,
  type StackLabel,
  type Summary,
} from './report.js';
import { startClientProcess, startPeerProcess, type ClientSide, type PeerSide } from './sides.js';
import type { Job, Progress, WorkloadName } from './workloads.js';

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
  /** Directory for V8 CPU profiles of the client processes. */
  cpuProf?: string;
}

const SETS: Record<NonNullable<BenchOptions['only']>, WorkloadName[]> = {
  throughput: ['send', 'recv', 'send_multi', 'recv_multi'],
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
      'parallel connections (bulk) or connections in flight (crr)',
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
        'client and peer on two CPUs, or both on one (default: split, and latency on one too)',
      ).choices(['split', 'same']),
    )
    .addOption(
      new Option('--only <set>', 'run one set of workloads').choices([
        'throughput',
        'latency',
        'crr',
      ]),
    )
    .option('--json <file>', 'write the figures as JSON (- for stdout, the table then on stderr)')
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--cpu-prof <dir>', 'profile each client process (V8 .cpuprofile files in <dir>)')
    .action(async (options: BenchOptions) => {
      process.exitCode = await runBench(options);
    });
}

export interface PlanStep {
  stack: StackLabel;
  placement: Placement;
  workloads: WorkloadName[];
}

/** What runs, in order: the kernel first (no XDP program attached yet), utcp after. */
export function plan(options: BenchOptions): PlanStep[] {
  const workloads: WorkloadName[] = (
    options.only ? SETS[options.only] : [...SETS.throughput, ...SETS.latency, ...SETS.crr]
  ).filter((w) => options.connections > 1 || !w.endsWith('_multi'));
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

/** CPUs for the client and the peer under a placement; one CPU only allows `same`. */
export function cpusFor(placement: Placement): { client: number; peer: number } {
  if (placement === 'same' || os.availableParallelism() < 2) return { client: 0, peer: 0 };
  return { client: 0, peer: 1 };
}

/** What is missing to build the lab, in words a user can act on; undefined when nothing. */
async function missingPrivileges(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) {
    return (
      'utcp bench: EPERM: needs CAP_NET_ADMIN (network namespaces, veth, ethtool), and ' +
      'CAP_NET_RAW with CAP_BPF (AF_XDP sockets and the XDP program). Run it as root, for ' +
      'example `sudo npx utcp bench`.'
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
      return `utcp bench: ENOENT: needs the command ${command} (Debian package ${pkg}).`;
    }
  }
  return undefined;
}

/** Where the workloads run: the lab, or (with `--link memory`) two stacks in this process. */
export interface Arena {
  readonly peer: PeerSide;
  /** Gets the link and the peer ready for a step (offloads, CPU placement). */
  prepare(step: PlanStep): Promise<void>;
  openClient(step: PlanStep): Promise<ClientSide>;
  readonly peerAddress: string;
  /** What the arena set up, for the report's `env`. */
  readonly record: Record<string, unknown>;
  close(): Promise<void>;
  /** On a signal: stop every process at once; `close` follows. */
  kill(): void;
}

async function labArena(options: BenchOptions): Promise<Arena> {
  const lab: BenchLab = await createBenchLab(options.mtu);
  const children = new Set<LineChild>();
  let peer: PeerSide;
  try {
    peer = await startPeerProcess(lab, cpusFor(options.pin ?? 'split').peer, children);
  } catch (error) {
    await lab.close();
    throw error;
  }
  return {
    peer,
    peerAddress: lab.record.peerAddress,
    record: { ...lab.record },
    async prepare(step) {
      await peer.place(cpusFor(step.placement).peer);
      await lab.setOffloads(step.stack === 'kernel_offloads' ? 'defaults' : 'off');
    },
    openClient(step) {
      const kind = step.stack === 'utcp' ? 'utcp' : 'kernel';
      const utcp = {
        link: options.link === 'packet' ? ('packet' as const) : ('xdp' as const),
        ifname: lab.record.clientInterface,
        address: lab.record.utcpAddress,
        prefixLength: 24,
        mtu: options.mtu,
        // Limitation: --busy-poll applies to utcp only; the kernel's busy_read/busy_poll sysctls
        // are global, not per namespace; fixing it needs SO_BUSY_POLL on the client's sockets.
        busyPoll: options.busyPoll,
      };
      const profile = options.cpuProf
        ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProf, '--cpu-prof-name', profileName(step)]
        : [];
      const cpu = cpusFor(step.placement).client;
      return startClientProcess(lab, kind, cpu, utcp, children, profile);
    },
    async close() {
      await Promise.all([...children].map((child) => child.close()));
      await lab.close();
    },
    kill() {
      for (const child of children) child.kill();
    },
  };
}

function profileName(step: PlanStep): string {
  return `${step.stack}-${step.placement}.cpuprofile`;
}

/** Why an output file could not be written, as `path: CODE`; undefined when it can be. */
async function unwritable(file: string): Promise<string | undefined> {
  try {
    // An existing file must be writable; a new one needs a writable folder.
    await access(file, constants.F_OK).then(
      () => access(file, constants.W_OK),
      () => access(path.dirname(path.resolve(file)), constants.W_OK),
    );
    return undefined;
  } catch (error) {
    return `${file}: ${(error as NodeJS.ErrnoException).code ?? 'EIO'}`;
  }
}

/** Writes one output file; a failure is reported in one line rather than thrown. */
async function writeOutput(file: string, text: () => Promise<string>): Promise<boolean> {
  if (file === '-') {
    process.stdout.write(await text());
    return true;
  }
  try {
    await writeFile(file, await text());
    process.stderr.write(`utcp bench: wrote ${file}\n`);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    process.stderr.write(`utcp bench: cannot write ${file}: ${code}\n`);
    return false;
  }
}

export async function runBench(options: BenchOptions): Promise<number> {
  const status = new StatusLine();
  // Checked before the run, so that minutes of figures are not lost to a typo in a path.
  for (const file of [options.json, options.html]) {
    const problem = file === undefined || file === '-' ? undefined : await unwritable(file);
    if (problem !== undefined) {
      status.log(`utcp bench: cannot write ${problem}`);
      return 1;
    }
  }
  const missing = options.link === 'memory' ? undefined : await missingPrivileges();
  if (missing) {
    status.log(missing);
    status.log(
      'Without them, `utcp bench --link memory` runs two utcp stacks in one process ' +
        '(no comparison with the kernel).',
    );
    return 77;
  }

  let arena: Arena | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    status.log(`utcp bench: ${signal}, tearing the lab down`);
    // Without an arena yet, the lab is still being built: it is closed as soon as it exists.
    if (!arena) return;
    arena.kill();
    void arena.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const runs: Run[] = [];
  const problems: string[] = [];
  let bindMode: string | null = null;
  let linkUsed: string | null = null;
  let fallbackTold = false;
  const profiles: Record<string, ProfileSummary> = {};
  try {
    const count = plan(options).reduce((sum, step) => sum + step.workloads.length, 0);
    status.log(
      `utcp bench: ${count} workloads of ${options.duration} s each, about ` +
        `${Math.ceil((count * (options.duration + 1)) / 60)} min`,
    );
    status.update(options.link === 'memory' ? 'starting two utcp stacks' : 'building the lab');
    arena = options.link === 'memory' ? await memoryArena(options.mtu) : await labArena(options);
    if (interrupted) {
      await arena.close();
      return 130;
    }
    for (const step of plan(options)) {
      if (interrupted) break;
      await arena.prepare(step);
      let client: ClientSide;
      try {
        client = await arena.openClient(step);
      } catch (error) {
        const message = `${step.stack} (${step.placement}): not run: ${(error as Error).message}`;
        problems.push(message);
        status.log(message);
        continue;
      }
      if (interrupted) break;
      bindMode = client.bindMode ?? bindMode;
      if (step.stack === 'utcp') linkUsed = client.linkKind;
      if (step.stack === 'utcp' && client.linkFallback !== null && !fallbackTold) {
        // Every figure below is AF_PACKET's, with its millisecond of block latency: say so.
        const message = `utcp: AF_XDP unavailable (${client.linkFallback}); using AF_PACKET`;
        problems.push(message);
        status.log(message);
        fallbackTold = true;
      }
      for (const workload of step.workloads) {
        if (interrupted) break;
        const entry = await runOne(arena, client, step, workload, options, status);
        if (typeof entry === 'string') problems.push(entry);
        else {
          runs.push(entry);
          for (const p of entry.problems) problems.push(`${label(entry)}: peer disagrees: ${p}`);
        }
      }
      await client.close();
      if (options.cpuProf && options.link !== 'memory') {
        const file = path.join(options.cpuProf, profileName(step));
        const summary = await summarizeProfile(file).catch((error: Error) => error);
        if (summary instanceof Error) problems.push(`profile ${file}: ${summary.message}`);
        else profiles[`${step.stack} ${step.placement}`] = summary;
      }
    }
    if (interrupted) return 130;
    await arena.close();
  } catch (error) {
    status.log(`utcp bench: ${(error as Error).message}`);
    arena?.kill();
    await arena?.close();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  status.clear();

  const document = buildDocument(options, runs, problems, { bindMode, linkUsed }, arena.record);
  if (options.cpuProf) document.profiles = withSegmentCosts(profiles, runs);
  (options.json === '-' ? process.stderr : process.stdout).write(formatReport(document));
  let written = true;
  if (options.json) {
    const json = options.json;
    written =
      (await writeOutput(json, async () => JSON.stringify(document, null, 2) + '\n')) && written;
  }
  if (options.html) {
    written = (await writeOutput(options.html, () => renderHtml(document))) && written;
  }
  return problems.length > 0 || !written ? 1 : 0;
}

function label(entry: Pick<Run, 'stack' | 'placement' | 'workload'>): string {
  return `${entry.stack} ${entry.placement} ${entry.workload}`;
}

/** One workload on one stack: the figures, the client's CPU, the peer's counts and checks. */
async function runOne(
  arena: Arena,
  client: ClientSide,
  step: PlanStep,
  workload: WorkloadName,
  options: BenchOptions,
  status: StatusLine,
): Promise<Run | string> {
  const name = label({ ...step, workload });
  const job: Job = {
    workload,
    host: arena.peerAddress,
    durationMs: options.duration * 1000,
    // Bulk runs on one connection, and on -c N in the `_multi` runs; ping-pong on one.
    connections: workload.endsWith('_multi') || workload === 'crr' ? options.connections : 1,
  };
  await arena.peer.mark();
  let outcome;
  try {
    outcome = await client.run(job, (progress) =>
      status.update(describeProgress(name, progress, job.durationMs)),
    );
  } catch (error) {
    await arena.peer.mark();
    status.log(`${name}: failed: ${(error as Error).message}`);
    return `${name}: ${(error as Error).message}`;
  }
  const peer = await arena.peer.mark();
  const entry: Run = {
    stack: step.stack,
    placement: step.placement,
    workload,
    result: outcome.result,
    clientCpuPct: outcome.cpuPct,
    peer,
    problems: checkAgainstPeer(outcome.result, peer),
    ...(outcome.stackStats ? { stackStats: outcome.stackStats } : {}),
  };
  status.log(describeRun(name, entry));
  return entry;
}

export interface BenchDocument {
  utcp: Summary | null;
  kernel: Summary | null;
  kernel_offloads: Summary | null;
  utcp_same?: Summary;
  kernel_same?: Summary;
  peer_cpu_pct: number | null;
  peer_bound: string[];
  env: Record<string, unknown>;
  problems: string[];
  runs: Run[];
  /** With `--cpu-prof`: per client process, where its CPU time went. */
  profiles?: Record<
    string,
    ProfileSummary & { segments: number | null; usPerSegment: number | null }
  >;
}

/** TCP segments a utcp client handled in a step, from its counters after the last run. */
function segmentsOf(runs: Run[], stack: string, placement: string): number | null {
  const last = runs.filter((r) => `${r.stack} ${r.placement}` === `${stack} ${placement}`).at(-1);
  const tcp = (last?.stackStats as { tcp?: Record<string, number> } | undefined)?.tcp;
  if (!tcp) return null;
  return (tcp.tcpInSegs ?? 0) + (tcp.tcpOutSegs ?? 0);
}

function withSegmentCosts(
  profiles: Record<string, ProfileSummary>,
  runs: Run[],
): NonNullable<BenchDocument['profiles']> {
  const out: NonNullable<BenchDocument['profiles']> = {};
  for (const [key, summary] of Object.entries(profiles)) {
    const [stack, placement] = key.split(' ');
    const segments = segmentsOf(runs, stack, placement);
    // CPU time from the process's own accounting: the profiler's sample intervals are wall
    // time, which on a busy machine includes time the process waited for a CPU.
    const cpuMs = runs
      .filter((r) => r.stack === stack && r.placement === placement && r.clientCpuPct !== null)
      .reduce((sum, r) => sum + (r.clientCpuPct! / 100) * r.result.elapsedMs, 0);
    const usPerSegment =
      segments && segments > 0 ? Number(((cpuMs * 1000) / segments).toFixed(2)) : null;
    out[key] = { ...summary, segments, usPerSegment };
  }
  return out;
}

export function buildDocument(
  options: BenchOptions,
  runs: Run[],
  problems: string[],
  link: { bindMode: string | null; linkUsed: string | null },
  record: Record<string, unknown>,
): BenchDocument {
  const steps = plan(options);
  const primary = options.pin ?? 'split';
  const summary = (stack: StackLabel, placement: Placement): Summary | null =>
    steps.some((s) => s.stack === stack && s.placement === placement)
      ? summarize(runs.filter((r) => r.stack === stack && r.placement === placement))
      : null;
  const second = primary === 'split' && steps.some((s) => s.placement === 'same');
  const peerCpus = runs.map((r) => r.peer.cpuPct).filter((n): n is number => n !== null);
  return {
    utcp: summary('utcp', primary),
    kernel: summary('kernel', primary),
    kernel_offloads: summary('kernel_offloads', primary),
    ...(second
      ? {
          utcp_same: summary('utcp', 'same') ?? undefined,
          kernel_same: summary('kernel', 'same') ?? undefined,
        }
      : {}),
    peer_cpu_pct: peerCpus.length > 0 ? Number(Math.max(...peerCpus).toFixed(1)) : null,
    peer_bound: runs
      .filter((r) => r.peer.cpuPct !== null && r.peer.cpuPct > PEER_BOUND_PCT)
      .map(label),
    env: {
      kernel: os.release(),
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.availableParallelism(),
      mtu: options.mtu,
      link: options.link,
      link_used: link.linkUsed,
      bind_mode: link.bindMode,
      busy_poll: options.busyPoll,
      placement: options.link === 'memory' ? 'one process' : second ? 'split+same' : primary,
      cpus_split: cpusFor('split'),
      cpus_same: cpusFor('same'),
      duration_s: options.duration,
      connections: options.connections,
      node: process.version,
      date: new Date().toISOString(),
      ...(options.link === 'memory'
        ? { note: 'two utcp stacks in one process: no comparison with the kernel' }
        : {}),
      lab: record,
    },
    problems,
    runs,
  };
}

function formatReport(document: BenchDocument): string {
  const placement = String(document.env.placement).split('+')[0];
  let text =
    document.env.link === 'memory'
      ? `${String(document.env.note)}:\n`
      : `placement ${placement}:\n`;
  text += formatTable(
    [
      ['kernel', document.kernel],
      ['kernel_offloads', document.kernel_offloads],
      ['utcp', document.utcp],
    ],
    Number(document.env.connections),
  );
  text += '\n';
  if (document.utcp_same || document.kernel_same) {
    text += '\nplacement same (client and peer on one CPU):\n';
    text += formatTable([
      ['kernel', document.kernel_same ?? null],
      ['utcp', document.utcp_same ?? null],
    ]);
    text += '\n';
  }
  if (document.peer_cpu_pct !== null) {
    text += `\npeer CPU: up to ${document.peer_cpu_pct}% of one CPU\n`;
  }
  if (document.peer_bound.length > 0) {
    const bound = document.peer_bound.join(', ');
    text += `peer-bound (peer above ${PEER_BOUND_PCT}% of a CPU): ${bound}\n`;
  }
  for (const [key, profile] of Object.entries(document.profiles ?? {})) {
    if (!key.startsWith('utcp')) continue;
    const perSegment =
      profile.usPerSegment === null
        ? ''
        : `: ${profile.usPerSegment} µs of CPU per segment over ${profile.segments} segments`;
    text += `\n${key} client${perSegment}; share of profiled time by function:\n`;
    for (const f of profile.top.slice(0, 12)) {
      text += `  ${f.pct.toFixed(1).padStart(5)}%  ${f.where}\n`;
    }
  }
  for (const problem of document.problems) text += `problem: ${problem}\n`;
  return text;
}

function describeProgress(name: string, progress: Progress, durationMs: number): string {
  const seconds = `${(progress.elapsedMs / 1000).toFixed(1)}/${durationMs / 1000}s`;
  const done =
    progress.workload.startsWith('send') || progress.workload.startsWith('recv')
      ? `${((progress.done * 8) / (progress.elapsedMs * 1e6)).toFixed(2)} Gbit/s`
      : `${progress.done} ${progress.workload === 'crr' ? 'connections' : 'round trips'}`;
  return `${name}  ${seconds}  ${done}`;
}

function describeRun(name: string, entry: Run): string {
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
  return `${name}: ${figure}${cpu}${peer}${check}`;
}
