import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from '../../lib/api/socket.js';
import { checksum } from '../../lib/wire/checksum.js';
import { ACK, PEER_IP, RST, Rig, STACK_IP, SYN, handshake, type Seen } from './raw-peer.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

/** The stack connects to the raw peer; returns its SYN. */
async function connecting(): Promise<{ r: Rig; socket: Socket; syn: Seen; errors: unknown[] }> {
  const r = (rig = new Rig());
  const socket = r.stack.connect({ host: '198.18.0.1', port: 80 });
  const errors: unknown[] = [];
  socket.on('error', (e) => errors.push(e));
  await r.settle();
  const syn = r.seen.find((s) => s.header.flags === SYN);
  if (syn === undefined) throw new Error('no SYN');
  return { r, socket, syn, errors };
}

describe('hostile: answers to our SYN', () => {
  it('a SYN-ACK with a wrong ack gets a RST; the right one still connects', async () => {
    const { r, socket, syn, errors } = await connecting();
    let connected = false;
    socket.on('connect', () => (connected = true));
    const port = syn.header.srcPort;
    const replies = r.send({
      srcPort: 80,
      dstPort: port,
      seq: 5000,
      ack: syn.header.seq + 999,
      flags: SYN | ACK,
    });
    expect(replies.some((s) => (s.header.flags & RST) !== 0)).toBe(true);
    r.send({ srcPort: 80, dstPort: port, seq: 5000, flags: RST }); // no ACK: ignored
    r.send({ srcPort: 80, dstPort: port, seq: 5000, ack: syn.header.seq + 7, flags: RST | ACK });
    await r.settle();
    expect(errors).toEqual([]);
    r.send({ srcPort: 80, dstPort: port, seq: 5000, ack: syn.header.seq + 1, flags: SYN | ACK });
    await r.settle();
    expect(connected).toBe(true);
    const drops = r.drops();
    expect(drops['tcp-syn-sent-bad-ack']).toBeGreaterThanOrEqual(1);
  });

  it('a RST+ACK for our SYN gives ECONNREFUSED and leaves nothing', async () => {
    const { r, syn, errors } = await connecting();
    r.send({
      srcPort: 80,
      dstPort: syn.header.srcPort,
      seq: 0,
      ack: syn.header.seq + 1,
      flags: RST | ACK,
    });
    await r.settle();
    expect(errors.map(codeOf)).toEqual(['ECONNREFUSED']);
    const g = r.stack.stats().gauges;
    expect([g.connections, g.sockets, g.timers]).toEqual([0, 0, 0]);
  });

  it('a SYN-ACK with window scale 30 and MSS 0 still yields a sane connection', async () => {
    const { r, socket, syn, errors } = await connecting();
    let connected = false;
    socket.on('connect', () => (connected = true));
    r.send({
      srcPort: 80,
      dstPort: syn.header.srcPort,
      seq: 5000,
      ack: syn.header.seq + 1,
      flags: SYN | ACK,
      options: [2, 4, 0, 0, 1, 3, 3, 30],
    });
    await r.settle();
    expect(connected).toBe(true);
    socket.write(Buffer.alloc(3000, 1));
    await r.settle();
    const sizes = r.seen.filter((s) => s.payload.length > 0).map((s) => s.payload.length);
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(64);
    expect(errors).toEqual([]);
  });

  it('simultaneous open (a bare SYN answering ours) connects', async () => {
    const { r, socket, syn, errors } = await connecting();
    let connected = false;
    socket.on('connect', () => (connected = true));
    const replies = r.send({ srcPort: 80, dstPort: syn.header.srcPort, seq: 7000, flags: SYN });
    const synAck = replies.find((s) => s.header.flags === (SYN | ACK));
    expect(synAck?.header.ack).toBe(7001);
    r.send({
      srcPort: 80,
      dstPort: syn.header.srcPort,
      seq: 7000,
      ack: syn.header.seq + 1,
      flags: SYN | ACK,
    });
    await r.settle();
    expect(connected).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('hostile: ICMP quoting a header it cannot hold', () => {
  it('a quoted IPv4 header length under 20 is dropped, not read as TCP', async () => {
    // Bug (low): lib/stack/stack.ts:732 (icmpErrorIn) takes the quoted IHL as given; with IHL 0 the
    // quoted IP header itself is read as the TCP ports and sequence number, and the error is
    // applied to a connection on a port in 0x4000..0x4fff. RFC 791 bounds IHL at 5 or more.
    const r = (rig = new Rig());
    r.stack.createServer((s) => s.write(Buffer.alloc(2000, 3))).listen(0x4000);
    await r.settle();
    const open = handshake(r, 0x4000, 40000);
    await r.settle();
    const inFlight = r.seen.find((s) => s.payload.length > 0);
    expect(inFlight).toBeDefined();
    const q = new Uint8Array(28);
    const v = new DataView(q.buffer);
    q[0] = 0x40; // version 4, IHL 0; byte 1 (TOS) 0 => "local port" 0x4000
    v.setUint16(2, open.peerPort); // total length field => "remote port"
    v.setUint32(4, inFlight!.header.seq); // id, flags, offset => "sequence number"
    q[9] = 6;
    q.set(STACK_IP, 12);
    q.set(PEER_IP, 16);
    const m = new Uint8Array(8 + q.length);
    m[0] = 3;
    m[1] = 4;
    new DataView(m.buffer).setUint16(6, 576);
    m.set(q, 8);
    new DataView(m.buffer).setUint16(2, checksum(m, 0, m.length));
    const applied = r.stack.stats().tcp.icmpErrorsApplied;
    r.sendIp(1, m);
    await r.settle();
    expect(r.stack.stats().tcp.icmpErrorsApplied).toBe(applied);
    expect(r.drops()['icmp-error-bad-quoted-header']).toBe(1);
  });
});

describe('hostile: repeated SYNs to a listener', () => {
  it('a retransmitted SYN gets the same SYN-ACK and makes no second connection', async () => {
    const r = (rig = new Rig());
    r.stack.createServer(() => {}).listen(80);
    await r.settle();
    const first = r.send({ srcPort: 5555, dstPort: 80, seq: 42, flags: SYN });
    const again = r.send({ srcPort: 5555, dstPort: 80, seq: 42, flags: SYN });
    const a = first.find((s) => s.header.flags === (SYN | ACK));
    const b = again.find((s) => s.header.flags === (SYN | ACK));
    expect(a).toBeDefined();
    expect(b?.header.seq).toBe(a?.header.seq);
    expect(r.stack.stats().gauges.connections).toBe(1);
    // A SYN with another ISN on the same 4-tuple must not replace or duplicate it either.
    r.send({ srcPort: 5555, dstPort: 80, seq: 9_000_000, flags: SYN });
    expect(r.stack.stats().gauges.connections).toBeLessThanOrEqual(1);
  });
});

describe('hostile: a SYN waiting for ARP', () => {
  it('is dropped, counted, once its socket was destroyed before the address resolved', async () => {
    const r = (rig = new Rig());
    const socket = r.stack.connect({ host: '198.18.0.3', port: 80 });
    const errors: unknown[] = [];
    socket.on('error', (e) => errors.push(e));
    await r.settle();
    expect(r.stack.stats().gauges.framesHeld).toBe(1);
    socket.destroy();
    await r.settle();
    // 198.18.0.3 answers at last: nothing of the destroyed socket may leave.
    r.sendFrame(r.peer.arp(2, r.stackMac, STACK_IP, [198, 18, 0, 3]));
    await r.settle();
    expect(r.seen.filter((s) => s.header.flags & SYN)).toEqual([]);
    expect(r.drops()['arp-pending-sender-gone']).toBe(1);
    expect(r.stack.stats().gauges.framesHeld).toBe(0);
    expect(errors).toEqual([]);
  });
});
