/**
 * `--link memory`: two utcp stacks in this one process, joined by the in-memory link pair,
 * the peer's services on one and the workloads on the other. Needs no privilege, and compares
 * nothing with the kernel: it shows what utcp alone does with a perfect wire.
 */
import { createStack } from '../../api/stack.js';
import { RealClock } from '../../link/clock.js';
import { createMemoryLinkPair } from '../../link/memory.js';
import type { Arena } from './command.js';
import { cpuPercent, startPeerServer } from './peer-server.js';
import type { BenchNet } from './protocol.js';
import { runWorkload } from './workloads.js';

const CLIENT_ADDRESS = '198.18.0.1';
const PEER_ADDRESS = '198.18.0.2';

export async function memoryArena(mtu: number): Promise<Arena> {
  // RealClock runs a timer due now on the next turn of the event loop, so a frame crossing the
  // memory link costs no setTimeout millisecond.
  const clock = new RealClock();
  const [clientLink, peerLink] = createMemoryLinkPair({ clock, mtu });
  const client = createStack({ link: clientLink, clock, address: CLIENT_ADDRESS, prefix: 24 });
  const peerStack = createStack({ link: peerLink, clock, address: PEER_ADDRESS, prefix: 24 });
  const server = await startPeerServer(peerStack as unknown as BenchNet, PEER_ADDRESS, {
    measureCpu: false,
  });
  return {
    peerAddress: PEER_ADDRESS,
    record: {
      clientAddress: CLIENT_ADDRESS,
      peerAddress: PEER_ADDRESS,
      mtu,
      cpu: 'client, peer and both stacks share one process; cpu_pct counts all of it',
    },
    peer: {
      mark: () => Promise.resolve(server.mark()),
      place: () => Promise.resolve(),
      close: () => server.close(),
      kill: () => {},
    },
    prepare: () => Promise.resolve(),
    openClient: () =>
      Promise.resolve({
        bindMode: null,
        linkKind: 'memory',
        linkFallback: null,
        async run(job, onProgress) {
          const cpuBefore = process.cpuUsage();
          const wallBefore = performance.now();
          const result = await runWorkload(client as unknown as BenchNet, job, onProgress);
          const cpuPct = cpuPercent(process.cpuUsage(cpuBefore), performance.now() - wallBefore);
          return { result, cpuPct, stackStats: client.stats() };
        },
        close: () => Promise.resolve(),
        kill: () => {},
      }),
    async close() {
      await server.close();
      await client.close();
      await peerStack.close();
    },
    kill: () => {},
  };
}
