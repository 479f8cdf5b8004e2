import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { ACK, FIN, RST, Rig, data, handshake } from './raw-peer.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

async function serverSocket(tcp: Record<string, number | boolean> = {}, synOptions: number[] = []) {
  const r = (rig = new Rig(tcp));
  const sockets: Socket[] = [];
  const errors: unknown[] = [];
  r.stack
    .createServer((socket) => {
      sockets.push(socket);
      socket.on('error', (e) => errors.push(e));
      socket.resume();
    })
    .listen(80);
  await r.settle();
  const open = handshake(r, 80, 40000, synOptions);
  await r.settle();
  return { r, open, socket: sockets[0], errors };
}

async function until(r: Rig, done: () => boolean, seconds = 600): Promise<void> {
  for (let i = 0; i < seconds && !done(); i++) await r.settle(200_000);
}

function clean(r: Rig): number[] {
  const g = r.stack.stats().gauges;
  return [g.connections, g.timers, g.sockets, g.bytesBuffered];
}

describe('hostile: a peer that goes silent', () => {
  it('unacknowledged data times out with ETIMEDOUT and leaves nothing', async () => {
    const { r, socket, errors } = await serverSocket();
    socket.write(Buffer.alloc(5000, 1));
    await until(r, () => errors.length > 0);
    expect(errors.map(codeOf)).toEqual(['ETIMEDOUT']);
    await until(r, () => clean(r).every((n) => n === 0));
    expect(clean(r)).toEqual([0, 0, 0, 0]);
  });

  it('FIN_WAIT_2 with a peer that never closes ends on its timer once closed', async () => {
    const { r, open, socket } = await serverSocket();
    socket.end();
    await r.settle();
    const fin = r.seen.find((s) => (s.header.flags & FIN) !== 0);
    expect(fin).toBeDefined();
    r.send({ ...data(open, open.sndNxt, ''), flags: ACK, ack: (fin!.header.seq + 1) >>> 0 });
    // Half-closed, the socket may wait for the peer for ever (as node:net does); once the
    // application lets go, the FIN_WAIT_2 timer must end it.
    expect(r.stack.stats().gauges.connectionsByState.FIN_WAIT_2).toBe(1);
    socket.destroy();
    await until(r, () => clean(r).every((n) => n === 0));
    expect(clean(r)).toEqual([0, 0, 0, 0]);
  });

  it('LAST_ACK with a peer that never acknowledges our FIN ends, and leaves nothing', async () => {
    const { r, open, socket } = await serverSocket({}, []);
    r.send(data(open, open.sndNxt, '', ACK | FIN));
    await r.settle();
    socket.end();
    await until(r, () => clean(r).every((n) => n === 0));
    expect(clean(r)).toEqual([0, 0, 0, 0]);
  });

  it('an exact RST carrying an old timestamp is still accepted (RFC 7323 5.3)', async () => {
    const ts = (v: number) => [1, 1, 8, 10, 0, 0, (v >> 8) & 255, v & 255, 0, 0, 0, 0];
    const { r, open, errors } = await serverSocket({}, ts(5000));
    r.send({ ...data(open, open.sndNxt, 'x'), options: ts(6000) });
    r.send({
      srcPort: open.peerPort,
      dstPort: 80,
      seq: open.sndNxt + 1,
      flags: RST,
      options: ts(1),
    });
    await r.settle();
    expect(errors.map(codeOf)).toEqual(['ECONNRESET']);
  });
});
