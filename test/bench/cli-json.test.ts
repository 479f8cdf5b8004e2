import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureBuilt } from './build.js';

const run = promisify(execFile);

beforeAll(ensureBuilt, 120_000);

// `--json -` is for pipelines: the figures alone on stdout, the table and progress on stderr.
it('utcp bench --json - writes the JSON document to stdout and the table to stderr', async () => {
  const { stdout, stderr } = await run(
    process.execPath,
    [
      'dist/lib/cli/main.js',
      'bench',
      '--link',
      'memory',
      '-d',
      '0.3',
      '--only',
      'crr',
      '--json',
      '-',
    ],
    { timeout: 60_000 },
  );
  const document = JSON.parse(stdout) as { utcp: { crr_per_s: number | null } };
  expect(document.utcp.crr_per_s).toBeGreaterThan(0);
  expect(stderr).toContain('connections/s');
}, 90_000);
