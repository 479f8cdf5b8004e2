import { afterEach, describe, expect, it } from 'vitest';
import { Rig, SYN } from './raw-peer.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('hostile: memory an unauthenticated peer can make the stack hold', () => {
  it.fails('a half-open connection (one spoofed SYN) holds no full-size buffers', async () => {
    // Bug: lib/tcp/connection.ts:197-198 allocate the whole send and receive buffers when
    // the SYN arrives. With 4 MiB buffers, 60 spoofed SYNs pin 480 MiB; a full backlog of
    // them can exhaust the heap. Allocating on establishment (or growing on demand) bounds
    // what a SYN flood can cost to the SYN queue's own entries.
    const r = (rig = new Rig({ receiveBuffer: 4 << 20, sendBuffer: 4 << 20 }));
    r.stack.createServer(() => {}).listen(80, '198.18.0.2', 64);
    await r.settle();
    for (let i = 0; i < 60; i++) r.send({ srcPort: 1000 + i, dstPort: 80, seq: 1, flags: SYN });
    const gauges = r.stack.stats().gauges;
    expect(gauges.connectionsByState.SYN_RECEIVED).toBe(60);
    expect(gauges.bytesBuffered).toBeLessThan(60 * 64 * 1024);
  });

  it('a buffer size too large to allocate is refused up front, with a code', async () => {
    // Bug: lib/tcp/params.ts:228-233 only check that buffer sizes are positive integers.
    // receiveBuffer 2^34 is accepted, and the first SYN makes the receive path throw a
    // RangeError out of the stack's link callback (an uncaught exception in a real process).
    let created: Rig | undefined;
    let error: unknown;
    try {
      created = rig = new Rig({ receiveBuffer: 2 ** 34 });
    } catch (e) {
      error = e;
    }
    if (created !== undefined) {
      created.stack.createServer(() => {}).listen(80);
      await created.settle();
      expect(() => created!.send({ srcPort: 1, dstPort: 80, seq: 1, flags: SYN })).not.toThrow();
      return;
    }
    expect((error as { code?: unknown }).code).toBeTypeOf('string');
  });
});
