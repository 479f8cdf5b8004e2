/**
 * `npm run bench`: runs the microbenchmarks `bench:wire`, `bench:core` and `bench:link`, each
 * with `--json FILE`, and gathers their figures in bench/results.json. A benchmark that is
 * missing or fails is recorded as null, with the reason under `missing`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NAMES = ['wire', 'core', 'link'] as const;

// dist/bench/run.js when built; the package root is two levels up from there.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function one(name: string, scripts: Record<string, string>, dir: string) {
  const script = `bench:${name}`;
  if (!(script in scripts)) return { figures: null, reason: `no npm script ${script}` };
  const file = path.join(dir, `${name}.json`);
  process.stderr.write(`npm run ${script} -- --json ${file}\n`);
  try {
    await run('npm', ['run', '-s', script, '--', '--json', file], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { code, stderr } = error as { code?: number | string; stderr?: string };
    const tail = (stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    return { figures: null, reason: `${script} failed (exit ${String(code)}): ${tail}` };
  }
  try {
    return { figures: JSON.parse(await readFile(file, 'utf8')) as unknown, reason: null };
  } catch (error) {
    return { figures: null, reason: `${script} wrote no JSON: ${(error as Error).message}` };
  }
}

const { scripts = {} } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
  scripts?: Record<string, string>;
};
const dir = await mkdtemp(path.join(os.tmpdir(), 'utcp-bench-'));
const results: Record<string, unknown> = {};
const missing: Record<string, string> = {};
try {
  for (const name of NAMES) {
    const { figures, reason } = await one(name, scripts, dir);
    results[name] = figures;
    if (reason !== null) {
      missing[name] = reason;
      process.stderr.write(`${name}: null (${reason})\n`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const document = {
  ...results,
  missing,
  env: {
    kernel: os.release(),
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    node: process.version,
    date: new Date().toISOString(),
  },
};
const out = path.join(root, 'bench', 'results.json');
await writeFile(out, JSON.stringify(document, null, 2) + '\n');
process.stderr.write(`wrote ${out}\n`);
