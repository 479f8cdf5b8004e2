import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeerServer, type PeerServer } from '../../lib/cli/bench/peer-server.js';
import type { BenchNet } from '../../lib/cli/bench/protocol.js';
import { runWorkload, type Job } from '../../lib/cli/bench/workloads.js';

// The workloads against the peer on loopback, over the kernel's TCP: every figure the client
// reports must match what the peer counted.
const kernel = net as unknown as BenchNet;
const basePort = 25201;
let peer: PeerServer;

beforeAll(async () => {
  peer = await startPeerServer(kernel, '127.0.0.1', { measureCpu: true, basePort });
});
afterAll(async () => {
  await peer.close();
});

function job(workload: Job['workload'], connections = 1): Job {
  return { workload, host: '127.0.0.1', basePort, durationMs: 300, connections };
}

describe('bench workloads over loopback', () => {
  it('bulk send: the bytes sent are the bytes the peer received', async () => {
    peer.mark();
    const result = await runWorkload(kernel, job('send', 2));
    const counts = peer.mark();
    expect(result.errors).toEqual({});
    expect(result.bytes).toBeGreaterThan(0);
    expect(result.peerReportedBytes).toBe(result.bytes);
    expect(counts.sinkBytes).toBe(result.bytes);
    expect(counts.sinkConnections).toBe(2);
    expect(result.gbps).toBeGreaterThan(0);
    expect(result.series.length).toBeGreaterThan(0);
  });

  it('bulk receive: the bytes received are the bytes the peer sent', async () => {
    peer.mark();
    const result = await runWorkload(kernel, job('recv', 2));
    const counts = peer.mark();
    expect(result.errors).toEqual({});
    expect(result.bytes).toBeGreaterThan(0);
    expect(counts.sourceBytes).toBe(result.bytes);
    expect(counts.sourceConnections).toBe(2);
  });

  it('ping-pong: every round trip was echoed, percentiles in order', async () => {
    for (const [workload, size] of [
      ['rr1', 1],
      ['rr1k', 1024],
    ] as const) {
      peer.mark();
      const result = await runWorkload(kernel, job(workload));
      const counts = peer.mark();
      expect(result.errors).toEqual({});
      expect(result.operations).toBeGreaterThan(0);
      expect(counts.echoBytes).toBe(result.operations * size);
      const latency = result.latency!;
      expect(latency.count).toBe(result.operations);
      expect(latency.p50Us).toBeGreaterThan(0);
      expect(latency.p50Us).toBeLessThanOrEqual(latency.p99Us);
      expect(latency.p99Us).toBeLessThanOrEqual(latency.p999Us);
      expect(latency.p999Us).toBeLessThanOrEqual(latency.maxUs);
    }
  });

  it('connection rate: each completed connection got one response from the peer', async () => {
    peer.mark();
    const result = await runWorkload(kernel, job('crr', 4));
    const counts = peer.mark();
    expect(result.errors).toEqual({});
    expect(result.operations).toBeGreaterThan(0);
    expect(counts.crrResponses).toBe(result.operations);
    expect(counts.crrConnections).toBe(result.operations);
  });

  it('a refused connection is counted by code, not thrown', async () => {
    const result = await runWorkload(kernel, { ...job('crr'), basePort: 1, durationMs: 50 });
    expect(result.operations).toBe(0);
    expect(result.errors.ECONNREFUSED).toBeGreaterThan(0);
  });
});
