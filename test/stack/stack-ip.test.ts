import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../lib/link/clock.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import { Stack } from '../../lib/stack/stack.js';
import { checksum } from '../../lib/wire/checksum.js';
import { Peer, ethertypeOf, icmpEcho } from './peer.js';

const STACK_IP = [198, 18, 0, 2];
const PEER_IP = [198, 18, 0, 1];

function setup(options: { arp?: { requestInterval?: number; requestAttempts?: number } } = {}) {
  const clock = new VirtualClock();
  const [stackLink, peerLink] = createMemoryLinkPair({ clock });
  const stack = new Stack({
    link: stackLink,
    clock,
    address: '198.18.0.2',
    prefix: 24,
    arp: options.arp,
  });
  const peer = new Peer(peerLink, PEER_IP);
  stack.start();
  clock.runUntil(clock.now());
  return { clock, stack, peer, stackMac: stackLink.mac };
}

describe('stack: ARP', () => {
  it('announces itself, answers requests for its address and ignores others', () => {
    const { clock, stack, peer, stackMac } = setup();
    const [announce] = peer.receive();
    expect(ethertypeOf(announce)).toBe(0x0806);
    expect([...announce.subarray(14 + 14, 14 + 18)]).toEqual(STACK_IP);
    expect([...announce.subarray(14 + 24, 14 + 28)]).toEqual(STACK_IP);

    peer.send(peer.arp(1, new Uint8Array(6), STACK_IP));
    peer.send(peer.arp(1, new Uint8Array(6), [198, 18, 0, 9]));
    clock.runUntil(clock.now() + 10);
    const replies = peer.receive();
    expect(replies).toHaveLength(1);
    expect(replies[0][14 + 7]).toBe(2);
    expect(replies[0].subarray(14 + 8, 14 + 14)).toEqual(stackMac);
    expect([...replies[0].subarray(14 + 24, 14 + 28)]).toEqual(PEER_IP);
    expect(stack.counters.arpInRequests).toBe(1);
    expect(stack.counters.arpOutReplies).toBe(1);
    stack.close();
  });
});

describe('stack: ICMP', () => {
  it('answers ping, including a fragmented one, with the same data', () => {
    const { clock, stack, peer, stackMac } = setup();
    peer.receive();
    peer.send(peer.arp(1, new Uint8Array(6), STACK_IP));
    clock.runUntil(clock.now() + 10);
    peer.receive();

    const data = Uint8Array.from({ length: 56 }, (_, i) => i);
    peer.send(peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 7, 1, data)));
    const big = Uint8Array.from({ length: 1200 }, (_, i) => (i * 13) & 255);
    const message = icmpEcho(8, 7, 2, big);
    peer.send(
      peer.ipv4(stackMac, STACK_IP, 1, message.subarray(0, 600), { id: 9, moreFragments: true }),
    );
    peer.send(
      peer.ipv4(stackMac, STACK_IP, 1, message.subarray(600), { id: 9, fragmentOffset: 600 }),
    );
    clock.runUntil(clock.now() + 10);

    const replies = peer.receive();
    expect(replies).toHaveLength(2);
    for (const [i, reply] of replies.entries()) {
      const ip = reply.subarray(14);
      expect(checksum(ip, 0, 20)).toBe(0);
      expect(ip[6] & 0x40).toBe(0x40);
      expect([...ip.subarray(12, 16)]).toEqual(STACK_IP);
      expect([...ip.subarray(16, 20)]).toEqual(PEER_IP);
      const icmp = ip.subarray(20, (ip[2] << 8) | ip[3]);
      expect(icmp[0]).toBe(0);
      expect(checksum(icmp, 0, icmp.length)).toBe(0);
      expect(icmp.subarray(8)).toEqual(i === 0 ? data : big);
    }
    expect(stack.counters.icmpInEchos).toBe(2);
    expect(stack.counters.icmpOutEchoReps).toBe(2);
    expect(stack.counters.ipReasmOKs).toBe(1);
    stack.close();
  });

  it('sends port and protocol unreachable, never for ICMP errors, and counts the drops', () => {
    const { clock, stack, peer, stackMac } = setup();
    peer.receive();
    peer.send(peer.arp(1, new Uint8Array(6), STACK_IP));
    clock.runUntil(clock.now() + 10);
    peer.receive();

    peer.send(peer.ipv4(stackMac, STACK_IP, 17, new Uint8Array(16)));
    peer.send(peer.ipv4(stackMac, STACK_IP, 99, new Uint8Array(16)));
    clock.runUntil(clock.now() + 10);
    const errors = peer.receive();
    expect(errors.map((f) => [f[14 + 20], f[14 + 21]])).toEqual([
      [3, 3],
      [3, 2],
    ]);
    expect(stack.counters.drops['udp-no-listener']).toBe(1);
    expect(stack.counters.drops['ip-unknown-protocol']).toBe(1);
    expect(stack.counters.icmpOutDestUnreachs).toBe(2);
    stack.close();
  });

  it('drops bad headers under named reasons', () => {
    const { clock, stack, peer, stackMac } = setup();
    const frame = peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
    frame[14 + 10] ^= 0xff;
    peer.send(frame);
    const truncated = peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
    truncated[14 + 3] = 200;
    peer.send(truncated);
    const badIcmp = peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
    badIcmp[14 + 20 + 9] ^= 1;
    peer.send(badIcmp);
    clock.runUntil(clock.now() + 10);
    expect(stack.counters.drops).toMatchObject({
      'ip-bad-checksum': 1,
      'ip-bad-total-length': 1,
      'icmp-bad-checksum': 1,
    });
    expect(stack.counters.ipInHdrErrors).toBe(2);
    stack.close();
  });
});

describe('stack: ARP resolution on send', () => {
  it('holds a reply until ARP answers', () => {
    const { clock, stack, peer, stackMac } = setup();
    peer.receive();
    peer.send(peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(4))));
    clock.runUntil(clock.now() + 10);
    const [request] = peer.receive();
    expect(ethertypeOf(request)).toBe(0x0806);
    expect([...request.subarray(14 + 24, 14 + 28)]).toEqual(PEER_IP);
    expect(stack.arp.pendingPacketCount).toBe(1);

    peer.send(peer.arp(2, stackMac, STACK_IP));
    clock.runUntil(clock.now() + 10);
    const [reply] = peer.receive();
    expect(reply[14 + 20]).toBe(0);
    expect(stack.arp.pendingPacketCount).toBe(0);
    stack.close();
  });

  it('gives up after its attempts and counts the held packet as dropped', () => {
    const { clock, stack, peer, stackMac } = setup({
      arp: { requestInterval: 1000, requestAttempts: 3 },
    });
    peer.send(peer.ipv4(stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(4))));
    clock.runUntil(clock.now() + 10);
    clock.runUntil(clock.now() + 5000);
    const requests = peer
      .receive()
      .filter((f) => ethertypeOf(f) === 0x0806 && f[14 + 7] === 1 && f[14 + 24 + 3] === 1);
    expect(requests).toHaveLength(3);
    expect(stack.counters.arpResolveFailures).toBe(1);
    expect(stack.counters.drops['arp-unresolved']).toBe(1);
    expect(stack.arp.size).toBe(0);
    stack.close();
  });
});
