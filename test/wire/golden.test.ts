/**
 * Frames captured from the kernel by test/golden/capture.sh, parsed field by field, and built
 * again from the parsed records to the same bytes, checksums included.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST, writeArp } from '../../lib/wire/arp.js';
import { ipv4PseudoHeaderSum } from '../../lib/wire/checksum.js';
import {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseMac,
  writeEthernet,
} from '../../lib/wire/ethernet.js';
import { Frame, parseFrame } from '../../lib/wire/frame.js';
import {
  ICMP_DESTINATION_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  UNREACHABLE_FRAGMENTATION_NEEDED,
  UNREACHABLE_PORT,
  writeIcmpEcho,
  writeIcmpError,
} from '../../lib/wire/icmp.js';
import {
  PROTOCOL_ICMP,
  PROTOCOL_TCP,
  PROTOCOL_UDP,
  parseIpv4Address,
  writeIpv4,
} from '../../lib/wire/ipv4.js';
import {
  ACK,
  FIN,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  PSH,
  RST,
  SYN,
  fillTcpChecksum,
  writeTcp,
} from '../../lib/wire/tcp.js';
import { goldenFrames } from '../golden/frames.js';

const A_MAC = parseMac('02:00:00:00:00:01')!;
const R_MAC = parseMac('02:00:00:00:00:fe')!;
const A = parseIpv4Address('198.18.0.1')!;
const R = parseIpv4Address('198.18.0.254')!;
const B = parseIpv4Address('198.18.1.2')!;

/** Parse every frame of a capture into its own records; any drop fails the test. */
function parseAll(name: string): { captured: Uint8Array[]; frames: Frame[] } {
  const captured = goldenFrames(name);
  const frames = captured.map((bytes, index) => {
    const frame = new Frame();
    const reason = parseFrame(bytes, 0, bytes.length, frame);
    expect(reason, `${name} frame ${index}`).toBeUndefined();
    return frame;
  });
  return { captured, frames };
}

function text(bytes: Uint8Array, offset: number, length: number): string {
  return Buffer.from(bytes.subarray(offset, offset + length)).toString('latin1');
}

function kinds(frame: Frame): number[] {
  return [...frame.tcp.options.kinds.subarray(0, frame.tcp.options.kindCount)];
}

/** Build the frame again from its parsed records with the writers; must give the same bytes. */
function rebuild(original: Uint8Array, frame: Frame): Uint8Array {
  const out = new Uint8Array(original.length);
  let at = writeEthernet(out, 0, frame.ethernet);
  if (frame.kind === 'arp') {
    writeArp(out, at, frame.arp);
    return out;
  }
  const ip = frame.ipv4;
  at += writeIpv4(out, at, ip);
  if (frame.kind === 'ipv4-other' || frame.kind === 'ipv4-fragment') {
    out.set(original.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength), at);
  } else if (frame.kind === 'tcp') {
    const tcp = frame.tcp;
    const headerLength = writeTcp(out, at, tcp);
    out.set(
      original.subarray(tcp.payloadOffset, tcp.payloadOffset + tcp.payloadLength),
      at + headerLength,
    );
    const pseudo = ipv4PseudoHeaderSum(ip.src, ip.dst, PROTOCOL_TCP, ip.payloadLength);
    fillTcpChecksum(out, at, ip.payloadLength, pseudo);
  } else if (frame.kind === 'icmp') {
    const icmp = frame.icmp;
    if (icmp.type === ICMP_ECHO_REQUEST || icmp.type === ICMP_ECHO_REPLY) {
      out.set(original.subarray(icmp.bodyOffset, icmp.bodyOffset + icmp.bodyLength), at + 8);
      writeIcmpEcho(out, at, icmp.type, icmp.identifier, icmp.sequence, icmp.bodyLength);
    } else {
      writeIcmpError(
        out,
        at,
        icmp.type,
        icmp.code,
        icmp.rest,
        original,
        icmp.bodyOffset,
        icmp.bodyLength,
      );
    }
  }
  return out;
}

