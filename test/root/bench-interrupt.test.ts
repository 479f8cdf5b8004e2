import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureBuilt } from '../bench/build.js';
import { describeNeeding, ETHTOOL, IP } from '../helpers/needs.js';

const run = promisify(execFile);
const TASKSET = { command: 'taskset', debianPackage: 'util-linux' };

async function pids(pattern: string): Promise<string> {
  // The bracket keeps pgrep from matching the shell that runs it. Killed processes waiting
  // to be reaped (state Z) are gone for this purpose.
  const { stdout } = await run('sh', ['-c', `pgrep -r R,S,D,T -f '${pattern}' || true`]);
  return stdout.trim();
}

describeNeeding(['root', IP, ETHTOOL, TASKSET], 'utcp bench interrupted', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 60_000);

  it.each([
    ['while the lab is being built', false],
    ['while a workload runs', true],
  ])('Ctrl-C %s tears the lab down and stops every process', async (_, waitForClient) => {
    const bench = spawn('node', ['dist/lib/cli/main.js', 'bench', '-d', '10'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    bench.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const exited = new Promise<number | null>((resolve) => bench.on('exit', resolve));

    const prefix = `utcp-${bench.pid}-`;
    for (let i = 0; i < 200; i++) {
      const { stdout } = await run('ip', ['netns', 'list']);
      const ready =
        stdout.includes(prefix) && (!waitForClient || (await pids('[b]ench/runner.js')));
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (waitForClient) await new Promise((resolve) => setTimeout(resolve, 500));
    bench.kill('SIGINT');

    expect(await exited).toBe(130);
    expect(stderr).toContain('tearing the lab down');
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).not.toContain(prefix);
    expect(await pids('[b]ench/(runner|peer).js')).toBe('');
  });
});
