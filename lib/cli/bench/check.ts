/**
 * Checks a workload's figures against the peer's own counts. A figure the peer does not
 * confirm is not reported: it is replaced by null, and the disagreement is listed.
 */
import type { PeerCounts } from './protocol.js';
import type { WorkloadResult } from './workloads.js';

export function checkAgainstPeer(result: WorkloadResult, peer: PeerCounts): string[] {
  const problems: string[] = [];
  const expect = (what: string, client: number, counted: number): void => {
    if (client !== counted) problems.push(`${what}: client ${client}, peer ${counted}`);
  };
  switch (result.workload) {
    case 'send':
    case 'send_multi':
      expect('bytes sent', result.bytes, peer.sinkBytes);
      if (result.peerReportedBytes !== null) {
        expect('bytes the peer acknowledged', result.bytes, result.peerReportedBytes);
      }
      break;
    case 'recv':
    case 'recv_multi':
      expect('bytes received', result.bytes, peer.sourceBytes);
      break;
    case 'rr1':
    case 'rr1k':
      expect('bytes echoed', result.bytes, peer.echoBytes);
      if (result.latency) expect('latency samples', result.latency.count, result.operations);
      break;
    case 'crr':
      // A connection the client counted as failed may still have had its response sent.
      if (result.operations > peer.crrResponses) {
        problems.push(
          `completed connections: client ${result.operations}, peer ${peer.crrResponses}`,
        );
      }
      if (peer.crrResponses - result.operations > errorCount(result.errors)) {
        problems.push(
          `responses the client did not count: ${peer.crrResponses - result.operations}`,
        );
      }
      break;
  }
  return problems;
}

export function errorCount(errors: Record<string, number>): number {
  return Object.values(errors).reduce((sum, n) => sum + n, 0);
}
