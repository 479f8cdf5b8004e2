import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Run, Summary } from '../../lib/cli/bench/report.js';
import { ensureBuilt } from '../bench/build.js';
import { describeNeeding, ETHTOOL, IP } from '../helpers/needs.js';

const run = promisify(execFile);
const TASKSET = { command: 'taskset', debianPackage: 'util-linux' };

interface BenchDocument {
  [stack: string]: unknown;
  peer_cpu_pct: number | null;
  env: Record<string, unknown>;
  problems: string[];
  runs: Run[];
}

const STACKS: Record<string, [string, 'split' | 'same']> = {
  kernel: ['kernel', 'split'],
  kernel_offloads: ['kernel_offloads', 'split'],
  utcp: ['utcp', 'split'],
  kernel_same: ['kernel', 'same'],
  utcp_same: ['utcp', 'same'],
};

// The README's bench command, short: every figure it reports must follow from what the peer
// counted on its side of the veth.
describeNeeding(['root', IP, ETHTOOL, TASKSET], 'utcp bench -d 2 --json', () => {
  let dir: string;
  let document: BenchDocument;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'utcp-bench-smoke-'));
    await ensureBuilt();
    const file = path.join(dir, 'bench.json');
    // Exit status 1 means a problem was found; the document lists it and the checks below
    // say which.
    await run('node', ['dist/lib/cli/main.js', 'bench', '-d', '2', '--json', file]).catch(
      (error: { code?: number }) => {
        if (error.code !== 1) throw error;
      },
    );
    document = JSON.parse(await readFile(file, 'utf8')) as BenchDocument;
  }, 110_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no namespace behind', async () => {
    const lab = document.env.lab as { clientNamespace: string; peerNamespace: string };
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(lab.clientNamespace).toMatch(/^utcp-/);
    expect(stdout).not.toContain(lab.clientNamespace);
    expect(stdout).not.toContain(lab.peerNamespace);
  });

  it('measured every stack and placement, and the peer agrees with every run', () => {
    for (const key of Object.keys(STACKS)) {
      const summary = document[key] as Summary | null;
      expect(summary, key).not.toBeNull();
      for (const [figure, value] of Object.entries(summary!)) {
        if (key.endsWith('_same') && !figure.startsWith('rr') && figure !== 'cpu_pct') continue;
        expect(value, `${key}.${figure}`).not.toBeNull();
      }
    }
    expect(document.problems).toEqual([]);
    for (const entry of document.runs) expect(entry.problems).toEqual([]);
    expect(document.peer_cpu_pct).toBeGreaterThan(0);
    expect(document.env.link_used).toBe('xdp');
    expect(document.env.bind_mode).toMatch(/copy|zerocopy/);
    for (const key of ['kernel', 'cpu_model', 'mtu', 'link', 'placement', 'node', 'date']) {
      expect(document.env[key]).toBeDefined();
    }
  });

  it('every non-null figure follows from the peer counts', () => {
    let checked = 0;
    for (const [key, [stack, placement]] of Object.entries(STACKS)) {
      const summary = document[key] as Summary | null | undefined;
      if (!summary) continue;
      const runs = document.runs.filter((r) => r.stack === stack && r.placement === placement);
      const find = (workload: string): Run => {
        const found = runs.find((r) => r.workload === workload);
        expect(found, `${key} ${workload}`).toBeDefined();
        return found!;
      };

      if (summary.send_gbps !== null) {
        const { peer, result } = find('send');
        const gbps = (peer.sinkBytes * 8) / (result.elapsedMs * 1e6);
        expect(summary.send_gbps).toBeCloseTo(gbps, 2);
        expect(peer.sinkBytes).toBeGreaterThan(0);
        checked++;
      }
      if (summary.recv_gbps !== null) {
        const { peer, result } = find('recv');
        const gbps = (peer.sourceBytes * 8) / (result.elapsedMs * 1e6);
        expect(summary.recv_gbps).toBeCloseTo(gbps, 2);
        expect(peer.sourceBytes).toBeGreaterThan(0);
        checked++;
      }
      for (const [workload, size] of [
        ['rr1', 1],
        ['rr1k', 1024],
      ] as const) {
        const p50 = summary[`${workload}_p50_us`];
        if (p50 === null) continue;
        const { peer, result } = find(workload);
        const trips = peer.echoBytes / size;
        expect(trips).toBeGreaterThan(0);
        expect(result.latency!.count).toBe(trips);
        const p99 = summary[`${workload}_p99_us`]!;
        const p999 = summary[`${workload}_p999_us`]!;
        expect(p50).toBeLessThanOrEqual(p99);
        expect(p99).toBeLessThanOrEqual(p999);
        // Round trips run one after another: half of them took at least p50, so together they
        // cannot exceed the time the workload ran.
        expect(((trips / 2) * p50) / 1000).toBeLessThanOrEqual(result.elapsedMs * 1.01);
        checked++;
      }
      if (summary.crr_per_s !== null) {
        const { peer, result } = find('crr');
        const errors = Object.values(result.errors).reduce((sum, n) => sum + n, 0);
        expect(summary.crr_errors).toBe(errors);
        const low = ((peer.crrResponses - errors) * 1000) / result.elapsedMs;
        const high = (peer.crrResponses * 1000) / result.elapsedMs;
        expect(summary.crr_per_s).toBeGreaterThanOrEqual(Math.floor(low));
        expect(summary.crr_per_s).toBeLessThanOrEqual(Math.ceil(high));
        expect(peer.crrResponses).toBeGreaterThan(0);
        checked++;
      }
      if (summary.cpu_pct !== null) {
        expect(summary.cpu_pct).toBeGreaterThan(0);
        expect(summary.cpu_pct).toBeLessThanOrEqual(100 * os.availableParallelism());
      }
    }
    // Five figures for each of kernel, kernel_offloads and utcp, two for each placement `same`.
    expect(checked).toBe(19);
  });
});
