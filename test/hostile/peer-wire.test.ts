import { afterEach, describe, expect, it } from 'vitest';
import {
  ACK,
  FIN,
  Rig,
  STACK_IP,
  data,
  establishedOn,
  handshake,
  icmpError,
  tcpBytes,
  type Open,
} from './raw-peer.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** MSS 1460 on the peer's SYN, so the stack sends full-sized segments. */
const MSS_1460 = [2, 4, 5, 180];

const tsOption = (value: number, echo = 0): number[] => [
  1,
  1,
  8,
  10,
  ...[value, echo].flatMap((v) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]),
];

/** A listening stack with one connection the hand-written peer opened (see establishedOn). */
function established(tcp: Record<string, number | boolean> = {}, synOptions: number[] = []) {
  return establishedOn((rig = new Rig(tcp)), synOptions);
}

/** Plays a peer that acknowledges everything the stack sent on `open`; returns bytes seen. */
async function ackEverything(r: Rig, open: Open, rounds: number): Promise<number> {
  let bytes = 0;
  let top = open.rcvNxt;
  for (let i = 0; i < rounds; i++) {
    await r.settle(100_000);
    for (const s of r.seen.splice(0)) {
      if (s.header.dstPort !== open.peerPort) continue;
      bytes += s.payload.length;
      const end = (s.header.seq + s.payload.length) >>> 0;
      if (((end - top) | 0) > 0) top = end;
    }
    r.send({ ...data(open, open.sndNxt, ''), flags: ACK, ack: top });
  }
  return bytes;
}

describe('hostile peer: FIN and the data around it', () => {
  // Once a FIN is known out of order, bytes past it are not the stream: they are cut and
  // counted (data-after-fin), and filling the hole delivers up to the FIN, then the end.
  // (Before: rcvNxt jumped over the held FIN, which was lost, and the extra bytes delivered.)
  it('data past an out-of-order FIN is cut, and the FIN still ends the stream', async () => {
    const { r, open, got, ended } = await established();
    const s = open.sndNxt;
    r.send(data(open, s + 2, 'AB', ACK | FIN)); // FIN at s + 4
    r.send(data(open, s + 4, 'XYZ')); // after the FIN
    r.send(data(open, s, '01'));
    await r.settle();
    expect(got()).toBe('01AB');
    expect(ended()).toBe(true);
  });
});

describe('hostile peer: timestamps', () => {
  // TS.Recent moves only for a segment reaching Last.ACK.sent (RFC 7323 4.3, FreeBSD): a blind
  // segment from 2^29 behind with a TSval far ahead must not arm PAWS against the real peer.
  it('a blind old segment with a huge TSval does not wedge the connection', async () => {
    const { r, open, got, errors } = await established({}, tsOption(1000));
    r.send({ ...data(open, open.sndNxt, 'one'), options: tsOption(1001) });
    r.send({
      srcPort: open.peerPort,
      dstPort: open.port,
      seq: (open.sndNxt - 0x20000000) >>> 0,
      flags: 0,
      options: tsOption(1000 + 0x7fff0000),
    });
    r.send({ ...data(open, open.sndNxt + 3, 'two'), options: tsOption(1002) });
    await r.settle();
    expect(errors).toEqual([]);
    expect(got()).toBe('onetwo');
    expect(r.drops()['tcp-paws'] ?? 0).toBe(0);
  });
});

describe('hostile peer: a zero window that never opens', () => {
  // A peer that closes its window and then answers no probe is given up on after
  // maxRetransmits probes with ETIMEDOUT (Linux tcp_probe_timer, FreeBSD tcp_timer_persist),
  // and the connection, its buffers and its timer go.
  it('unanswered zero-window probes end the connection with ETIMEDOUT', async () => {
    const { r, open, sockets, errors } = await established({
      persistMin: 100_000,
      persistMax: 400_000,
      maxRetransmits: 4,
    });
    r.send({ ...data(open, open.sndNxt, ''), window: 0 });
    sockets[0].write(Buffer.alloc(1000, 1));
    for (let i = 0; i < 40; i++) await r.settle(200_000);
    expect(r.stack.stats().tcp.persistProbes).toBeGreaterThan(4);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    const gauges = r.stack.stats().gauges;
    expect([gauges.connections, gauges.timers]).toEqual([0, 0]);
  });
});

