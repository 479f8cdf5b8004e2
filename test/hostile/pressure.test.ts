import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { ACK, FIN, RST, Rig, SYN, data, handshake, tcpBytes } from './raw-peer.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Bytes the peer sends, a pattern that shows any shift, loss or duplication. */
function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + (i >> 8)) & 255);
}

async function pausedServer(tcp: Record<string, number | boolean> = {}) {
  const r = (rig = new Rig(tcp));
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const errors: unknown[] = [];
  r.stack
    .createServer((socket) => {
      socket.pause();
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', (error) => errors.push(error));
    })
    .listen(80);
  await r.settle();
  const open = handshake(r, 80);
  await r.settle();
  return { r, open, sockets, errors, got: () => Buffer.concat(received) };
}

describe('hostile: a peer that ignores flow control', () => {
  it('data past the offered window is dropped by name; retransmitted, it all arrives', async () => {
    const { r, open, sockets, got } = await pausedServer({ receiveBuffer: 16384 });
    const stream = pattern(200_000);
    const before = r.stack.stats().tcp.tcpInSegs;
    for (let at = 0; at < stream.length; at += 1000) {
      r.peer.send(
        r.peer.ipv4(
          r.stackMac,
          [198, 18, 0, 2],
          6,
          tcpBytes(data(open, open.sndNxt + at, stream.subarray(at, at + 1000))),
        ),
      );
      if (at % 16_000 === 0) r.step(20);
    }
    await r.settle();
    const stats = r.stack.stats();
    expect(stats.tcp.tcpInSegs - before).toBe(200);
    expect(stats.gauges.bytesBuffered).toBeLessThan(200_000);
    const dropped =
      (stats.drops['tcp-out-of-window'] ?? 0) + (stats.drops['tcp-receive-buffer-full'] ?? 0);
    expect(dropped).toBeGreaterThan(0);

    // Now behave: read, and resend from what the stack acknowledged, within its window.
    sockets[0].resume();
    for (let round = 0; round < 400 && got().length < stream.length; round++) {
      await r.settle(1000);
      const last = r.seen.at(-1);
      if (last === undefined) continue;
      const acked = (last.header.ack - open.sndNxt) >>> 0;
      const window = Math.min(last.header.window, 4000);
      for (let at = acked; at < Math.min(acked + window, stream.length); at += 1000) {
        const end = Math.min(at + 1000, acked + window, stream.length);
        r.send(data(open, open.sndNxt + at, stream.subarray(at, end)));
      }
    }
    expect(got().length).toBe(stream.length);
    expect(got().equals(Buffer.from(stream))).toBe(true);
  });

  it('a storm of 1-byte out-of-order segments stays under the reassembly bound', async () => {
    const { r, open, sockets, got } = await pausedServer();
    const stream = pattern(40_000);
    // Every other byte, highest first: the worst case for a reassembly queue.
    for (let at = stream.length - 1; at >= 1; at -= 2) {
      r.peer.send(
        r.peer.ipv4(
          r.stackMac,
          [198, 18, 0, 2],
          6,
          tcpBytes(data(open, open.sndNxt + at, stream.subarray(at, at + 1))),
        ),
      );
      if (at % 64 === 1) r.step(10);
    }
    await r.settle();
    const stats = r.stack.stats();
    expect(stats.gauges.bytesBuffered).toBeLessThan(4 << 20);
    expect(stats.gauges.connections).toBe(1);
    // Then a correct peer sends everything in order: the stream comes out exact.
    sockets[0].resume();
    for (let at = 0; at < stream.length; at += 1000) {
      r.send(data(open, open.sndNxt + at, stream.subarray(at, at + 1000)));
      if (at % 8000 === 0) await r.settle(10);
    }
    await r.settle();
    expect(got().equals(Buffer.from(stream))).toBe(true);
  });
});

