import { VirtualClock } from '../../lib/link/clock.js';
import { impair, type Impairment } from '../../lib/link/impair.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import type { Link } from '../../lib/link/types.js';
import { createStack, type UtcpStack } from '../../lib/api/stack.js';

/** Timers short enough that a test waits out TIME_WAIT and retransmissions in virtual time. */
export const SHORT_TIMERS = {
  msl: 1_000_000,
  connectionTimeout: 5_000_000,
  finWait2Timeout: 2_000_000,
  rtoMax: 2_000_000,
};

export interface Pair {
  clock: VirtualClock;
  a: UtcpStack;
  b: UtcpStack;
  close(): Promise<void>;
}

export interface PairOptions {
  /** Impairment on A's link, both ways, seeded. */
  impairment?: { seed: number; tx?: Impairment; rx?: Impairment };
  tcp?: Record<string, number | boolean>;
  latencyUs?: number;
  rateBitsPerSecond?: number;
}

/** Two stacks joined by an in-memory cable on virtual time: A is .1, B is .2 in 198.18.0.0/24. */
export function pair(options: PairOptions = {}): Pair {
  const clock = new VirtualClock(1_000_000);
  const [linkA, linkB] = createMemoryLinkPair({
    clock,
    latencyUs: options.latencyUs ?? 100,
    rateBitsPerSecond: options.rateBitsPerSecond ?? 0,
  });
  let a: Link = linkA;
  if (options.impairment !== undefined) {
    a = impair(linkA, { clock, ...options.impairment });
  }
  const tcp = { ...SHORT_TIMERS, ...options.tcp };
  const secret = new Uint8Array(32).fill(7);
  const stackA = createStack({ link: a, clock, address: '198.18.0.1', prefix: 24, tcp, secret });
  const stackB = createStack({
    link: linkB,
    clock,
    address: '198.18.0.2',
    prefix: 24,
    tcp,
    secret: secret.map((x) => x + 1),
  });
  return {
    clock,
    a: stackA,
    b: stackB,
    async close() {
      await stackA.close();
      await stackB.close();
    },
  };
}

/**
 * Runs virtual time and the event loop together until `done()` holds: timers due now run,
 * then the loop turns (streams, nextTick, promises), then time jumps to the next deadline.
 */
export async function runUntil(
  clock: VirtualClock,
  done: () => boolean,
  limitUs = 600_000_000,
): Promise<void> {
  const end = clock.now() + limitUs;
  let idleTurns = 0;
  while (!done()) {
    clock.runUntil(clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    if (done()) return;
    const next = clock.nextDeadline();
    if (next === undefined || next > end) {
      if (++idleTurns > 50) throw new Error('runUntil: nothing left to run and not done');
      continue;
    }
    idleTurns = 0;
    clock.runUntil(next);
  }
}

/** Gauges that must read zero once every connection of a test has ended. */
export function leftovers(stack: UtcpStack): Record<string, number> {
  const { gauges } = stack.stats();
  return {
    connections: gauges.connections,
    portsInUse: gauges.portsInUse - gauges.listeners,
    framesHeld: gauges.framesHeld,
    reassemblyDatagrams: gauges.reassemblyDatagrams,
    sockets: gauges.sockets,
  };
}

export const NOTHING_LEFT = {
  connections: 0,
  portsInUse: 0,
  framesHeld: 0,
  reassemblyDatagrams: 0,
  sockets: 0,
};
