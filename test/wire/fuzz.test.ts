import { describe, expect, it } from 'vitest';
import { WIRE_DROP_REASONS } from '../../lib/wire/reasons.js';
import { fuzzWire } from './fuzz.js';

// `npm run fuzz:wire` sets FUZZ_FRAMES to a million; the default keeps `npm test` quick.
const frames = Number(process.env.FUZZ_FRAMES ?? 50_000);

describe('fuzzing every wire parser', () => {
  it(`survives ${frames} random and mutated frames`, { timeout: 30 * 60_000 }, () => {
    const result = fuzzWire(frames, Number(process.env.FUZZ_SEED ?? 0x5eed));
    if (process.env.FUZZ_FRAMES !== undefined) {
      const perReason = [...result.reasons].map(([r, n]) => `${r} ${n}`).join(', ');
      console.log(
        `fuzz: ${result.frames} frames, ${result.parserCalls} parser calls, ` +
          `${result.accepted} accepted, ${Math.round(result.milliseconds)} ms; ${perReason}`,
      );
    }
    expect(result.frames).toBe(frames);
    expect(result.accepted).toBeGreaterThan(0);
    // Every check is reached: a fuzzer that never trips one proves nothing about it.
    for (const reason of WIRE_DROP_REASONS) {
      expect(result.reasons.get(reason) ?? 0, reason).toBeGreaterThan(0);
    }
  });
});