describe('hostile: handshake abuse', () => {
  it('a RST for a half-open connection frees it (no leak in the SYN queue)', async () => {
    const r = (rig = new Rig());
    r.stack.createServer(() => {}).listen(80);
    await r.settle();
    for (let i = 0; i < 20; i++) {
      const synAck = r
        .send({ srcPort: 20000 + i, dstPort: 80, seq: 5000, flags: SYN })
        .find((s) => s.header.flags === (SYN | ACK));
      expect(synAck).toBeDefined();
      r.send({ srcPort: 20000 + i, dstPort: 80, seq: 5001, flags: RST });
    }
    await r.settle();
    const gauges = r.stack.stats().gauges;
    expect(gauges.connections).toBe(0);
    expect(gauges.timers).toBe(0);
  });

  it('data on a SYN, then the SYN again with other data, delivers the first copy once', async () => {
    const r = (rig = new Rig());
    const received: Buffer[] = [];
    r.stack.createServer((socket) => socket.on('data', (c: Buffer) => received.push(c))).listen(80);
    await r.settle();
    const enc = (s: string) => new TextEncoder().encode(s);
    const replies = r.send({
      srcPort: 30000,
      dstPort: 80,
      seq: 100,
      flags: SYN,
      payload: enc('hi'),
    });
    const synAck = replies.find((s) => s.header.flags === (SYN | ACK));
    expect(synAck).toBeDefined();
    r.send({ srcPort: 30000, dstPort: 80, seq: 100, flags: SYN, payload: enc('XY') });
    const ack = ((synAck?.header.seq ?? 0) + 1) >>> 0;
    const acked = synAck?.header.ack === 103 ? 103 : 101;
    r.send({
      srcPort: 30000,
      dstPort: 80,
      seq: acked,
      ack,
      flags: ACK,
      payload: enc(acked === 101 ? 'hi!' : '!'),
    });
    await r.settle();
    expect(Buffer.concat(received).toString()).toBe('hi!');
  });

  it('an ACK to a listener gets a RST, a SYN+FIN or SYN+RST does not open', async () => {
    const r = (rig = new Rig());
    r.stack.createServer(() => {}).listen(80);
    await r.settle();
    const rst = r.send({ srcPort: 1, dstPort: 80, seq: 1, ack: 777, flags: ACK });
    expect(rst.some((s) => (s.header.flags & RST) !== 0 && s.header.seq === 777)).toBe(true);
    r.send({ srcPort: 2, dstPort: 80, seq: 1, flags: SYN | RST });
    r.send({ srcPort: 3, dstPort: 80, seq: 1, flags: SYN | FIN });
    await r.settle();
    expect(r.stack.stats().gauges.connectionsByState.ESTABLISHED ?? 0).toBe(0);
    const drops = r.drops();
    expect(drops['tcp-listen-ack']).toBe(1);
  });

  it('RST in TIME_WAIT is ignored (RFC 1337) and the connection ends on its timer', async () => {
    const r = (rig = new Rig());
    let server: Socket | undefined;
    r.stack.createServer((socket) => (server = socket)).listen(80);
    await r.settle();
    const open = handshake(r, 80);
    await r.settle();
    server?.end();
    await r.settle();
    const fin = r.seen.find((s) => (s.header.flags & FIN) !== 0);
    expect(fin).toBeDefined();
    // Peer acknowledges the FIN and sends its own: the stack goes to TIME_WAIT.
    r.send({
      srcPort: open.peerPort,
      dstPort: 80,
      seq: open.sndNxt,
      ack: (fin!.header.seq + 1) >>> 0,
      flags: ACK | FIN,
    });
    await r.settle();
    expect(r.stack.stats().gauges.connectionsByState.TIME_WAIT).toBe(1);
    r.send({ srcPort: open.peerPort, dstPort: 80, seq: open.sndNxt + 1, flags: RST });
    expect(r.stack.stats().gauges.connectionsByState.TIME_WAIT).toBe(1);
    for (let i = 0; i < 10 && r.stack.stats().gauges.connections > 0; i++) {
      await r.settle(1_000_000);
    }
    expect(r.stack.stats().gauges.connections).toBe(0);
    expect(r.stack.stats().gauges.timers).toBe(0);
  });
});

