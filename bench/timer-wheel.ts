/**
 * Timer wheel microbenchmark, in the pattern the stack drives it: every segment restarts one
 * connection's deadline, every burst of 32 segments reads the earliest deadline to arm the
 * wake-up. Prints CPU ns per burst (32 reschedules and one `nextDeadline`) for 10k timers.
 *
 *   npm run bench:timers -- [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TimerWheel } from '../lib/stack/timer-wheel.js';

const { values } = parseArgs({ options: { json: { type: 'string' } } });

const TIMERS = 10_000;
const BURST = 32;
const BURSTS = 100_000;

interface Scenario {
  name: string;
  /** Its key in the JSON figures. */
  key: string;
  /** Which id the segment number `n` restarts. */
  pick: (n: number) => number;
  /** The deadline it gets, µs after now. */
  delay: (id: number) => number;
}

const scenarios: Scenario[] = [
  {
    // Bulk transfer on every connection in turn: the restarted deadline is always the earliest.
    name: 'retransmission deadlines 200 ms out, round robin',
    key: 'rto_round_robin_ns_per_segment',
    pick: (n) => n % TIMERS,
    delay: () => 200_000,
  },
  {
    // One busy connection among idle ones whose keepalive lies hours ahead.
    name: 'one busy connection, 9999 keepalives 2 h out',
    key: 'one_busy_ns_per_segment',
    pick: () => 0,
    delay: (id) => (id === 0 ? 200_000 : 7_200_000_000),
  },
  {
    // Every deadline more than a turn of the wheel ahead.
    name: 'keepalives 2 h out, round robin',
    key: 'keepalives_round_robin_ns_per_segment',
    pick: (n) => n % TIMERS,
    delay: () => 7_200_000_000,
  },
];

let sink = 0;
const figures: Record<string, number> = {};
for (const scenario of scenarios) {
  const wheel = new TimerWheel({ capacity: TIMERS });
  let now = 0;
  for (let id = 0; id < TIMERS; id++) wheel.schedule(id, now + scenario.delay(id) + id);
  let n = 0;
  const run = (bursts: number): void => {
    for (let b = 0; b < bursts; b++) {
      for (let s = 0; s < BURST; s++, n++) {
        now += 1;
        const id = scenario.pick(n);
        wheel.schedule(id, now + scenario.delay(id));
      }
      sink += wheel.nextDeadline();
    }
  };
  run(BURSTS / 10);
  const cpu = process.cpuUsage();
  run(BURSTS);
  const used = process.cpuUsage(cpu);
  const ns = ((used.user + used.system) * 1000) / BURSTS;
  console.log(`${scenario.name}: ${ns.toFixed(0)} ns/burst, ${(ns / BURST).toFixed(1)} ns/segment`);
  figures[scenario.key] = ns / BURST;
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(figures, null, 2) + '\n');
if (sink === -1) console.log(sink);
