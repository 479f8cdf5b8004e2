/**
 * `npm run bench`: runs the microbenchmarks `bench:wire`, `bench:core`, `bench:link`,
 * `bench:timers` and `bench:relay`, each with `--json FILE` (or `--json` printing to stdout),
 * and gathers their figures in bench/results.json. A benchmark that is missing or fails is
 * recorded as null, with the reason under `missing`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NAMES = ['wire', 'core', 'link', 'timers', 'relay'] as const;

// dist/bench/run.js when built; the package root is two levels up from there.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

type Outcome = { figures: unknown; reason: string | null };

async function npmRun(script: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', ['run', '-s', script, '--', ...args], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

function failure(script: string, error: unknown): string {
  const { code, stderr } = error as { code?: number | string; stderr?: string };
  const tail = (stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return `${script} failed (exit ${String(code)}): ${tail}`;
}

/** The last line of `text` that parses as a JSON object, if any. */
function lastJson(text: string): unknown {
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null) return value;
    } catch {
      // Not JSON; keep looking.
    }
  }
  return undefined;
}

/**
 * Runs `bench:NAME -- --json FILE`; a benchmark that takes `--json` as a flag and prints its
 * JSON on stdout instead is run again that way.
 */
async function one(name: string, scripts: Record<string, string>, dir: string): Promise<Outcome> {
  const script = `bench:${name}`;
  if (!(script in scripts)) return { figures: null, reason: `no npm script ${script}` };
  const file = path.join(dir, `${name}.json`);
  process.stderr.write(`npm run ${script} -- --json ${file}\n`);
  let first: string;
  try {
    await npmRun(script, ['--json', file]);
    return { figures: JSON.parse(await readFile(file, 'utf8')) as unknown, reason: null };
  } catch (error) {
    first = (error as { stderr?: unknown }).stderr !== undefined ? failure(script, error) : '';
    first ||= `${script} wrote no JSON to ${file}`;
  }
  process.stderr.write(`npm run ${script} -- --json\n`);
  try {
    const figures = lastJson(await npmRun(script, ['--json']));
    if (figures !== undefined) return { figures, reason: null };
    return { figures: null, reason: `${first}; with --json alone it printed no JSON either` };
  } catch (error) {
    return { figures: null, reason: `${first}; with --json alone: ${failure(script, error)}` };
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