describe('hostile peer: path MTU', () => {
  // The stack learns a path MTU only from a fragmentation-needed that TCP believed (the
  // quoted sequence number in flight, RFC 5927 4.1): one spoofed message must not make every
  // full-sized segment exceed the path MTU.
  it('a spoofed fragmentation-needed quoting no data in flight does not stop sending', async () => {
    const { r, open, sockets, errors } = await established({}, MSS_1460);
    r.sendIp(1, icmpError(3, 4, 600, open, open.rcvNxt + 0x30000000));
    expect(r.drops()['tcp-icmp-sequence-not-in-flight']).toBe(1);
    sockets[0].write(Buffer.alloc(20_000, 7));
    const bytes = await ackEverything(r, open, 20);
    expect(errors).toEqual([]);
    expect(bytes).toBeGreaterThanOrEqual(20_000);
  });

  // A new connection starts from the path MTU the stack learnt for its destination; else its
  // full-sized segments exceed what sendIPv4 enforces and are dropped locally for minutes.
  it('a second connection to a host with a learnt path MTU still sends data', async () => {
    const { r, open, sockets } = await established({}, MSS_1460);
    sockets[0].write(Buffer.alloc(3000, 7));
    await r.settle(10);
    const first = r.seen.find((s) => s.payload.length > 0);
    expect(first).toBeDefined();
    r.sendIp(1, icmpError(3, 4, 1000, open, first?.header.seq ?? 0));
    await r.settle(1000);
    const second = handshake(r, 80, 40001, MSS_1460, 7777);
    await r.settle();
    expect(sockets).toHaveLength(2);
    r.seen.splice(0);
    sockets[1].write(Buffer.alloc(20_000, 8));
    const bytes = await ackEverything(r, second, 20);
    expect(bytes).toBeGreaterThanOrEqual(20_000);
  });
});

