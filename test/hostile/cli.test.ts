import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../bench/build.js';

interface Run {
  code: number;
  out: string;
}

function utcp(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/lib/cli/main.js', ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, out: stdout + stderr });
      },
    );
  });
}

/** A stack trace leaking to the user: V8's frame lines or Node's crash footer. */
const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$|^Node\.js v\d+/m;

const dir = mkdtempSync(join(tmpdir(), 'utcp-hostile-'));
beforeAll(ensureBuilt, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string | Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
}

describe('hostile: utcp packetdrill', () => {
  it('reports malformed, binary, empty and missing scripts without a stack trace', async () => {
    const noise = Uint8Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) >>> 24);
    const files = [
      script('garbage.pkt', '\x00\x01garbage\xff\n+0 < S 0:0(0) win\n'),
      script('binary.pkt', noise),
      script('negative.pkt', '-5 < F. 1:1(0) ack 1 win -1\n'),
      script(
        'huge-length.pkt',
        '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(4294967296) win 65535\n',
      ),
      script(
        'bad-options.pkt',
        '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n' +
          '+0 listen(3, 1) = 0\n+0 < S 0:0(0) win 65535 <mss 0,wscale 99,nop,eol>\n' +
          '+0 > S. 0:0(0) ack 1 <...>\n',
      ),
      script('calls.pkt', '0 close(77) = 0\n+0 read(99, ..., 10) = 0\n'),
    ];
    const run = await utcp(['packetdrill', ...files]);
    expect(run.out).not.toMatch(STACK_TRACE);
    expect(run.out).toMatch(/\d+ passed, \d+ failed, \d+ skipped/);
    for (const file of files) expect(run.out).toContain(file);
    const missing = await utcp(['packetdrill', join(dir, 'nope.pkt')]);
    expect(missing.out).not.toMatch(STACK_TRACE);
    expect(missing.code).not.toBe(0);
    const none = await utcp(['packetdrill']);
    expect(none.out).not.toMatch(STACK_TRACE);
    expect(none.code).not.toBe(0);
    const badProfile = await utcp(['packetdrill', '--profile', 'bogus', files[0]]);
    expect(badProfile.code).not.toBe(0);
    expect(badProfile.out).not.toMatch(STACK_TRACE);
  });

  it('--json to an unwritable path reports instead of crashing', async () => {
    // Bug: lib/cli/packetdrill/command.ts:118 writes the JSON file without catching the error;
    // the ENOENT escapes with a stack trace.
    const file = script('ok.pkt', '');
    const run = await utcp(['packetdrill', '--json', join(dir, 'no/such/dir/x.json'), file]);
    expect(run.out).not.toMatch(STACK_TRACE);
    expect(run.code).not.toBe(0);
  });

  it('a bad setsockopt value is refused on its own line, not thrown later', async () => {
    // Bug: SO_RCVBUF -1 is accepted (= 0) and the core throws at listen(), reported as
    // "the core threw" on the listen line rather than setsockopt failing with EINVAL.
    const file = script(
      'rcvbuf.pkt',
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n' +
        '+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [-1], 4) = 0\n' +
        '+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n',
    );
    const run = await utcp(['packetdrill', file]);
    expect(run.out).not.toContain('the core threw');
  });
});

describe('hostile: utcp bench options', () => {
  it('refuses bad options up front with a message and exit code 1', async () => {
    for (const args of [
      ['--duration', 'abc'],
      ['--duration', '-1'],
      ['--connections', '0'],
      ['--link', 'bogus'],
      ['--pin', 'x'],
      ['--only', 'x'],
      ['--frobnicate'],
    ]) {
      const run = await utcp(['bench', ...args]);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.out).toMatch(/^error: /m);
      expect(run.out).not.toMatch(STACK_TRACE);
    }
  });

  it('--json to an unwritable path reports instead of crashing', async () => {
    // Bug: lib/cli/bench/command.ts:309 lets ENOENT escape with a stack
    // trace, after the whole run, so the figures are lost too.
    const run = await utcp([
      'bench',
      '--link',
      'memory',
      '--only',
      'latency',
      '--duration',
      '0.1',
      '--json',
      join(dir, 'no/such/dir/x.json'),
    ]);
    expect(run.out).not.toMatch(STACK_TRACE);
    expect(run.out).toMatch(/cannot write .*x\.json: ENOENT/);
    expect(run.code).toBe(1);
  });
});
