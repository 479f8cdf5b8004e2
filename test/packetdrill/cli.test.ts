import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerPacketdrill } from '../../lib/cli/packetdrill/command.js';
import { fixtures } from './suite.js';

async function utcp(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerPacketdrill(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'utcp', 'packetdrill', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('utcp packetdrill', () => {
  const dir = mkdtempSync(join(tmpdir(), 'utcp-pd-'));
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('prints one verdict per script, the summary line, and the JSON file', async () => {
    const json = join(dir, 'out.json');
    const out = await utcp(['--json', json, fixtures]);
    const lines = out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('PASS '))).toHaveLength(2);
    expect(lines.at(-1)).toBe('2 passed, 0 failed, 0 skipped');
    const written = JSON.parse(readFileSync(json, 'utf8'));
    expect(written).toMatchObject({ passed: 2, failed: 0, skipped: 0 });
    expect(written.results[0]).toEqual({
      file: join(fixtures, 'active-open-data-close.pkt'),
      status: 'PASS',
      line: null,
      reason: null,
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits with 2 when a path cannot be read', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await utcp([join(fixtures, 'no-such-script.pkt')]);
    err.mockRestore();
    expect(process.exitCode).toBe(2);
  });
});
