// The README's example, as written there, on the real clock: it must keep working.
import { describe, expect, it } from 'vitest';
import { createMemoryLinkPair, createStack, RealClock } from '../../lib/index.js';

describe('README example', () => {
  it('echoes hello between two stacks over the in-memory link', async () => {
    const clock = new RealClock();
    const [linkA, linkB] = createMemoryLinkPair({ clock });
    const a = createStack({ link: linkA, address: '198.18.0.1', prefix: 24, clock });
    const b = createStack({ link: linkB, address: '198.18.0.2', prefix: 24, clock });

    b.createServer((socket) => socket.pipe(socket)).listen(7);
    const socket = a.connect({ host: '198.18.0.2', port: 7 }, () => socket.end('hello'));
    const received: Buffer[] = [];
    socket.on('data', (data: Buffer) => received.push(data));
    await new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(Buffer.concat(received).toString()).toBe('hello');

    await a.close();
    await b.close();
  });
});