describe('hostile peer: IPv4 fragments', () => {
  // With [0,8) and [40,48) held, a last fragment [16,24) contradicts the one past its end: the
  // datagram is dropped and counted (it used to be assembled short and throw a RangeError).
  it('a last fragment shorter than a held one is dropped, not thrown', async () => {
    const r = (rig = new Rig());
    let thrown: unknown;
    try {
      r.sendIp(6, new Uint8Array(8).fill(1), { id: 5, fragmentOffset: 0, moreFragments: true });
      r.sendIp(6, new Uint8Array(8).fill(2), { id: 5, fragmentOffset: 40, moreFragments: true });
      r.sendIp(6, new Uint8Array(8).fill(3), { id: 5, fragmentOffset: 16 });
      await r.settle();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeUndefined();
    const stats = r.stack.stats();
    expect(stats.gauges.reassemblyDatagrams).toBe(0);
    expect(stats.gauges.bytesBuffered).toBe(0);
    expect(stats.ip.ipReasmOKs).toBe(0);
  });

  // A fragment with no payload carries nothing and would hold a record outside the memory
  // bound: each is dropped under a named reason (Linux discards end == offset too).
  it('empty fragments are counted as dropped, not held', async () => {
    const r = (rig = new Rig());
    const total = () => Object.values(r.drops()).reduce((a, b) => a + b, 0);
    const before = total();
    for (let i = 0; i < 2000; i++) {
      r.peer.send(
        r.peer.ipv4(r.stackMac, STACK_IP, 6, new Uint8Array(0), {
          id: 9,
          fragmentOffset: 8 * (i % 100),
          moreFragments: true,
        }),
      );
      if (i % 32 === 31) r.step(10);
    }
    await r.settle();
    expect(total() - before).toBe(2000);
  });

  it('a fragment wholly inside a held one drops the datagram and leaves nothing', async () => {
    const r = (rig = new Rig());
    r.sendIp(6, new Uint8Array(64), { id: 6, fragmentOffset: 0, moreFragments: true });
    r.sendIp(6, new Uint8Array(8), { id: 6, fragmentOffset: 16, moreFragments: true });
    await r.settle();
    const stats = r.stack.stats();
    expect(stats.drops['ip-fragment-overlap']).toBe(1);
    expect(stats.gauges.reassemblyDatagrams).toBe(0);
    expect(stats.gauges.bytesBuffered).toBe(0);
  });
});

/**
 * Records the bytes the stack sent on `open` into `seen` (stream offsets from the first), with
 * `have` marking which arrived; a byte sent again with another value throws.
 */
function takeSent(r: Rig, open: Open, seen: Uint8Array, have: Uint8Array): void {
  for (const s of r.seen.splice(0)) {
    const at = (s.header.seq - open.rcvNxt) >>> 0;
    for (let i = 0; i < s.payload.length && at + i < seen.length; i++) {
      if (have[at + i] && seen[at + i] !== s.payload[i]) throw new Error(`byte ${at + i}`);
      seen[at + i] = s.payload[i];
      have[at + i] = 1;
    }
  }
}

describe('hostile peer: slow and tiny', () => {
  it('window scale 14, windows flipping 0, 0xffff, 1: nothing lost or duplicated', async () => {
    const { r, open, sockets, errors } = await established({ sendBuffer: 1 << 20 }, [
      1,
      3,
      3,
      14,
      ...MSS_1460,
    ]);
    const stream = Buffer.from(
      Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 255),
    );
    sockets[0].write(stream);
    const seen = new Uint8Array(stream.length);
    const have = new Uint8Array(stream.length);
    let next = 0;
    for (let round = 0; round < 2000 && next < stream.length; round++) {
      await r.settle(round % 7 === 0 ? 2_000_000 : 2000);
      // Keep the stack's ARP entry for the peer fresh across the long sleeps.
      if (round % 7 === 6) r.peer.send(r.peer.arp(1, new Uint8Array(6), STACK_IP));
      takeSent(r, open, seen, have);
      while (next < stream.length && have[next]) next++;
      r.send({
        ...data(open, open.sndNxt, ''),
        flags: ACK,
        ack: (open.rcvNxt + next) >>> 0,
        window: [0, 0xffff, 1][round % 3],
      });
    }
    expect(errors).toEqual([]);
    expect(next).toBe(stream.length);
    expect(Buffer.from(seen).equals(stream)).toBe(true);
  });

  it('a peer that acknowledges one byte at a time gets every byte exactly once', async () => {
    const { r, open, sockets, errors } = await established();
    const stream = Buffer.from(Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 255));
    sockets[0].write(stream);
    const seen = new Uint8Array(stream.length);
    const have = new Uint8Array(stream.length);
    let acked = 0;
    for (let round = 0; round < 12_000 && acked < stream.length; round++) {
      r.step(50);
      takeSent(r, open, seen, have);
      if (have[acked]) acked++;
      r.peer.send(
        r.peer.ipv4(
          r.stackMac,
          STACK_IP,
          6,
          tcpBytes({ ...data(open, open.sndNxt, ''), flags: ACK, ack: open.rcvNxt + acked }),
        ),
      );
      if (round % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(errors).toEqual([]);
    expect(acked).toBe(stream.length);
    expect(Buffer.from(seen).equals(stream)).toBe(true);
  });

  it('ten thousand one-byte segments arrive in order and exact', async () => {
    const { r, open, got } = await established();
    const n = 10_000;
    const letter = (i: number) => String.fromCharCode(97 + (i % 26));
    for (let i = 0; i < n; i++) {
      r.peer.send(
        r.peer.ipv4(r.stackMac, STACK_IP, 6, tcpBytes(data(open, open.sndNxt + i, letter(i)))),
      );
      if (i % 32 === 31) r.step(5);
      if (i % 1024 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await r.settle();
    const expected = Array.from({ length: n }, (_, i) => letter(i)).join('');
    expect(got()).toBe(expected);
  });
});
