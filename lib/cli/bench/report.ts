/**
 * Turns the runs into the figures the bench reports: one summary per stack (the keys of the
 * `--json` file), the table printed at the end, and the ratio utcp/kernel per figure.
 */
import type { PeerCounts } from './protocol.js';
import type { WorkloadName, WorkloadResult } from './workloads.js';

/** `kernel_offloads` is the kernel with the interface's default offloads. */
export type StackLabel = 'kernel' | 'kernel_offloads' | 'utcp';
export type Placement = 'split' | 'same';

export interface Run {
  stack: StackLabel;
  placement: Placement;
  workload: WorkloadName;
  result: WorkloadResult;
  clientCpuPct: number | null;
  peer: PeerCounts;
  /** Disagreements with the peer's counts; a run with any is not reported. */
  problems: string[];
  /** utcp's counters after the run (retransmissions, drops by reason, gauges). */
  stackStats?: unknown;
}

export interface Summary {
  send_gbps: number | null;
  recv_gbps: number | null;
  /** With `-c N` above 1: the same on N connections at once. */
  send_multi_gbps: number | null;
  recv_multi_gbps: number | null;
  rr1_p50_us: number | null;
  rr1_p99_us: number | null;
  rr1_p999_us: number | null;
  rr1k_p50_us: number | null;
  rr1k_p99_us: number | null;
  rr1k_p999_us: number | null;
  crr_per_s: number | null;
  crr_errors: number | null;
  cpu_pct: number | null;
}

export const SUMMARY_KEYS: (keyof Summary)[] = [
  'send_gbps',
  'recv_gbps',
  'send_multi_gbps',
  'recv_multi_gbps',
  'rr1_p50_us',
  'rr1_p99_us',
  'rr1_p999_us',
  'rr1k_p50_us',
  'rr1k_p99_us',
  'rr1k_p999_us',
  'crr_per_s',
  'crr_errors',
  'cpu_pct',
];

/** Whether a larger value of the figure is better (for reading the ratio). */
const HIGHER_IS_BETTER: Record<keyof Summary, boolean> = {
  send_gbps: true,
  recv_gbps: true,
  send_multi_gbps: true,
  recv_multi_gbps: true,
  rr1_p50_us: false,
  rr1_p99_us: false,
  rr1_p999_us: false,
  rr1k_p50_us: false,
  rr1k_p99_us: false,
  rr1k_p999_us: false,
  crr_per_s: true,
  crr_errors: false,
  cpu_pct: false,
};

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

export function summarize(runs: readonly Run[]): Summary {
  const summary: Summary = {
    send_gbps: null,
    recv_gbps: null,
    send_multi_gbps: null,
    recv_multi_gbps: null,
    rr1_p50_us: null,
    rr1_p99_us: null,
    rr1_p999_us: null,
    rr1k_p50_us: null,
    rr1k_p99_us: null,
    rr1k_p999_us: null,
    crr_per_s: null,
    crr_errors: null,
    cpu_pct: null,
  };
  let cpuMs = 0;
  let wallMs = 0;
  for (const run of runs) {
    if (run.clientCpuPct !== null) {
      cpuMs += (run.clientCpuPct / 100) * run.result.elapsedMs;
      wallMs += run.result.elapsedMs;
    }
    if (run.problems.length > 0) continue;
    const { result } = run;
    switch (run.workload) {
      case 'send':
      case 'recv':
      case 'send_multi':
      case 'recv_multi':
        summary[`${run.workload}_gbps`] = result.gbps === null ? null : round(result.gbps, 3);
        break;
      case 'rr1':
      case 'rr1k':
        if (result.latency) {
          summary[`${run.workload}_p50_us`] = round(result.latency.p50Us, 1);
          summary[`${run.workload}_p99_us`] = round(result.latency.p99Us, 1);
          summary[`${run.workload}_p999_us`] = round(result.latency.p999Us, 1);
        }
        break;
      case 'crr':
        summary.crr_per_s = result.perSecond === null ? null : round(result.perSecond, 0);
        summary.crr_errors = Object.values(result.errors).reduce((sum, n) => sum + n, 0);
        break;
    }
  }
  if (wallMs > 0) summary.cpu_pct = round((cpuMs / wallMs) * 100, 1);
  return summary;
}

const LABELS: Record<keyof Summary, string> = {
  send_gbps: 'send Gbit/s',
  recv_gbps: 'receive Gbit/s',
  send_multi_gbps: 'send Gbit/s, N connections',
  recv_multi_gbps: 'receive Gbit/s, N connections',
  rr1_p50_us: 'ping-pong 1 B p50 µs',
  rr1_p99_us: 'ping-pong 1 B p99 µs',
  rr1_p999_us: 'ping-pong 1 B p99.9 µs',
  rr1k_p50_us: 'ping-pong 1 KiB p50 µs',
  rr1k_p99_us: 'ping-pong 1 KiB p99 µs',
  rr1k_p999_us: 'ping-pong 1 KiB p99.9 µs',
  crr_per_s: 'connections/s',
  crr_errors: 'connection errors',
  cpu_pct: 'client CPU % (mean)',
};

export function ratio(utcp: number | null, kernel: number | null): number | null {
  if (utcp === null || kernel === null || kernel === 0) return null;
  return utcp / kernel;
}

/**
 * A plain-text table: one row per figure, one column per stack present, then utcp/kernel.
 * `columns` maps a heading to its summary (null columns are left out).
 */
export function formatTable(columns: [string, Summary | null][], connections = 1): string {
  const present = columns.filter((column): column is [string, Summary] => column[1] !== null);
  const utcp = present.find(([name]) => name === 'utcp')?.[1] ?? null;
  const kernel = present.find(([name]) => name === 'kernel')?.[1] ?? null;
  const withRatio = utcp !== null && kernel !== null;

  const header = ['', ...present.map(([name]) => name), ...(withRatio ? ['utcp/kernel'] : [])];
  const rows: string[][] = [header];
  for (const key of SUMMARY_KEYS) {
    const values = present.map(([, summary]) => summary[key]);
    if (values.every((value) => value === null)) continue;
    const name = LABELS[key].replace(' N ', ` ${connections} `);
    const row = [name, ...values.map((value) => (value === null ? '-' : String(value)))];
    if (withRatio) {
      const r = ratio(utcp[key], kernel[key]);
      row.push(r === null ? '-' : `${r.toFixed(2)}${HIGHER_IS_BETTER[key] ? '' : ' (lower wins)'}`);
    }
    rows.push(row);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  '),
    )
    .join('\n');
}
