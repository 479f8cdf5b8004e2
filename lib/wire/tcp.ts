/**
 * TCP header and options (RFC 9293 3.1; options from RFC 9293 3.2, RFC 7323 for window scale
 * and timestamps, RFC 2018 for SACK). Parsing fills a reusable `TcpHeader` and never throws;
 * a malformed header yields a drop reason. Writing follows the option layout recorded in
 * `TcpOptions.kinds`, so a parsed header written back gives the same bytes (unknown options
 * aside: they are skipped by their length and not kept).
 */
import { inBounds, read16, write16 } from './bytes.js';
import { finishChecksum, sumWords } from './checksum.js';

export const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80;

export const OPT_EOL = 0,
  OPT_NOP = 1,
  OPT_MSS = 2,
  OPT_WINDOW_SCALE = 3,
  OPT_SACK_PERMITTED = 4,
  OPT_SACK = 5,
  OPT_TIMESTAMP = 8;

export const TCP_MIN_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;
/** At most four SACK blocks fit in 40 bytes of options (RFC 2018 3). */
export const TCP_MAX_SACK_BLOCKS = 4;

export const TCP_DROP_REASONS = [
  'tcp-truncated',
  'tcp-bad-data-offset',
  'tcp-bad-option-length',
  'tcp-bad-checksum',
] as const;
export type TcpDropReason = (typeof TCP_DROP_REASONS)[number];

/** Reusable record of the options of one segment. */
export class TcpOptions {
  /** -1 when absent. */
  mss = -1;
  /** -1 when absent; the raw shift as on the wire (not clamped to 14, RFC 7323 2.3). */
  windowScale = -1;
  sackPermitted = false;
  /** The timestamps option is present. */
  timestamp = false;
  /** Unsigned 32-bit. */
  tsVal = 0;
  /** Unsigned 32-bit. */
  tsEcr = 0;
  /** 0..4. */
  sackBlockCount = 0;
  /** Left and right edge of each block: left0, right0, left1, right1, ... */
  readonly sackBlocks = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  /**
   * The option kinds in wire order, EOL and NOP included (`kindCount` entries). Parsing records
   * it; writing follows it exactly, taking the values from the fields above.
   */
  kindCount = 0;
  readonly kinds = new Uint8Array(40);

  /** Back to "no options". */
  reset(): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.timestamp = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackBlockCount = 0;
    this.kindCount = 0;
  }

  /** Append a kind to the layout (values come from the fields when written). */
  push(kind: number): void {
    if (this.kindCount < this.kinds.length) this.kinds[this.kindCount++] = kind;
  }

  copyFrom(other: TcpOptions): void {
    this.mss = other.mss;
    this.windowScale = other.windowScale;
    this.sackPermitted = other.sackPermitted;
    this.timestamp = other.timestamp;
    this.tsVal = other.tsVal;
    this.tsEcr = other.tsEcr;
    this.sackBlockCount = other.sackBlockCount;
    this.sackBlocks.set(other.sackBlocks);
    this.kindCount = other.kindCount;
    this.kinds.set(other.kinds);
  }
}

/** Reusable record of one TCP header. */
export class TcpHeader {
  srcPort = 0;
  dstPort = 0;
  /** Unsigned 32-bit. */
  seq = 0;
  /** Unsigned 32-bit. */
  ack = 0;
  /** Bytes, 20..60. */
  headerLength = TCP_MIN_HEADER_LENGTH;
  /** FIN..CWR bits. */
  flags = 0;
  /** The raw 16-bit field, unscaled. */
  window = 0;
  checksum = 0;
  urgentPointer = 0;
  readonly options = new TcpOptions();
  /** Absolute offset of the payload in the parsed buffer. */
  payloadOffset = 0;
  payloadLength = 0;
}

/**
 * Parse the options in `[start, end)`. A known option with a length other than its own, an
 * option length below 2 or one running past the header is malformed (RFC 9293 3.1: the
 * length counts kind and length bytes). Unknown kinds are skipped by their length.
 */
