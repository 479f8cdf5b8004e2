import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, (await stat(full)).mtimeMs);
  }
  return newest;
}

/**
 * The CLI runs from dist/ (its client and peer are separate Node processes, and Node 20 runs
 * no TypeScript): compiles it unless dist/ is already newer than every source file.
 */
export async function ensureBuilt(): Promise<void> {
  const built = await stat('dist/lib/cli/main.js').then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built > (await newestSource('lib'))) return;
  await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
}
