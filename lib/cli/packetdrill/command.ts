// `utcp packetdrill [--json FILE] [--profile freebsd|default] PATH...`: runs packetdrill
// scripts (files, or folders searched recursively for *.pkt) against the core and prints one
// verdict per script and a summary. Failing scripts are data: the exit code is 0 unless the
// runner itself cannot work: 2 when no script is found or a path cannot be read, 1 for bad
// arguments (commander's own code).

import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { createCoreHost } from './core-host.js';
import { type ProfileName, profile } from './profile.js';
import { type RunResult, runScript } from './runner.js';

export interface FileResult extends RunResult {
  file: string;
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  results: FileResult[];
}

/** Every *.pkt under the given files and folders, in a stable order. */
export function collectScripts(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        const child = join(path, name);
        if (statSync(child).isDirectory() || name.endsWith('.pkt')) walk(child);
      }
    } else out.push(path);
  };
  for (const path of paths) walk(path);
  return out;
}

export function runFiles(files: readonly string[], profileName: ProfileName): Summary {
  const p = profile(profileName);
  const summary: Summary = { passed: 0, failed: 0, skipped: 0, results: [] };
  for (const file of files) {
    const result = runScript(readFileSync(file, 'utf8'), p, createCoreHost);
    summary.results.push({ file, ...result });
    if (result.status === 'PASS') summary.passed++;
    else if (result.status === 'FAIL') summary.failed++;
    else summary.skipped++;
  }
  return summary;
}

export function summaryLine(s: Summary): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`;
}

export function formatResult(r: FileResult): string {
  if (r.status === 'PASS') return `PASS ${r.file}`;
  if (r.status === 'SKIP') return `SKIP ${r.file} (${r.reason})`;
  let out = `FAIL ${r.file}:${r.line ?? '?'} ${r.reason}`;
  if (r.expected !== undefined) out += `\n  expected: ${r.expected}`;
  if (r.actual !== undefined) out += `\n  actual:   ${r.actual}`;
  return out;
}

function jsonReason(r: FileResult): string | null {
  if (r.reason === undefined) return null;
  if (r.expected === undefined && r.actual === undefined) return r.reason;
  return `${r.reason} (expected ${r.expected ?? '?'}; actual ${r.actual ?? '?'})`;
}

function parseProfile(value: string): ProfileName {
  if (value !== 'freebsd' && value !== 'default') {
    throw new InvalidArgumentError('expected freebsd or default');
  }
  return value;
}

export function registerPacketdrill(program: Command): void {
  program
    .command('packetdrill')
    .description('run packetdrill scripts against the TCP core on a virtual clock')
    .argument('<paths...>', 'script files or folders (searched recursively for *.pkt)')
    .option('--json <file>', 'also write the results as JSON to FILE')
    .option('--profile <name>', 'host profile: freebsd or default', parseProfile, 'freebsd')
    .action((paths: string[], options: { json?: string; profile: ProfileName }) => {
      let files: string[];
      try {
        files = collectScripts(paths);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
        const path = (e as NodeJS.ErrnoException).path ?? paths.join(' ');
        process.stderr.write(`utcp packetdrill: cannot read ${path}: ${code}\n`);
        process.exitCode = 2;
        return;
      }
      if (files.length === 0) {
        process.stderr.write('utcp packetdrill: no *.pkt script found\n');
        process.exitCode = 2;
        return;
      }
      const summary = runFiles(files, options.profile);
      for (const r of summary.results) process.stdout.write(formatResult(r) + '\n');
      process.stdout.write(summaryLine(summary) + '\n');
      if (options.json !== undefined) {
        const json = {
          passed: summary.passed,
          failed: summary.failed,
          skipped: summary.skipped,
          results: summary.results.map((r) => ({
            file: r.file,
            status: r.status,
            line: r.line ?? null,
            reason: jsonReason(r),
          })),
        };
        try {
          writeFileSync(options.json, JSON.stringify(json, null, 2) + '\n');
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
          process.stderr.write(`utcp packetdrill: cannot write ${options.json}: ${code}\n`);
          process.exitCode = 2;
        }
      }
    });
}
