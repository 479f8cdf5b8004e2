import { DESCRIPTOR_WORDS, type Link } from '../../lib/link/types.js';

/**
 * Test frames: Ethernet II + IPv4 + UDP, payload starting with a 32-bit sequence number so a
 * receiver can tell frames apart. Checksums are left zero: links do not look at them.
 */
export function udpFrame(sequence: number, options: FrameOptions = {}): Uint8Array {
  const payload = options.payloadBytes ?? 18;
  const frame = new Uint8Array(14 + 20 + 8 + payload);
  const view = new DataView(frame.buffer);
  frame.set(options.destinationMac ?? [0x02, 0, 0, 0, 0, 2], 0);
  frame.set(options.sourceMac ?? [0x02, 0, 0, 0, 0, 1], 6);
  view.setUint16(12, 0x0800);
  frame[14] = 0x45;
  frame[15] = options.tos ?? 0;
  view.setUint16(16, 20 + 8 + payload);
  frame[22] = 64;
  frame[23] = 17;
  frame.set(options.source ?? [198, 18, 0, 1], 26);
  frame.set(options.destination ?? [198, 18, 0, 2], 30);
  view.setUint16(34, 40000);
  view.setUint16(36, 9);
  view.setUint16(38, 8 + payload);
  if (payload >= 4) view.setUint32(42, sequence >>> 0);
  for (let i = 46; i < frame.length; i++) frame[i] = (sequence + i) & 0xff;
  return frame;
}

export interface FrameOptions {
  payloadBytes?: number;
  /** The IPv4 type-of-service byte: DSCP and the ECN field. */
  tos?: number;
  source?: number[];
  destination?: number[];
  sourceMac?: number[];
  destinationMac?: number[];
}

/** An ARP request (RFC 826) asking who has `target`. */
export function arpRequest(target: number[], sender = [198, 18, 0, 1]): Uint8Array {
  const frame = new Uint8Array(42);
  const view = new DataView(frame.buffer);
  frame.fill(0xff, 0, 6);
  frame.set([0x02, 0, 0, 0, 0, 1], 6);
  view.setUint16(12, 0x0806);
  view.setUint16(14, 1);
  view.setUint16(16, 0x0800);
  frame[18] = 6;
  frame[19] = 4;
  view.setUint16(20, 1);
  frame.set([0x02, 0, 0, 0, 0, 1], 22);
  frame.set(sender, 28);
  frame.set(target, 38);
  return frame;
}

export function sequenceOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset).getUint32(42);
}

/** Sends `frames` as bursts; returns how many the link accepted. */
export function send(link: Link, frames: readonly Uint8Array[]): number {
  let sent = 0;
  for (let i = 0; i < frames.length;) {
    const granted = link.txAlloc(frames.length - i);
    if (granted === 0) break;
    for (let k = 0; k < granted; k++) {
      const frame = frames[i + k];
      const d = k * DESCRIPTOR_WORDS;
      link.memory.set(frame, link.txDescriptors[d]);
      link.txDescriptors[d + 1] = frame.length;
    }
    sent += link.txSubmit(granted);
    i += granted;
  }
  return sent;
}

/** Takes every waiting frame, copied out of the arena. */
export function receiveAll(link: Link, max = link.burstSize): Uint8Array[] {
  const frames: Uint8Array[] = [];
  while (true) {
    const count = link.rxBurst(max);
    if (count === 0) break;
    for (let k = 0; k < count; k++) {
      const offset = link.rxDescriptors[k * DESCRIPTOR_WORDS];
      const length = link.rxDescriptors[k * DESCRIPTOR_WORDS + 1];
      frames.push(link.memory.slice(offset, offset + length));
    }
  }
  link.rxRelease();
  return frames;
}
