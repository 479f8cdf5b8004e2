/**
 * ICMPv4 (RFC 792): echo, and the error messages that quote the offending datagram
 * (destination unreachable with the next-hop MTU of RFC 1191 4, time exceeded, parameter
 * problem, redirect, source quench). The quoted IPv4 header and the first 8 bytes of its
 * transport header are parsed, so a stack can find the connection an error is about.
 */
import { inBounds, read16, write16, write32 } from './bytes.js';
import { finishChecksum, sumWords } from './checksum.js';
import { Ipv4Header, parseQuotedIpv4 } from './ipv4.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DESTINATION_UNREACHABLE = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

/** Destination unreachable codes (RFC 792; RFC 1122 3.2.2.1; RFC 1812 5.2.7.1). */
export const UNREACHABLE_NET = 0;
export const UNREACHABLE_HOST = 1;
export const UNREACHABLE_PROTOCOL = 2;
export const UNREACHABLE_PORT = 3;
export const UNREACHABLE_FRAGMENTATION_NEEDED = 4;
export const UNREACHABLE_SOURCE_ROUTE_FAILED = 5;
export const UNREACHABLE_ADMINISTRATIVELY_PROHIBITED = 13;

/** Time exceeded codes. */
export const TIME_EXCEEDED_IN_TRANSIT = 0;
export const TIME_EXCEEDED_REASSEMBLY = 1;

export const ICMP_HEADER_LENGTH = 8;
/** RFC 1812 4.3.2.3: an error message, IP header included, stays within 576 bytes. */
export const ICMP_ERROR_MAX_QUOTE = 576 - 20 - ICMP_HEADER_LENGTH;

export const ICMP_DROP_REASONS = [
  'icmp-truncated',
  'icmp-bad-checksum',
  'icmp-bad-quoted-header',
] as const;
export type IcmpDropReason = (typeof ICMP_DROP_REASONS)[number];

/** Whether messages of this type quote the datagram that caused them. */
export function isIcmpError(type: number): boolean {
  return (
    type === ICMP_DESTINATION_UNREACHABLE ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETER_PROBLEM ||
    type === ICMP_REDIRECT ||
    type === ICMP_SOURCE_QUENCH
  );
}

/** Reusable record of one ICMP message. */
export class IcmpMessage {
  type = 0;
  code = 0;
  checksum = 0;
  /** The second word of the header, whatever the type makes of it. */
  rest = 0;
  /** Echo request and reply. */
  identifier = 0;
  sequence = 0;
  /** Fragmentation needed (RFC 1191 4); 0 from routers older than that. */
  nextHopMtu = 0;
  /** Parameter problem: the offset of the offending byte. */
  pointer = 0;
  /** Redirect: the better first hop. */
  gateway = 0;
  /** After the 8-byte header: echo data, or the quoted datagram of an error. */
  bodyOffset = 0;
  bodyLength = 0;
  /** An error with its quote parsed into the fields below. */
  hasQuote = false;
  readonly quoted = new Ipv4Header();
  /** Absolute offset of the quoted transport header; 8 bytes of it at least are there. */
  quotedTransportOffset = 0;
  /** First and second 16-bit words of the quoted transport header (TCP and UDP ports). */
  quotedSrcPort = 0;
  quotedDstPort = 0;
  /** Bytes 4..7 of the quoted transport header: the sequence number when it is TCP. */
  quotedSeq = 0;
}

/**
 * Parse the ICMP message of `length` bytes at `offset` (the IPv4 payload). Never throws. An
 * error message whose quote is not an IPv4 header plus 8 bytes is malformed. Unknown types are
 * not: they parse, and the caller decides.
 */
export function parseIcmp(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: IcmpMessage,
  verifyChecksum = true,
): IcmpDropReason | undefined {
  if (!inBounds(buf, offset, length, ICMP_HEADER_LENGTH)) return 'icmp-truncated';
  if (verifyChecksum && finishChecksum(sumWords(buf, offset, length)) !== 0) {
    return 'icmp-bad-checksum';
  }

  const type = buf[offset];
  out.type = type;
  out.code = buf[offset + 1];
  out.checksum = read16(buf, offset + 2);
  out.rest = read16(buf, offset + 4) * 0x10000 + read16(buf, offset + 6);
  out.identifier = read16(buf, offset + 4);
  out.sequence = read16(buf, offset + 6);
  out.nextHopMtu = type === ICMP_DESTINATION_UNREACHABLE ? read16(buf, offset + 6) : 0;
  out.pointer = type === ICMP_PARAMETER_PROBLEM ? buf[offset + 4] : 0;
  out.gateway = type === ICMP_REDIRECT ? out.rest : 0;
  out.bodyOffset = offset + ICMP_HEADER_LENGTH;
  out.bodyLength = length - ICMP_HEADER_LENGTH;

  out.hasQuote = isIcmpError(type);
  if (!out.hasQuote) return undefined;
  if (parseQuotedIpv4(buf, out.bodyOffset, out.bodyLength, out.quoted) !== undefined) {
    return 'icmp-bad-quoted-header';
  }
  const transport = out.quoted.payloadOffset;
  out.quotedTransportOffset = transport;
  out.quotedSrcPort = read16(buf, transport);
  out.quotedDstPort = read16(buf, transport + 2);
  out.quotedSeq = read16(buf, transport + 4) * 0x10000 + read16(buf, transport + 6);
  return undefined;
}

/**
 * Write an echo request or reply at `offset` whose `dataLength` bytes of data the caller has
 * already put at `offset + 8`; the checksum covers them. Returns the message length. `code` is
 * 0 (RFC 792); a reply may echo whatever code its request carried, as Linux does.
 */
export function writeIcmpEcho(
  buf: Uint8Array,
  offset: number,
  type: typeof ICMP_ECHO_REQUEST | typeof ICMP_ECHO_REPLY,
  identifier: number,
  sequence: number,
  dataLength: number,
  code = 0,
): number {
  buf[offset] = type;
  buf[offset + 1] = code;
  write16(buf, offset + 2, 0);
  write16(buf, offset + 4, identifier);
  write16(buf, offset + 6, sequence);
  const length = ICMP_HEADER_LENGTH + dataLength;
  write16(buf, offset + 2, finishChecksum(sumWords(buf, offset, length)));
  return length;
}

/**
 * Write an error message at `offset` quoting `quoteLength` bytes of `quote` from
 * `quoteOffset` (the offending datagram, its IP header first), cut to what RFC 1812 4.3.2.3
 * allows. `rest` is the second header word: the next-hop MTU for fragmentation needed, the
 * pointer (in the top byte) for parameter problem, else 0. Returns the message length.
 */
export function writeIcmpError(
  buf: Uint8Array,
  offset: number,
  type: number,
  code: number,
  rest: number,
  quote: Uint8Array,
  quoteOffset: number,
  quoteLength: number,
): number {
  const quoted = Math.min(quoteLength, ICMP_ERROR_MAX_QUOTE);
  // Copied before the header is written: the quote may overlap it in the same memory
  // (`set` copies overlapping ranges of one buffer correctly).
  buf.set(quote.subarray(quoteOffset, quoteOffset + quoted), offset + ICMP_HEADER_LENGTH);
  buf[offset] = type;
  buf[offset + 1] = code;
  write16(buf, offset + 2, 0);
  write32(buf, offset + 4, rest);
  const length = ICMP_HEADER_LENGTH + quoted;
  write16(buf, offset + 2, finishChecksum(sumWords(buf, offset, length)));
  return length;
}
