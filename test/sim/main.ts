// The long simulation: `npm run test:sim -- --seeds N [--from S] [--scale X]`. Runs seeds
// S .. S+N-1 and stops at the first failing seed, printing it with its scenario so that
// `--from <seed> --seeds 1` replays it exactly.

import { Command } from 'commander';
import { runTransfer, scenarioForSeed } from './transfer.js';

const program = new Command()
  .name('test:sim')
  .description('Deterministic simulation of two TCP cores over a seeded impaired network')
  .option('--seeds <n>', 'number of seeds to run', '200')
  .option('--from <seed>', 'first seed', '1')
  .option('--scale <x>', 'multiply transfer sizes by this', '1')
  .parse();

const opts = program.opts<{ seeds: string; from: string; scale: string }>();
const seeds = Number(opts.seeds);
const from = Number(opts.from);
const scale = Number(opts.scale);
if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(from) || !(scale > 0)) {
  console.error('test:sim: --seeds and --from take integers, --scale a positive number');
  process.exit(2);
}

const started = Date.now();
let segments = 0;
let retransmissions = 0;
for (let seed = from; seed < from + seeds; seed++) {
  const scenario = scenarioForSeed(seed, scale);
  let failure: string | null;
  try {
    const result = runTransfer(scenario);
    failure = result.failure;
    segments += result.segments;
    retransmissions += result.retransmissions;
  } catch (err) {
    failure = `threw: ${(err as Error).stack ?? String(err)}`;
  }
  if (failure !== null) {
    console.log(`FAIL seed ${seed}: ${failure}`);
    console.log(`scenario: ${JSON.stringify(scenario)}`);
    console.log(`replay: npm run test:sim -- --from ${seed} --seeds 1 --scale ${scale}`);
    process.exit(1);
  }
  if ((seed - from + 1) % 100 === 0) {
    console.log(
      `${seed - from + 1} seeds passed (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
}
console.log(
  `all ${seeds} seeds passed (${from}..${from + seeds - 1}): ${segments} segments, ` +
    `${retransmissions} retransmissions, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
