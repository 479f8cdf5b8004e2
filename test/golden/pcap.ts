import { readFileSync } from 'node:fs';

/** One captured frame: its bytes and when it was seen (seconds since the epoch). */
export interface CapturedFrame {
  time: number;
  bytes: Uint8Array;
  /** Length on the wire; more than `bytes.length` when the capture cut it short. */
  originalLength: number;
}

const LINKTYPE_ETHERNET = 1;

/**
 * Read a classic pcap file (the format tcpdump -w writes): a 24-byte file header, then per
 * frame a 16-byte record header and the captured bytes. Either byte order, micro- or
 * nanosecond timestamps. Only Ethernet captures are accepted.
 */
export function readPcap(path: string): CapturedFrame[] {
  const file = readFileSync(path);
  if (file.length < 24) throw new Error(`${path}: shorter than a pcap header`);
  const magic = file.readUInt32LE(0);
  let littleEndian: boolean;
  let fractionPerSecond: number;
  if (magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1) {
    littleEndian = magic === 0xa1b2c3d4;
    fractionPerSecond = 1e6;
  } else if (magic === 0xa1b23c4d || magic === 0x4d3cb2a1) {
    littleEndian = magic === 0xa1b23c4d;
    fractionPerSecond = 1e9;
  } else {
    throw new Error(`${path}: not a pcap file (magic ${magic.toString(16)})`);
  }
  const u32 = (at: number): number =>
    littleEndian ? file.readUInt32LE(at) : file.readUInt32BE(at);
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${path}: link type ${u32(20)}, not Ethernet`);

  const frames: CapturedFrame[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    const capturedLength = u32(at + 8);
    const start = at + 16;
    if (start + capturedLength > file.length) throw new Error(`${path}: last frame cut short`);
    frames.push({
      time: u32(at) + u32(at + 4) / fractionPerSecond,
      bytes: new Uint8Array(file.subarray(start, start + capturedLength)),
      originalLength: u32(at + 12),
    });
    at = start + capturedLength;
  }
  return frames;
}
