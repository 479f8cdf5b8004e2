import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStack } from '../../lib/api/stack.js';
import { VirtualClock } from '../../lib/link/clock.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import { readPcap } from '../../lib/link/pcap-reader.js';
import { runUntil } from './harness.js';

describe('pcap capture', () => {
  it('records every frame in and out of a stack', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'utcp-pcap-'));
    const file = path.join(dir, 'a.pcap');
    const clock = new VirtualClock(5_000_000);
    const [linkA, linkB] = createMemoryLinkPair({ clock });
    const a = createStack({ link: linkA, clock, address: '198.18.0.1', prefix: 24, pcap: file });
    const b = createStack({ link: linkB, clock, address: '198.18.0.2', prefix: 24 });
    let rtt: number | undefined;
    void a.ping('198.18.0.2').then((value) => (rtt = value));
    await runUntil(clock, () => rtt !== undefined);
    await a.close();
    await b.close();

    const capture = readPcap(readFileSync(file));
    expect(capture.error).toBeUndefined();
    const ethertypes = capture.records.map((r) => (r.data[12] << 8) | r.data[13]);
    const icmpTypes = capture.records
      .filter((r) => r.data[12] === 8 && r.data[13] === 0 && r.data[23] === 1)
      .map((r) => r.data[34]);
    // A's gratuitous ARP, B's, A's request for B, B's reply, then the echo and its reply.
    expect(ethertypes.filter((t) => t === 0x0806).length).toBeGreaterThanOrEqual(3);
    expect(icmpTypes).toEqual([8, 0]);
    expect(capture.records[0].timeUs).toBeGreaterThanOrEqual(5_000_000);
    rmSync(dir, { recursive: true });
  });
});