function expectRebuilt(captured: Uint8Array[], frames: Frame[]): void {
  frames.forEach((frame, index) => {
    if (frame.ipv4.headerLength !== 20 && frame.kind !== 'arp') return;
    const bytes = captured[index];
    expect(Buffer.from(rebuild(bytes, frame)).toString('hex'), `frame ${index}`).toBe(
      Buffer.from(bytes).toString('hex'),
    );
  });
}

describe('golden frames from the kernel', () => {
  describe('ARP and ICMP echo', () => {
    let captured: Uint8Array[];
    let frames: Frame[];
    beforeAll(() => ({ captured, frames } = parseAll('arp-icmp.pcap')));

    it('holds the request, the reply, and the echo both ways', () => {
      expect(frames.map((f) => f.kind)).toEqual(['arp', 'arp', 'icmp', 'icmp']);
    });

    it('parses the ARP request', () => {
      const f = frames[0];
      expect(f.ethernet.dst).toBe(BROADCAST_MAC);
      expect(f.ethernet.src).toBe(A_MAC);
      expect(f.ethernet.etherType).toBe(ETHERTYPE_ARP);
      expect(f.ethernet.vlan).toBe(false);
      expect(f.arp.operation).toBe(ARP_REQUEST);
      expect(f.arp.senderMac).toBe(A_MAC);
      expect(f.arp.senderIp).toBe(A);
      expect(f.arp.targetMac).toBe(0);
      expect(f.arp.targetIp).toBe(R);
    });

    it('parses the ARP reply', () => {
      const f = frames[1];
      expect(f.ethernet.dst).toBe(A_MAC);
      expect(f.ethernet.src).toBe(R_MAC);
      expect(f.arp.operation).toBe(ARP_REPLY);
      expect(f.arp.senderMac).toBe(R_MAC);
      expect(f.arp.senderIp).toBe(R);
      expect(f.arp.targetMac).toBe(A_MAC);
      expect(f.arp.targetIp).toBe(A);
    });

    it('parses the echo request and reply', () => {
      const [request, reply] = [frames[2], frames[3]];
      expect(request.ethernet.etherType).toBe(ETHERTYPE_IPV4);
      expect(request.ipv4.src).toBe(A);
      expect(request.ipv4.dst).toBe(R);
      expect(request.ipv4.protocol).toBe(PROTOCOL_ICMP);
      expect(request.ipv4.ttl).toBe(64);
      expect(request.ipv4.dontFragment).toBe(true);
      expect(request.ipv4.fragment).toBe(false);
      expect(request.ipv4.totalLength).toBe(84);
      expect(request.icmp.type).toBe(ICMP_ECHO_REQUEST);
      expect(request.icmp.code).toBe(0);
      expect(request.icmp.sequence).toBe(1);
      expect(request.icmp.bodyLength).toBe(56);
      expect(request.icmp.hasQuote).toBe(false);

      expect(reply.ipv4.src).toBe(R);
      expect(reply.ipv4.dst).toBe(A);
      expect(reply.icmp.type).toBe(ICMP_ECHO_REPLY);
      expect(reply.icmp.identifier).toBe(request.icmp.identifier);
      expect(reply.icmp.sequence).toBe(1);
      const body = (f: Frame, bytes: Uint8Array): string =>
        text(bytes, f.icmp.bodyOffset, f.icmp.bodyLength);
      expect(body(reply, captured[3])).toBe(body(request, captured[2]));
    });

    it('builds every frame again byte for byte', () => expectRebuilt(captured, frames));
  });

  describe('IPv4 fragments', () => {
    let captured: Uint8Array[];
    let frames: Frame[];
    beforeAll(() => ({ captured, frames } = parseAll('fragments.pcap')));

    it('recognises both fragments of the request and of the reply', () => {
      expect(frames.map((f) => f.kind)).toEqual([
        'ipv4-fragment',
        'ipv4-fragment',
        'ipv4-fragment',
        'ipv4-fragment',
      ]);
      for (const [first, last] of [
        [frames[0], frames[1]],
        [frames[2], frames[3]],
      ]) {
        expect(first.ipv4.moreFragments).toBe(true);
        expect(first.ipv4.fragmentOffset).toBe(0);
        expect(first.ipv4.dontFragment).toBe(false);
        expect(first.ipv4.totalLength).toBe(1500);
        expect(last.ipv4.moreFragments).toBe(false);
        expect(last.ipv4.fragmentOffset).toBe(1480);
        expect(last.ipv4.identification).toBe(first.ipv4.identification);
        expect(last.ipv4.protocol).toBe(PROTOCOL_ICMP);
        // 2000 bytes of data and the 8-byte ICMP header, split at 1480.
        expect(first.ipv4.payloadLength + last.ipv4.payloadLength).toBe(2008);
      }
      expect(frames[0].ipv4.src).toBe(A);
      expect(frames[2].ipv4.src).toBe(R);
    });

    it('builds every frame again byte for byte', () => expectRebuilt(captured, frames));
  });

  describe('IPv4 options', () => {
    let frames: Frame[];
    beforeAll(() => ({ frames } = parseAll('ip-options.pcap')));

    it('skips the Record Route option by the header length and reads the echo after it', () => {
      expect(frames.map((f) => f.kind)).toEqual(['icmp', 'icmp']);
      const [request, reply] = frames;
      expect(request.ipv4.headerLength).toBe(60);
      expect(request.ipv4.totalLength).toBe(124);
      expect(request.ipv4.payloadOffset).toBe(14 + 60);
      expect(request.ipv4.payloadLength).toBe(64);
      expect(request.icmp.type).toBe(ICMP_ECHO_REQUEST);
      expect(request.icmp.bodyLength).toBe(56);
      expect(reply.ipv4.headerLength).toBe(60);
      expect(reply.icmp.type).toBe(ICMP_ECHO_REPLY);
      expect(reply.icmp.identifier).toBe(request.icmp.identifier);
    });
  });

  describe('a TCP connection: handshake, data both ways, FIN both ways', () => {
    let captured: Uint8Array[];
    let frames: Frame[];
    beforeAll(() => ({ captured, frames } = parseAll('tcp.pcap')));

    it('holds only TCP between A:40000 and B:8080', () => {
      expect(frames.length).toBe(10);
      for (const f of frames) {
        expect(f.kind).toBe('tcp');
        const fromA = f.ipv4.src === A;
        expect(f.ipv4.dst).toBe(fromA ? B : A);
        expect(f.tcp.srcPort).toBe(fromA ? 40000 : 8080);
        expect(f.tcp.dstPort).toBe(fromA ? 8080 : 40000);
      }
    });

    it('parses the SYN with every option Linux sends', () => {
      const syn = frames[0].tcp;
      expect(syn.flags).toBe(SYN);
      expect(syn.headerLength).toBe(40);
      expect(syn.window).toBe(64240);
      expect(syn.ack).toBe(0);
      expect(kinds(frames[0])).toEqual([
        OPT_MSS,
        OPT_SACK_PERMITTED,
        OPT_TIMESTAMP,
        OPT_NOP,
        OPT_WINDOW_SCALE,
      ]);
      expect(syn.options.mss).toBe(1460);
      expect(syn.options.sackPermitted).toBe(true);
      expect(syn.options.timestamp).toBe(true);
      expect(syn.options.tsEcr).toBe(0);
      expect(syn.options.windowScale).toBe(10);
      expect(syn.options.sackBlockCount).toBe(0);
      expect(syn.payloadLength).toBe(0);
    });

    it('parses the SYN-ACK and the ACK that completes the handshake', () => {
      const syn = frames[0].tcp;
      const synAck = frames[1].tcp;
      expect(synAck.flags).toBe(SYN | ACK);
      expect(synAck.ack).toBe((syn.seq + 1) >>> 0);
      expect(synAck.options.mss).toBe(1460);
      expect(synAck.options.tsEcr).toBe(syn.options.tsVal);
      expect(frames[1].ipv4.ttl).toBe(63);

      const ack = frames[2].tcp;
      expect(ack.flags).toBe(ACK);
      expect(ack.seq).toBe((syn.seq + 1) >>> 0);
      expect(ack.ack).toBe((synAck.seq + 1) >>> 0);
      expect(kinds(frames[2])).toEqual([OPT_NOP, OPT_NOP, OPT_TIMESTAMP]);
      expect(ack.options.tsEcr).toBe(synAck.options.tsVal);
      expect(ack.options.mss).toBe(-1);
      expect(ack.options.windowScale).toBe(-1);
      expect(ack.headerLength).toBe(32);
    });

    it('parses the data segments and their payloads', () => {
      const syn = frames[0].tcp;
      const synAck = frames[1].tcp;
      const request = frames[3];
      expect(request.tcp.flags).toBe(PSH | ACK);
      expect(request.tcp.seq).toBe((syn.seq + 1) >>> 0);
      expect(request.tcp.payloadLength).toBe(13);
      expect(text(captured[3], request.tcp.payloadOffset, 13)).toBe('hello golden\n');
      expect(request.ipv4.totalLength).toBe(20 + 32 + 13);

      const answer = frames[5];
      expect(answer.tcp.flags).toBe(PSH | ACK);
      expect(answer.tcp.seq).toBe((synAck.seq + 1) >>> 0);
      expect(answer.tcp.ack).toBe((syn.seq + 14) >>> 0);
      expect(text(captured[5], answer.tcp.payloadOffset, 13)).toBe('HELLO GOLDEN\n');
    });

    it('parses the FIN from each end', () => {
      const syn = frames[0].tcp;
      const synAck = frames[1].tcp;
      const finA = frames[7].tcp;
      expect(finA.flags).toBe(FIN | ACK);
      expect(finA.seq).toBe((syn.seq + 14) >>> 0);
      const finB = frames[8].tcp;
      expect(finB.flags).toBe(FIN | ACK);
      expect(finB.seq).toBe((synAck.seq + 14) >>> 0);
      expect(finB.ack).toBe((syn.seq + 15) >>> 0);
      expect(frames[9].tcp.ack).toBe((synAck.seq + 15) >>> 0);
    });

    it('builds every frame again byte for byte', () => expectRebuilt(captured, frames));
  });

  describe('a SYN to a closed port', () => {
    let captured: Uint8Array[];
    let frames: Frame[];
    beforeAll(() => ({ captured, frames } = parseAll('rst.pcap')));

    it('parses the RST+ACK', () => {
      expect(frames.length).toBe(2);
      const syn = frames[0].tcp;
      const rst = frames[1].tcp;
      expect(rst.flags).toBe(RST | ACK);
      expect(rst.srcPort).toBe(9);
      expect(rst.dstPort).toBe(40001);
      expect(rst.seq).toBe(0);
      expect(rst.ack).toBe((syn.seq + 1) >>> 0);
      expect(rst.window).toBe(0);
      expect(rst.headerLength).toBe(20);
      expect(rst.options.kindCount).toBe(0);
      expect(rst.payloadLength).toBe(0);
    });

    it('builds every frame again byte for byte', () => expectRebuilt(captured, frames));
  });

  describe('ICMP errors', () => {
    let captured: Uint8Array[];
    let frames: Frame[];
    beforeAll(() => ({ captured, frames } = parseAll('icmp-errors.pcap')));

    it('parses port unreachable from B with the UDP datagram quoted', () => {
      const udp = frames[0];
      expect(udp.kind).toBe('ipv4-other');
      expect(udp.ipv4.protocol).toBe(PROTOCOL_UDP);
      const error = frames[1];
      expect(error.ipv4.src).toBe(B);
      expect(error.ipv4.tos).toBe(0xc0);
      expect(error.icmp.type).toBe(ICMP_DESTINATION_UNREACHABLE);
      expect(error.icmp.code).toBe(UNREACHABLE_PORT);
      expect(error.icmp.hasQuote).toBe(true);
      const quoted = error.icmp.quoted;
      expect(quoted.protocol).toBe(PROTOCOL_UDP);
      expect(quoted.src).toBe(A);
      expect(quoted.dst).toBe(B);
      expect(quoted.identification).toBe(udp.ipv4.identification);
      expect(quoted.totalLength).toBe(41);
      expect(error.icmp.quotedSrcPort).toBe(40002);
      expect(error.icmp.quotedDstPort).toBe(9);
    });

    it('parses time exceeded from R with the echo request quoted', () => {
      const request = frames[2];
      expect(request.ipv4.ttl).toBe(1);
      const error = frames[3];
      expect(error.ipv4.src).toBe(R);
      expect(error.icmp.type).toBe(ICMP_TIME_EXCEEDED);
      expect(error.icmp.code).toBe(0);
      expect(error.icmp.quoted.protocol).toBe(PROTOCOL_ICMP);
      expect(error.icmp.quoted.ttl).toBe(1);
      expect(error.icmp.quoted.identification).toBe(request.ipv4.identification);
      expect(error.icmp.quotedSrcPort).toBe(ICMP_ECHO_REQUEST << 8);
      expect(error.icmp.quotedDstPort).toBe(request.icmp.checksum);
    });

    it('parses fragmentation needed with the next-hop MTU, for an echo request', () => {
      const request = frames[4];
      expect(request.ipv4.totalLength).toBe(1428);
      expect(request.ipv4.dontFragment).toBe(true);
      const error = frames[5];
      expect(error.ipv4.src).toBe(R);
      expect(error.ipv4.totalLength).toBe(576);
      expect(error.icmp.type).toBe(ICMP_DESTINATION_UNREACHABLE);
      expect(error.icmp.code).toBe(UNREACHABLE_FRAGMENTATION_NEEDED);
      expect(error.icmp.nextHopMtu).toBe(1280);
      expect(error.icmp.bodyLength).toBe(576 - 20 - 8);
      expect(error.icmp.quoted.totalLength).toBe(1428);
      expect(error.icmp.quoted.payloadLength).toBe(576 - 20 - 8 - 20);
    });

    it('parses fragmentation needed for full-size TCP segments, with their seq quoted', () => {
      const segments = new Map<number, Frame>();
      const errors: Frame[] = [];
      for (const f of frames.slice(6)) {
        // The first transmission of each sequence number: retransmissions are smaller.
        if (f.kind === 'tcp' && f.ipv4.src === A && f.tcp.payloadLength > 0) {
          if (!segments.has(f.tcp.seq)) segments.set(f.tcp.seq, f);
        }
        if (f.kind === 'icmp' && f.icmp.code === UNREACHABLE_FRAGMENTATION_NEEDED) errors.push(f);
      }
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        expect(error.icmp.nextHopMtu).toBe(1280);
        expect(error.icmp.quoted.protocol).toBe(PROTOCOL_TCP);
        expect(error.icmp.quotedSrcPort).toBe(40003);
        expect(error.icmp.quotedDstPort).toBe(8081);
        const segment = segments.get(error.icmp.quotedSeq);
        expect(segment, `segment ${error.icmp.quotedSeq}`).toBeDefined();
        expect(segment!.ipv4.totalLength).toBe(1500);
      }
    });

    it('parses full-size segments, their payload, and a SACK block', () => {
      const syn = frames.find((f) => f.kind === 'tcp' && f.tcp.flags === SYN)!;
      const full = frames.filter((f) => f.kind === 'tcp' && f.ipv4.totalLength === 1500);
      expect(full.length).toBeGreaterThan(0);
      for (const f of full) {
        expect(f.tcp.payloadLength).toBe(1448);
        const start = (f.tcp.seq - syn.tcp.seq - 1) >>> 0;
        const index = frames.indexOf(f);
        const payload = captured[index].subarray(f.tcp.payloadOffset);
        for (let i = 0; i < payload.length; i++) expect(payload[i]).toBe((start + i) & 0xff);
      }
      const sack = frames.find((f) => f.kind === 'tcp' && f.tcp.options.sackBlockCount > 0);
      expect(sack).toBeDefined();
      expect(kinds(sack!)).toEqual([OPT_NOP, OPT_NOP, OPT_TIMESTAMP, OPT_NOP, OPT_NOP, OPT_SACK]);
      expect(sack!.tcp.options.sackBlockCount).toBe(1);
      const [left, right] = sack!.tcp.options.sackBlocks;
      expect(right > left).toBe(true);
      expect(sack!.tcp.ack < left).toBe(true);
    });

    it('builds every frame again byte for byte', () => expectRebuilt(captured, frames));
  });
});
