import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { pair, runUntil, type Pair } from '../api/harness.js';

let current: Pair | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** Runs like `runUntil`, collecting what the stack throws instead of stopping at it. */
async function runCatching(p: Pair, done: () => boolean, thrown: unknown[]): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await runUntil(p.clock, done, 10_000_000);
      return;
    } catch (error) {
      if ((error as Error).message.startsWith('runUntil')) throw error;
      thrown.push(error);
    }
  }
}

describe('hostile: user callbacks that throw', () => {
  it('an exception from a connection listener surfaces and leaves the stack working', async () => {
    const p = (current = pair());
    const boom = new Error('boom');
    let thrownOnce = false;
    const accepted: Socket[] = [];
    p.b
      .createServer((s) => {
        s.resume();
        accepted.push(s);
        if (!thrownOnce) {
          thrownOnce = true;
          throw boom;
        }
      })
      .listen(80);
    const thrown: unknown[] = [];
    const first = p.a.connect({ host: '198.18.0.2', port: 80 });
    let firstConnected = false;
    first.on('connect', () => (firstConnected = true));
    await runCatching(p, () => firstConnected && accepted.length === 1, thrown);
    expect(thrown).toEqual([boom]);
    expect(p.b.stack.inBurst).toBe(false);

    // The stack still reads frames and runs its timers: data flows and a new connection opens.
    const second = p.a.connect({ host: '198.18.0.2', port: 80 });
    const received: Buffer[] = [];
    accepted[0].on('data', (chunk: Buffer) => received.push(chunk));
    first.write('after the throw');
    await runCatching(p, () => accepted.length === 2 && received.length > 0, thrown);
    expect(thrown).toEqual([boom]);
    expect(Buffer.concat(received).toString()).toBe('after the throw');
    second.destroy();
    first.destroy();
  });
});
