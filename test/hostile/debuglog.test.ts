import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs the child under NODE_DEBUG=utcp: its stdout is the drop counters, stderr the log. */
function runChild(): Promise<{ drops: Record<string, number>; log: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'test/hostile/debuglog-child.ts'],
      { env: { ...process.env, NODE_DEBUG: 'utcp' }, timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve({ drops: JSON.parse(stdout.trim()), log: stderr });
      },
    );
  });
}

describe('hostile: every counted drop is logged at debug level', () => {
  it('each drop reason counted after a mix of bad input has a log line', async () => {
    const { drops, log } = await runChild();
    const counted = Object.entries(drops).filter(([, n]) => n > 0);
    expect(counted.length).toBeGreaterThan(15);
    for (const [reason, count] of counted) {
      let needle: string;
      if (reason.startsWith('tcp-')) needle = `tcp drop ${reason.slice(4)}`;
      else if (reason.startsWith('link-')) needle = `dropped a frame: ${reason.slice(5)}`;
      else needle = `drop ${reason}`;
      const lines = log.split('\n').filter((line) => line.includes(needle)).length;
      expect(lines, reason).toBe(count);
    }
  });
});
