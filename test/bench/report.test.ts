import { describe, expect, it } from 'vitest';
import { checkAgainstPeer } from '../../lib/cli/bench/check.js';
import { buildDocument, plan } from '../../lib/cli/bench/command.js';
import type { PeerCounts } from '../../lib/cli/bench/protocol.js';
import { formatTable, summarize, type Run } from '../../lib/cli/bench/report.js';
import type { WorkloadResult } from '../../lib/cli/bench/workloads.js';

function peer(counts: Partial<PeerCounts>): PeerCounts {
  return {
    sinkBytes: 0,
    sinkConnections: 0,
    sourceBytes: 0,
    sourceConnections: 0,
    echoBytes: 0,
    echoConnections: 0,
    crrConnections: 0,
    crrResponses: 0,
    errors: {},
    cpuPct: 10,
    wallMs: 1000,
    ...counts,
  };
}

function result(fields: Partial<WorkloadResult> & Pick<WorkloadResult, 'workload'>) {
  return {
    elapsedMs: 1000,
    bytes: 0,
    peerReportedBytes: null,
    gbps: null,
    latency: null,
    operations: 0,
    perSecond: null,
    errors: {},
    series: [],
    ...fields,
  } satisfies WorkloadResult;
}

describe('checks against the peer', () => {
  it('accepts matching counts and names each disagreement', () => {
    const send = result({ workload: 'send', bytes: 1000, peerReportedBytes: 1000 });
    expect(checkAgainstPeer(send, peer({ sinkBytes: 1000 }))).toEqual([]);
    expect(checkAgainstPeer(send, peer({ sinkBytes: 999 }))).toEqual([
      'bytes sent: client 1000, peer 999',
    ]);
    const rr = result({ workload: 'rr1k', bytes: 2048, operations: 2 });
    expect(checkAgainstPeer(rr, peer({ echoBytes: 1024 }))).toHaveLength(1);
  });

  it('lets a failed connection explain a response the client did not count', () => {
    const crr = result({ workload: 'crr', operations: 10, errors: { ECONNRESET: 1 } });
    expect(checkAgainstPeer(crr, peer({ crrResponses: 11 }))).toEqual([]);
    expect(checkAgainstPeer(crr, peer({ crrResponses: 12 }))).toHaveLength(1);
    expect(checkAgainstPeer(crr, peer({ crrResponses: 9 }))).toHaveLength(1);
  });
});

describe('summary and table', () => {
  const run = (fields: Partial<Run> & Pick<Run, 'workload' | 'result'>): Run => ({
    stack: 'kernel',
    placement: 'split',
    clientCpuPct: 50,
    peer: peer({}),
    problems: [],
    ...fields,
  });

  it('leaves a figure the peer did not confirm out, and null for what did not run', () => {
    const summary = summarize([
      run({ workload: 'send', result: result({ workload: 'send', gbps: 1.23456 }) }),
      run({
        workload: 'recv',
        result: result({ workload: 'recv', gbps: 9 }),
        problems: ['bytes received: client 1, peer 2'],
      }),
    ]);
    expect(summary.send_gbps).toBe(1.235);
    expect(summary.recv_gbps).toBeNull();
    expect(summary.rr1_p50_us).toBeNull();
    expect(summary.cpu_pct).toBe(50);
  });

  it('prints a ratio utcp/kernel when both ran', () => {
    const kernel = summarize([
      run({ workload: 'send', result: result({ workload: 'send', gbps: 2 }) }),
    ]);
    const utcp = summarize([
      run({ workload: 'send', result: result({ workload: 'send', gbps: 1 }) }),
    ]);
    const table = formatTable([
      ['kernel', kernel],
      ['utcp', utcp],
    ]);
    expect(table).toMatch(/send Gbit\/s\s+2\s+1\s+0\.50/);
    expect(table).not.toMatch(/ping-pong/);
  });
});

describe('plan', () => {
  it('runs the kernel before utcp, and latency on one CPU too unless pinned', () => {
    const base = { duration: 1, connections: 1, mtu: 1500, link: 'xdp', busyPoll: false } as const;
    const steps = plan(base).map((s) => `${s.stack}/${s.placement}/${s.workloads.join(',')}`);
    expect(steps).toEqual([
      'kernel/split/send,recv,rr1,rr1k,crr',
      'kernel_offloads/split/send,recv,rr1,rr1k,crr',
      'utcp/split/send,recv,rr1,rr1k,crr',
      'kernel/same/rr1,rr1k',
      'utcp/same/rr1,rr1k',
    ]);
    expect(plan({ ...base, pin: 'same', only: 'crr' })).toHaveLength(3);
    expect(plan({ ...base, link: 'memory' }).map((s) => s.stack)).toEqual(['utcp']);
  });
});

describe('the JSON document', () => {
  it('flags a run where the peer used more than 90% of a CPU as peer-bound', () => {
    const options = {
      duration: 1,
      connections: 1,
      mtu: 1500,
      link: 'xdp',
      busyPoll: false,
    } as const;
    const base = {
      placement: 'split' as const,
      clientCpuPct: 40,
      problems: [],
      result: result({ workload: 'send', gbps: 1 }),
      workload: 'send' as const,
    };
    const document = buildDocument(
      options,
      [
        { ...base, stack: 'kernel', peer: peer({ cpuPct: 95.25 }) },
        { ...base, stack: 'utcp', peer: peer({ cpuPct: 50 }) },
      ],
      [],
      { bindMode: 'copy', linkUsed: 'xdp' },
      {},
    );
    expect(document.peer_cpu_pct).toBe(95.3);
    expect(document.peer_bound).toEqual(['kernel split send']);
    expect(document.kernel?.send_gbps).toBe(1);
    expect(document.kernel_offloads?.send_gbps).toBeNull();
    expect(document.utcp_same?.rr1_p50_us).toBeNull();
    expect(document.env).toMatchObject({ link: 'xdp', link_used: 'xdp', bind_mode: 'copy' });
    expect(document.env.placement).toBe('split+same');
  });
});