function parseOptions(
  buf: Uint8Array,
  start: number,
  end: number,
  options: TcpOptions,
): TcpDropReason | undefined {
  let i = start;
  while (i < end) {
    const kind = buf[i];
    if (kind === OPT_EOL) {
      // RFC 9293 3.1: the end of the option list; what follows is padding.
      options.push(OPT_EOL);
      return undefined;
    }
    if (kind === OPT_NOP) {
      options.push(OPT_NOP);
      i++;
      continue;
    }
    if (i + 1 >= end) return 'tcp-bad-option-length';
    const size = buf[i + 1];
    if (size < 2 || i + size > end) return 'tcp-bad-option-length';

    switch (kind) {
      case OPT_MSS:
        if (size !== 4) return 'tcp-bad-option-length';
        options.mss = read16(buf, i + 2);
        break;
      case OPT_WINDOW_SCALE:
        if (size !== 3) return 'tcp-bad-option-length';
        options.windowScale = buf[i + 2];
        break;
      case OPT_SACK_PERMITTED:
        if (size !== 2) return 'tcp-bad-option-length';
        options.sackPermitted = true;
        break;
      case OPT_SACK: {
        // RFC 2018 3: 2 + 8n bytes, n blocks of left and right edges.
        const count = (size - 2) >>> 3;
        if (size !== 2 + 8 * count || count === 0 || count > TCP_MAX_SACK_BLOCKS) {
          return 'tcp-bad-option-length';
        }
        for (let b = 0; b < 2 * count; b++) {
          const at = i + 2 + 4 * b;
          options.sackBlocks[b] = read16(buf, at) * 0x10000 + read16(buf, at + 2);
        }
        options.sackBlockCount = count;
        break;
      }
      case OPT_TIMESTAMP:
        if (size !== 10) return 'tcp-bad-option-length';
        options.timestamp = true;
        options.tsVal = read16(buf, i + 2) * 0x10000 + read16(buf, i + 4);
        options.tsEcr = read16(buf, i + 6) * 0x10000 + read16(buf, i + 8);
        break;
      default:
        i += size;
        continue;
    }
    options.push(kind);
    i += size;
  }
  return undefined;
}

/**
 * Parse `length` bytes at `offset` (a TCP header plus payload). Never throws. Returns undefined
 * when well formed, else a drop reason. The checksum is not checked here (see `tcpChecksumOk`).
 */
export function parseTcp(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: TcpHeader,
): TcpDropReason | undefined {
  if (!inBounds(buf, offset, length, TCP_MIN_HEADER_LENGTH)) return 'tcp-truncated';
  const headerLength = (buf[offset + 12] >>> 4) * 4;
  // RFC 9293 3.1: the data offset counts 32-bit words and is at least 5.
  if (headerLength < TCP_MIN_HEADER_LENGTH || headerLength > length) {
    return 'tcp-bad-data-offset';
  }

  out.srcPort = read16(buf, offset);
  out.dstPort = read16(buf, offset + 2);
  out.seq = read16(buf, offset + 4) * 0x10000 + read16(buf, offset + 6);
  out.ack = read16(buf, offset + 8) * 0x10000 + read16(buf, offset + 10);
  out.headerLength = headerLength;
  out.flags = buf[offset + 13];
  out.window = read16(buf, offset + 14);
  out.checksum = read16(buf, offset + 16);
  out.urgentPointer = read16(buf, offset + 18);
  out.payloadOffset = offset + headerLength;
  out.payloadLength = length - headerLength;

  out.options.reset();
  if (headerLength === TCP_MIN_HEADER_LENGTH) return undefined;
  return parseOptions(buf, offset + TCP_MIN_HEADER_LENGTH, offset + headerLength, out.options);
}

/** Bytes one option of `kind` takes when written; 0 for kinds that are not written. */
function optionLength(kind: number, options: TcpOptions): number {
  switch (kind) {
    case OPT_EOL:
    case OPT_NOP:
      return 1;
    case OPT_MSS:
      return 4;
    case OPT_WINDOW_SCALE:
      return 3;
    case OPT_SACK_PERMITTED:
      return 2;
    case OPT_SACK:
      return options.sackBlockCount > 0 ? 2 + 8 * options.sackBlockCount : 0;
    case OPT_TIMESTAMP:
      return 10;
    default:
      return 0;
  }
}

/**
 * Bytes the header will take with these options (20 + options, padded to 4). A SACK kind with
 * no blocks and kinds this module does not know are not written and take no room.
 */
export function tcpHeaderLength(options: TcpOptions): number {
  let size = 0;
  for (let k = 0; k < options.kindCount; k++) size += optionLength(options.kinds[k], options);
  return TCP_MIN_HEADER_LENGTH + ((size + 3) & ~3);
}