describe('hostile: edges of the sequence space and the frame', () => {
  it('data across the 2^32 wrap arrives exact', async () => {
    const r = (rig = new Rig());
    const received: Buffer[] = [];
    r.stack.createServer((socket) => socket.on('data', (c: Buffer) => received.push(c))).listen(80);
    await r.settle();
    const open = handshake(r, 80, 40000, [], 0xffffffff - 1500);
    await r.settle();
    const stream = pattern(6000);
    for (let at = 0; at < stream.length; at += 1000) {
      r.send(data(open, (open.sndNxt + at) >>> 0, stream.subarray(at, at + 1000)));
    }
    await r.settle();
    expect(Buffer.concat(received).equals(Buffer.from(stream))).toBe(true);
  });

  it('Ethernet padding and bytes past the IP total length never reach the app', async () => {
    const { r, open, sockets, got } = await pausedServer();
    sockets[0].resume();
    const frame = r.peer.ipv4(
      r.stackMac,
      [198, 18, 0, 2],
      6,
      tcpBytes(data(open, open.sndNxt, new TextEncoder().encode('ab'))),
    );
    const padded = new Uint8Array(frame.length + 30).fill(0x5a);
    padded.set(frame);
    r.sendFrame(padded);
    await r.settle();
    expect(got().toString()).toBe('ab');
  });

  it('a window that shrinks to zero mid-flight loses and duplicates nothing', async () => {
    const r = (rig = new Rig());
    let server: Socket | undefined;
    r.stack.createServer((socket) => (server = socket)).listen(80);
    await r.settle();
    const open = handshake(r, 80);
    await r.settle();
    const stream = Buffer.from(pattern(50_000));
    server?.write(stream);
    await r.settle(10);
    // Shrink to zero, acknowledging nothing new, then reopen bit by bit.
    r.send({ ...data(open, open.sndNxt, new Uint8Array(0)), flags: ACK, window: 0 });
    const delivered = new Uint8Array(stream.length);
    const have = new Uint8Array(stream.length);
    let rcvNxt = 0;
    for (let round = 0; round < 300 && rcvNxt < stream.length; round++) {
      await r.settle(round % 10 === 0 ? 1_000_000 : 1000);
      for (const s of r.seen.splice(0)) {
        const at = (s.header.seq - open.rcvNxt) >>> 0;
        for (let i = 0; i < s.payload.length && at + i < stream.length; i++) {
          if (have[at + i] && delivered[at + i] !== s.payload[i]) {
            throw new Error(`byte ${at + i} sent twice with different values`);
          }
          delivered[at + i] = s.payload[i];
          have[at + i] = 1;
        }
      }
      while (rcvNxt < stream.length && have[rcvNxt]) rcvNxt++;
      r.send({
        ...data(open, open.sndNxt, new Uint8Array(0)),
        flags: ACK,
        ack: (open.rcvNxt + rcvNxt) >>> 0,
        window: round % 3 === 0 ? 0 : 3000,
      });
    }
    expect(rcvNxt).toBe(stream.length);
    expect(Buffer.from(delivered).equals(stream)).toBe(true);
  });
});

describe('hostile: closing a listener under a flood', () => {
  it('server.close() with half-open and just-established connections leaves nothing', async () => {
    const r = (rig = new Rig());
    const accepted: Socket[] = [];
    const server = r.stack.createServer((s) => {
      accepted.push(s);
      s.on('error', () => {});
      s.resume();
    });
    server.listen(80, '198.18.0.2', 16);
    await r.settle();
    for (let i = 0; i < 10; i++) r.send({ srcPort: 20000 + i, dstPort: 80, seq: 1, flags: SYN });
    handshake(r, 80, 30000);
    let closed = false;
    server.close(() => (closed = true));
    for (const s of accepted) s.destroy();
    for (let i = 0; i < 20 && r.stack.stats().gauges.connections > 0; i++) {
      await r.settle(1_000_000);
    }
    const g = r.stack.stats().gauges;
    expect([g.connections, g.timers, g.listeners, g.portsInUse]).toEqual([0, 0, 0, 0]);
    await r.settle();
    expect(closed).toBe(true);
  });
});

