import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runBench, type BenchDocument } from '../../lib/cli/bench/command.js';

// `--link memory` needs no privilege: two utcp stacks in this process, and the same checks
// against the peer's counts as in the lab.
it('utcp bench --link memory measures every workload and the peer agrees', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'utcp-bench-memory-'));
  try {
    const file = path.join(dir, 'bench.json');
    const code = await runBench({
      duration: 0.4,
      connections: 2,
      mtu: 1500,
      link: 'memory',
      busyPoll: false,
      json: file,
      html: path.join(dir, 'bench.html'),
    });
    const document = JSON.parse(await readFile(file, 'utf8')) as BenchDocument;
    expect(document.problems).toEqual([]);
    expect(code).toBe(0);
    expect(document.kernel).toBeNull();
    expect(document.env.note).toMatch(/no comparison with the kernel/);
    const utcp = document.utcp!;
    for (const [key, value] of Object.entries(utcp)) {
      expect(value, key).not.toBeNull();
    }
    expect(utcp.crr_errors).toBe(0);
    const send = document.runs.find((r) => r.workload === 'send')!;
    expect(send.peer.sinkBytes).toBe(send.result.bytes);
    expect(send.peer.sinkConnections).toBe(2);

    // The report opens with no network: the chart library is inline, nothing is fetched.
    const html = await readFile(path.join(dir, 'bench.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]*\bsrc=|<link[^>]*\bhref=|url\(\s*['"]?https?:/i);
    expect(html).toContain('new uPlot(');
    expect(html).toContain('var uPlot=function()');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
