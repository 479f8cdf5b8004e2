/**
 * Random and mutated frames through every wire parser. Seeds are the golden captures plus
 * frames built here; each round either mutates a seed (bit flips, interesting byte values,
 * cuts, growths, shifted offsets, lengths that disagree with the buffer) or makes pure noise,
 * then runs each parser at several offsets. A parser may reject, never throw, and what it
 * accepts must stay inside the bytes it was given.
 */
import { ArpPacket, parseArp } from '../../lib/wire/arp.js';
import { EthernetHeader, parseEthernet } from '../../lib/wire/ethernet.js';
import { Frame, parseFrame } from '../../lib/wire/frame.js';
import { IcmpMessage, parseIcmp } from '../../lib/wire/icmp.js';
import { Ipv4Header, parseIpv4, parseQuotedIpv4 } from '../../lib/wire/ipv4.js';
import { WIRE_DROP_REASONS, type WireDropReason } from '../../lib/wire/reasons.js';
import { TcpHeader, parseTcp } from '../../lib/wire/tcp.js';
import { allGoldenFrames } from '../golden/frames.js';

export interface FuzzResult {
  frames: number;
  parserCalls: number;
  accepted: number;
  /** How often each reason came back, to see the fuzzer reaches every check. */
  reasons: Map<string, number>;
  milliseconds: number;
}

/** xorshift32: fast, seedable, good enough to pick mutations. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const INTERESTING = [0, 1, 2, 3, 4, 5, 8, 10, 0x0f, 0x10, 0x40, 0x45, 0x4f, 0x50, 0x7f, 0x80, 0xff];

class Violation extends Error {}

function within(start: number, length: number, offset: number, total: number, what: string) {
  if (!(start >= offset && length >= 0 && start + length <= offset + total)) {
    throw new Violation(`${what}: [${start}, +${length}) outside [${offset}, +${total})`);
  }
}

/**
 * Run `count` frames. Throws on the first parser exception or out-of-range result, naming
 * the parser and the frame in hex.
 */
export function fuzzWire(count: number, seed = 0x5eed): FuzzResult {
  const next = random(seed);
  const seeds = allGoldenFrames();
  const buf = new Uint8Array(2048 + 64);
  const eth = new EthernetHeader();
  const arp = new ArpPacket();
  const ip = new Ipv4Header();
  const icmp = new IcmpMessage();
  const tcp = new TcpHeader();
  const frame = new Frame();
  const known = new Set<string>(WIRE_DROP_REASONS);
  const reasons = new Map<string, number>();
  let parserCalls = 0;
  let accepted = 0;
  const started = performance.now();

  const count1 = (reason: string | undefined): void => {
    parserCalls++;
    if (reason === undefined) {
      accepted++;
      return;
    }
    if (!known.has(reason)) throw new Violation(`unknown reason ${reason}`);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  };

  for (let n = 0; n < count; n++) {
    // Build one frame into buf at a random offset.
    const offset = next() % 64;
    let length: number;
    const mode = next() % 8;
    if (mode === 0) {
      length = next() % 1600;
      for (let i = 0; i < length; i++) buf[offset + i] = next();
    } else {
      const source = seeds[next() % seeds.length];
      length = source.length;
      buf.set(source, offset);
      const mutations = 1 + (next() % 6);
      for (let m = 0; m < mutations; m++) {
        const at = offset + (next() % Math.max(1, length));
        switch (next() % 7) {
          case 0:
            buf[at] ^= 1 << (next() % 8);
            break;
          case 1:
            buf[at] = INTERESTING[next() % INTERESTING.length];
            break;
          case 2:
            buf[at] = next();
            break;
          case 3: // the header fields parsers read most: lengths, offsets, types
            buf[offset + [12, 13, 14, 16, 17, 23, 26, 34, 46, 47, 54, 55][next() % 12]] = next();
            break;
          case 4:
            length = next() % (length + 1);
            break;
          case 5: {
            const grow = next() % 64;
            for (let i = 0; i < grow; i++) buf[offset + length + i] = next();
            length = Math.min(length + grow, buf.length - offset);
            break;
          }
          default: // delete a run of bytes, shifting the rest
            buf.copyWithin(at, at + (next() % 8), offset + length);
            break;
        }
      }
    }

    // Lengths that disagree with the buffer, and offsets past it, are part of the game.
    let claimed = length;
    const lie = next() % 16;
    if (lie === 0) claimed = length + 1 + (next() % 100);
    if (lie === 1) claimed = -1 - (next() % 10);

    try {
      const end = offset + claimed;
      const ethernetReason = parseEthernet(buf, offset, claimed, eth);
      count1(ethernetReason);
      if (ethernetReason === undefined) {
        within(eth.payloadOffset, eth.payloadLength, offset, claimed, 'ethernet');
      }
      for (const start of [offset, offset + 14, offset + 18, offset + 34]) {
        const rest = end - start;
        let reason: WireDropReason | undefined = parseArp(buf, start, rest, arp);
        count1(reason);
        reason = parseIpv4(buf, start, rest, ip);
        count1(reason);
        if (reason === undefined) within(ip.payloadOffset, ip.payloadLength, start, rest, 'ipv4');
        reason = parseQuotedIpv4(buf, start, rest, ip);
        count1(reason);
        if (reason === undefined) {
          within(ip.payloadOffset, Math.max(8, ip.payloadLength), start, rest, 'quoted ipv4');
        }
        reason = parseIcmp(buf, start, rest, icmp, (n & 1) === 0);
        count1(reason);
        if (reason === undefined) {
          within(icmp.bodyOffset, icmp.bodyLength, start, rest, 'icmp');
          if (icmp.hasQuote) within(icmp.quotedTransportOffset, 8, start, rest, 'icmp quote');
        }
        reason = parseTcp(buf, start, rest, tcp);
        count1(reason);
        if (reason === undefined) {
          within(tcp.payloadOffset, tcp.payloadLength, start, rest, 'tcp');
          if (tcp.options.sackBlockCount > 4) throw new Violation('more than 4 SACK blocks');
        }
      }
      const reason = parseFrame(buf, offset, claimed, frame, (n & 2) === 0);
      count1(reason);
      if (reason === undefined && frame.kind === 'tcp') {
        within(frame.tcp.payloadOffset, frame.tcp.payloadLength, offset, claimed, 'frame tcp');
      }
    } catch (error) {
      const hex = Buffer.from(buf.subarray(offset, offset + Math.max(0, length))).toString('hex');
      const what = error instanceof Violation ? 'bad result' : 'exception';
      throw new Error(
        `fuzz frame ${n}: ${what}: ${(error as Error).message}; offset ${offset}, ` +
          `length ${claimed}, bytes ${hex}`,
        { cause: error },
      );
    }
  }

  return {
    frames: count,
    parserCalls,
    accepted,
    reasons,
    milliseconds: performance.now() - started,
  };
}