describe('hostile: blind injection interleaved with a correct stream', () => {
  it('out-of-window junk of every flag and option never changes the bytes delivered', async () => {
    const { r, open, sockets, errors, got } = await pausedServer();
    sockets[0].resume();
    const stream = pattern(30_000);
    let x = 2024;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x % n;
    };
    const optionPool = [
      [1, 1, 1, 1],
      [2, 4, 0, 1],
      [3, 3, 15, 0],
      [4, 2, 0, 0],
      [5, 10, 0, 0, 0, 0, 255, 255, 255, 255],
      [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
      [0, 0, 0, 0],
      [30, 2, 0, 0],
    ];
    for (let at = 0; at < stream.length; at += 1000) {
      for (let k = 0; k < 5; k++) {
        // Blind: a sequence number at least 2^30 away from the window, any flags but SYN+RST
        // combinations a real attacker would try first.
        const seq = (open.sndNxt + at + 0x40000000 + rand(0x40000000)) >>> 0;
        r.peer.send(
          r.peer.ipv4(
            r.stackMac,
            [198, 18, 0, 2],
            6,
            tcpBytes({
              srcPort: open.peerPort,
              dstPort: open.port,
              seq,
              ack: rand(0x100000000),
              flags: rand(256) & ~0xc0,
              window: rand(65536),
              urgent: rand(65536),
              options: optionPool[rand(optionPool.length)],
              payload: pattern(rand(200)).map((b) => b ^ 0xff),
            }),
          ),
        );
      }
      r.send(data(open, open.sndNxt + at, stream.subarray(at, at + 1000)));
    }
    await r.settle();
    expect(errors).toEqual([]);
    expect(got().equals(Buffer.from(stream))).toBe(true);
    expect(r.stack.stats().gauges.connectionsByState.ESTABLISHED).toBe(1);
  });
  it('in-window junk with an impossible ACK (RFC 5961 5.2) never changes the bytes', async () => {
    const { r, open, sockets, errors, got } = await pausedServer();
    sockets[0].resume();
    const stream = pattern(30_000);
    let x = 2024;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x % n;
    };
    const optionPool = [
      [1, 1, 1, 1],
      [2, 4, 0, 1],
      [3, 3, 15, 0],
      [4, 2, 0, 0],
      [5, 10, 0, 0, 0, 0, 255, 255, 255, 255],
      [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
      [0, 0, 0, 0],
      [30, 2, 0, 0],
    ];
    for (let at = 0; at < stream.length; at += 1000) {
      for (let k = 0; k < 5; k++) {
        // In the window but acknowledging data never sent: never RST, always ACK.
        const seq = (open.sndNxt + at + rand(3000)) >>> 0;
        r.peer.send(
          r.peer.ipv4(
            r.stackMac,
            [198, 18, 0, 2],
            6,
            tcpBytes({
              srcPort: open.peerPort,
              dstPort: open.port,
              seq,
              ack: (open.rcvNxt + 0x10000000 + rand(0x60000000)) >>> 0,
              flags: (rand(256) & ~0xc4) | ACK,
              window: rand(65536),
              urgent: rand(65536),
              options: optionPool[rand(optionPool.length)],
              payload: pattern(rand(200)).map((b) => b ^ 0xff),
            }),
          ),
        );
      }
      r.send(data(open, open.sndNxt + at, stream.subarray(at, at + 1000)));
    }
    await r.settle();
    expect(errors).toEqual([]);
    expect(got().equals(Buffer.from(stream))).toBe(true);
    expect(r.stack.stats().gauges.connectionsByState.ESTABLISHED).toBe(1);
  });
});
