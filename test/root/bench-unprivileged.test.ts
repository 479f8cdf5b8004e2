import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureBuilt } from '../bench/build.js';
import { describeNeeding } from '../helpers/needs.js';

const run = promisify(execFile);
const SETPRIV = { command: 'setpriv', debianPackage: 'util-linux' };
// Runs as the user nobody, with no capability left.
const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];

describeNeeding(['root', SETPRIV], 'utcp bench without privileges', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 60_000);

  it('names the missing capabilities and offers --link memory', async () => {
    const failure = await run('setpriv', [
      ...AS_NOBODY,
      'node',
      'dist/lib/cli/main.js',
      'bench',
    ]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(77);
    expect(failure?.stderr).toMatch(/EPERM/);
    expect(failure?.stderr).toMatch(/CAP_NET_ADMIN/);
    expect(failure?.stderr).toMatch(/CAP_BPF/);
    expect(failure?.stderr).toMatch(/--link memory/);
  });

  it('runs --link memory, labelled as no comparison with the kernel', async () => {
    const { stdout } = await run('setpriv', [
      ...AS_NOBODY,
      'node',
      'dist/lib/cli/main.js',
      'bench',
      '--link',
      'memory',
      '--only',
      'latency',
      '-d',
      '0.3',
    ]);
    expect(stdout).toMatch(/no comparison with the kernel/);
    expect(stdout).toMatch(/ping-pong 1 B p50 µs\s+\d/);
  });
});
