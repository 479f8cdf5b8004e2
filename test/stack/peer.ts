import { checksum } from '../../lib/wire/checksum.js';
import { DESCRIPTOR_WORDS, type Link } from '../../lib/link/types.js';

/**
 * A host written by hand on the far end of a memory link: the tests build its frames byte
 * by byte, so the stack is checked against the RFC layouts rather than against itself.
 */
export class Peer {
  constructor(
    readonly link: Link,
    readonly ip: number[],
  ) {}

  send(frame: Uint8Array): void {
    if (this.link.txAlloc(1) !== 1) throw new Error('peer link has no TX buffer');
    const offset = this.link.txDescriptors[0];
    this.link.memory.set(frame, offset);
    this.link.txDescriptors[1] = frame.length;
    this.link.txSubmit(1);
  }

  receive(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (;;) {
      const count = this.link.rxBurst(64);
      if (count === 0) break;
      for (let i = 0; i < count; i++) {
        const offset = this.link.rxDescriptors[i * DESCRIPTOR_WORDS];
        const length = this.link.rxDescriptors[i * DESCRIPTOR_WORDS + 1];
        frames.push(this.link.memory.slice(offset, offset + length));
      }
      this.link.rxRelease();
    }
    return frames;
  }

  ethernet(destinationMac: Uint8Array, ethertype: number, payload: Uint8Array): Uint8Array {
    const frame = new Uint8Array(14 + payload.length);
    frame.set(destinationMac, 0);
    frame.set(this.link.mac, 6);
    frame[12] = ethertype >> 8;
    frame[13] = ethertype & 255;
    frame.set(payload, 14);
    return frame;
  }

  arp(
    operation: number,
    targetMac: Uint8Array,
    targetIp: number[],
    sourceIp = this.ip,
  ): Uint8Array {
    const p = new Uint8Array(28);
    p.set([0, 1, 8, 0, 6, 4, 0, operation], 0);
    p.set(this.link.mac, 8);
    p.set(sourceIp, 14);
    p.set(targetMac, 18);
    p.set(targetIp, 24);
    const broadcast = new Uint8Array(6).fill(255);
    return this.ethernet(operation === 1 ? broadcast : targetMac, 0x0806, p);
  }

  ipv4(
    destinationMac: Uint8Array,
    destination: number[],
    protocol: number,
    payload: Uint8Array,
    options: {
      id?: number;
      fragmentOffset?: number;
      moreFragments?: boolean;
      source?: number[];
    } = {},
  ): Uint8Array {
    const p = new Uint8Array(20 + payload.length);
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 255;
    const id = options.id ?? 1;
    p[4] = id >> 8;
    p[5] = id & 255;
    const word =
      ((options.moreFragments ? 0x2000 : 0) | ((options.fragmentOffset ?? 0) >> 3)) >>> 0;
    p[6] = word >> 8;
    p[7] = word & 255;
    p[8] = 64;
    p[9] = protocol;
    p.set(options.source ?? this.ip, 12);
    p.set(destination, 16);
    const sum = checksum(p, 0, 20);
    p[10] = sum >> 8;
    p[11] = sum & 255;
    p.set(payload, 20);
    return this.ethernet(destinationMac, 0x0800, p);
  }
}

export function icmpEcho(type: number, id: number, sequence: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[4] = id >> 8;
  m[5] = id & 255;
  m[6] = sequence >> 8;
  m[7] = sequence & 255;
  m.set(data, 8);
  const sum = checksum(m, 0, m.length);
  m[2] = sum >> 8;
  m[3] = sum & 255;
  return m;
}

export const ethertypeOf = (frame: Uint8Array): number => (frame[12] << 8) | frame[13];
