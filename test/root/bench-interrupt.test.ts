import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { describeNeeding, ETHTOOL, IP } from '../helpers/needs.js';

const run = promisify(execFile);
const TASKSET = { command: 'taskset', debianPackage: 'util-linux' };

describeNeeding(['root', IP, ETHTOOL, TASKSET], 'utcp bench interrupted', () => {
  beforeAll(async () => {
    await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
  }, 60_000);

  it('Ctrl-C tears the lab down and stops the peer and the client', async () => {
    const bench = spawn('node', ['dist/lib/cli/main.js', 'bench', '-d', '10'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    bench.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const exited = new Promise<number | null>((resolve) => bench.on('exit', resolve));

    // Wait until the lab exists and a workload is running, then interrupt it.
    const prefix = `utcp-${bench.pid}-`;
    for (let i = 0; i < 100; i++) {
      const { stdout } = await run('ip', ['netns', 'list']);
      const { stdout: pids } = await run('sh', ['-c', `pgrep -f 'bench/runner.js' || true`]);
      if (stdout.includes(prefix) && pids.trim() !== '') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    bench.kill('SIGINT');

    expect(await exited).toBe(130);
    expect(stderr).toContain('tearing the lab down');
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).not.toContain(prefix);
    const { stdout: left } = await run('sh', ['-c', `pgrep -f 'bench/(runner|peer).js' || true`]);
    expect(left.trim()).toBe('');
  });
});