/**
 * Write header and options at `offset` following `options.kinds`; padding is zero (EOL). The
 * checksum field gets `header.checksum` (callers fill it after, see `fillTcpChecksum`). Returns
 * the header length. Throws RangeError when the options need more than 40 bytes, a caller bug.
 */
export function writeTcp(buf: Uint8Array, offset: number, header: TcpHeader): number {
  const options = header.options;
  const headerLength = tcpHeaderLength(options);
  if (headerLength > TCP_MAX_HEADER_LENGTH) {
    throw new RangeError(`TCP options need ${headerLength - 20} bytes, more than 40`);
  }

  write16(buf, offset, header.srcPort);
  write16(buf, offset + 2, header.dstPort);
  // 32-bit values are split here, where they are read, so nothing is boxed (see bytes.ts).
  const seq = header.seq >>> 0;
  const ack = header.ack >>> 0;
  write16(buf, offset + 4, seq >>> 16);
  write16(buf, offset + 6, seq & 0xffff);
  write16(buf, offset + 8, ack >>> 16);
  write16(buf, offset + 10, ack & 0xffff);
  buf[offset + 12] = (headerLength >>> 2) << 4;
  buf[offset + 13] = header.flags;
  write16(buf, offset + 14, header.window);
  write16(buf, offset + 16, header.checksum);
  write16(buf, offset + 18, header.urgentPointer);

  let i = offset + TCP_MIN_HEADER_LENGTH;
  for (let k = 0; k < options.kindCount; k++) {
    const kind = options.kinds[k];
    switch (kind) {
      case OPT_EOL:
      case OPT_NOP:
        buf[i++] = kind;
        break;
      case OPT_MSS:
        buf[i] = OPT_MSS;
        buf[i + 1] = 4;
        write16(buf, i + 2, options.mss);
        i += 4;
        break;
      case OPT_WINDOW_SCALE:
        buf[i] = OPT_WINDOW_SCALE;
        buf[i + 1] = 3;
        buf[i + 2] = options.windowScale;
        i += 3;
        break;
      case OPT_SACK_PERMITTED:
        buf[i] = OPT_SACK_PERMITTED;
        buf[i + 1] = 2;
        i += 2;
        break;
      case OPT_SACK: {
        const count = options.sackBlockCount;
        if (count === 0) break;
        buf[i] = OPT_SACK;
        buf[i + 1] = 2 + 8 * count;
        for (let b = 0; b < 2 * count; b++) {
          const edge = options.sackBlocks[b];
          write16(buf, i + 2 + 4 * b, edge >>> 16);
          write16(buf, i + 4 + 4 * b, edge & 0xffff);
        }
        i += 2 + 8 * count;
        break;
      }
      case OPT_TIMESTAMP: {
        buf[i] = OPT_TIMESTAMP;
        buf[i + 1] = 10;
        const tsVal = options.tsVal >>> 0;
        const tsEcr = options.tsEcr >>> 0;
        write16(buf, i + 2, tsVal >>> 16);
        write16(buf, i + 4, tsVal & 0xffff);
        write16(buf, i + 6, tsEcr >>> 16);
        write16(buf, i + 8, tsEcr & 0xffff);
        i += 10;
        break;
      }
      default:
        break;
    }
  }
  const end = offset + headerLength;
  while (i < end) buf[i++] = OPT_EOL;

  return headerLength;
}

/**
 * Compute and store the checksum of the segment (`length` bytes at `offset`, header and
 * payload) given the pseudo-header sum (`pseudoHeaderSum` or `ipv4PseudoHeaderSum` with
 * protocol 6 and this length). Returns the value written.
 */
export function fillTcpChecksum(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoSum: number,
): number {
  buf[offset + 16] = 0;
  buf[offset + 17] = 0;
  const value = finishChecksum(sumWords(buf, offset, length, pseudoSum));
  write16(buf, offset + 16, value);
  return value;
}

/** Whether the segment's checksum is right, given its pseudo-header sum (RFC 9293 3.1). */
export function tcpChecksumOk(
  buf: Uint8Array,
  offset: number,
  length: number,
  pseudoSum: number,
): boolean {
  return finishChecksum(sumWords(buf, offset, length, pseudoSum)) === 0;
}
