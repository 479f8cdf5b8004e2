import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { summarizeProfile } from '../../lib/cli/bench/profile.js';

it('adds up self time per function from a V8 profile, idle left out', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'utcp-profile-'));
  try {
    const frame = (functionName: string, lineNumber = 0) => ({
      functionName,
      url: 'file:///x/node_modules/pkg/dist/a.js',
      lineNumber,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('hot', 9) },
        { id: 3, callFrame: frame('cold', 19) },
      ],
      // Each sample's time is the delta to the next one.
      samples: [2, 3, 2, 1, 2],
      timeDeltas: [0, 3000, 1000, 3000, 5000],
    };
    const file = path.join(dir, 'p.cpuprofile');
    await writeFile(file, JSON.stringify(profile));
    const summary = await summarizeProfile(file);
    expect(summary.busyMs).toBe(7);
    expect(summary.top).toEqual([
      { where: 'hot pkg/dist/a.js:10', selfMs: 6, pct: 85.7 },
      { where: 'cold pkg/dist/a.js:20', selfMs: 1, pct: 14.3 },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
