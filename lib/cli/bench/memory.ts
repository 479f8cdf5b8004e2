/**
 * `--link memory`: two utcp stacks in this one process, joined by the in-memory link pair,
 * the peer's services on one and the workloads on the other. Needs no privilege, and compares
 * nothing with the kernel: it shows what utcp alone does with a perfect wire.
 */
import { createStack } from '../../api/stack.js';
import { RealClock, type Clock, type ClockTimer } from '../../link/clock.js';
import { createMemoryLinkPair } from '../../link/memory.js';
import type { Arena } from './command.js';
import { cpuPercent, startPeerServer } from './peer-server.js';
import type { BenchNet } from './protocol.js';
import { runWorkload } from './workloads.js';

const CLIENT_ADDRESS = '198.18.0.1';
const PEER_ADDRESS = '198.18.0.2';

/**
 * Real time whose timers due now run on the next turn of the event loop (setImmediate) rather
 * than after setTimeout's minimum of one millisecond. The memory link hands every frame over
 * through a timer due now, so on a plain `RealClock` each crossing would cost a millisecond
 * and the bench would measure that instead of the stacks.
 *
 * Limitation: this belongs in the link's `RealClock`; fixing it there makes this class go.
 */
class PromptClock implements Clock {
  private readonly real = new RealClock();

  now(): number {
    return this.real.now();
  }

  timer(callback: () => void): ClockTimer {
    const real = this.real.timer(callback);
    let immediate: NodeJS.Immediate | undefined;
    let deadline = 0;
    const cancel = (): void => {
      if (immediate !== undefined) clearImmediate(immediate);
      immediate = undefined;
      real.cancel();
    };
    return {
      start: (at: number) => {
        cancel();
        deadline = at;
        if (at > this.now()) {
          real.start(at);
          return;
        }
        immediate = setImmediate(() => {
          immediate = undefined;
          callback();
        });
      },
      cancel,
      get armed() {
        return immediate !== undefined || real.armed;
      },
      get deadline() {
        return deadline;
      },
    };
  }

  at(at: number, callback: () => void): ClockTimer {
    const timer = this.timer(callback);
    timer.start(at);
    return timer;
  }
}

export async function memoryArena(mtu: number): Promise<Arena> {
  const clock = new PromptClock();
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
