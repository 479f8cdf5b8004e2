/**
 * IPv4 header (RFC 791 3.1). Options are skipped by the header length, fragments are
 * recognised (the stack decides what to do with them), and the header checksum is verified
 * here unless the link already did. Addresses are unsigned 32-bit numbers.
 */
import { inBounds, read16, write16, write32 } from './bytes.js';
import { finishChecksum, foldSum, sumWords } from './checksum.js';

export const IPV4_MIN_HEADER_LENGTH = 20;
export const PROTOCOL_ICMP = 1;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;

export const IPV4_DROP_REASONS = [
  'ipv4-truncated',
  'ipv4-bad-version',
  'ipv4-bad-header-length',
  'ipv4-bad-total-length',
  'ipv4-bad-checksum',
] as const;
export type Ipv4DropReason = (typeof IPV4_DROP_REASONS)[number];

/** Reusable record of one IPv4 header. */
export class Ipv4Header {
  /** Bytes, 20..60; options, if any, are the bytes past 20. */
  headerLength = IPV4_MIN_HEADER_LENGTH;
  /** Type of service byte: DSCP (6 bits) and ECN (2 bits, RFC 3168). */
  tos = 0;
  totalLength = 0;
  identification = 0;
  dontFragment = false;
  moreFragments = false;
  /** In bytes (the field counts 8-byte units). */
  fragmentOffset = 0;
  ttl = 64;
  protocol = 0;
  checksum = 0;
  /** Unsigned 32-bit. */
  src = 0;
  dst = 0;
  /** A fragment of a larger datagram: more fragments follow, or this one is not the first. */
  fragment = false;
  payloadOffset = 0;
  /** From the total length: link padding after the datagram is not included. */
  payloadLength = 0;
}

function readFields(buf: Uint8Array, offset: number, headerLength: number, out: Ipv4Header) {
  out.headerLength = headerLength;
  out.tos = buf[offset + 1];
  out.totalLength = read16(buf, offset + 2);
  out.identification = read16(buf, offset + 4);
  const flagsAndOffset = read16(buf, offset + 6);
  // RFC 791 3.1: bit 0 reserved, bit 1 DF, bit 2 MF, then 13 bits of offset in 8-byte units.
  out.dontFragment = (flagsAndOffset & 0x4000) !== 0;
  out.moreFragments = (flagsAndOffset & 0x2000) !== 0;
  out.fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  out.fragment = out.moreFragments || out.fragmentOffset !== 0;
  out.ttl = buf[offset + 8];
  out.protocol = buf[offset + 9];
  out.checksum = read16(buf, offset + 10);
  out.src = read16(buf, offset + 12) * 0x10000 + read16(buf, offset + 14);
  out.dst = read16(buf, offset + 16) * 0x10000 + read16(buf, offset + 18);
  out.payloadOffset = offset + headerLength;
}

/**
 * Parse the IPv4 datagram of `length` bytes at `offset` (bytes past its total length, such as
 * Ethernet padding, are ignored). Never throws. With `verifyChecksum` false the header checksum
 * is trusted, for links that verified it already.
 */
export function parseIpv4(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Ipv4Header,
  verifyChecksum = true,
): Ipv4DropReason | undefined {
  if (!inBounds(buf, offset, length, IPV4_MIN_HEADER_LENGTH)) return 'ipv4-truncated';
  const first = buf[offset];
  if (first >>> 4 !== 4) return 'ipv4-bad-version';
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength > length) {
    return 'ipv4-bad-header-length';
  }
  const totalLength = read16(buf, offset + 2);
  if (totalLength < headerLength || totalLength > length) return 'ipv4-bad-total-length';
  if (verifyChecksum && finishChecksum(sumWords(buf, offset, headerLength)) !== 0) {
    return 'ipv4-bad-checksum';
  }

  readFields(buf, offset, headerLength, out);
  out.payloadLength = totalLength - headerLength;
  return undefined;
}

/**
 * Parse the IPv4 header quoted in an ICMP error (RFC 792; RFC 1812 4.3.2.3). The quote is cut
 * short by design, so the total length may exceed what is there and the checksum is not
 * checked (the router may quote the header as it forwarded it). `payloadLength` is what the
 * quote holds of the payload; at least 8 bytes of it must be there (RFC 792 "64 bits").
 */
export function parseQuotedIpv4(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Ipv4Header,
): Ipv4DropReason | undefined {
  if (!inBounds(buf, offset, length, IPV4_MIN_HEADER_LENGTH + 8)) return 'ipv4-truncated';
  const first = buf[offset];
  if (first >>> 4 !== 4) return 'ipv4-bad-version';
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH || headerLength + 8 > length) {
    return 'ipv4-bad-header-length';
  }
  const totalLength = read16(buf, offset + 2);
  if (totalLength < headerLength + 8) return 'ipv4-bad-total-length';

  readFields(buf, offset, headerLength, out);
  out.payloadLength = Math.min(totalLength, length) - headerLength;
  return undefined;
}

/**
 * Write a 20-byte header (no options) at `offset` from the fields of `header` (`totalLength`
 * included), with its checksum computed. `header.checksum` and `headerLength` are not read.
 * Returns 20.
 */
export function writeIpv4(buf: Uint8Array, offset: number, header: Ipv4Header): number {
  buf[offset] = 0x45;
  buf[offset + 1] = header.tos;
  write16(buf, offset + 2, header.totalLength);
  write16(buf, offset + 4, header.identification);
  write16(
    buf,
    offset + 6,
    (header.dontFragment ? 0x4000 : 0) |
      (header.moreFragments ? 0x2000 : 0) |
      ((header.fragmentOffset >>> 3) & 0x1fff),
  );
  buf[offset + 8] = header.ttl;
  buf[offset + 9] = header.protocol;
  buf[offset + 10] = 0;
  buf[offset + 11] = 0;
  const src = header.src;
  const dst = header.dst;
  write16(buf, offset + 12, src >>> 16);
  write16(buf, offset + 14, src & 0xffff);
  write16(buf, offset + 16, dst >>> 16);
  write16(buf, offset + 18, dst & 0xffff);
  write16(buf, offset + 10, finishChecksum(sumWords(buf, offset, IPV4_MIN_HEADER_LENGTH)));
  return IPV4_MIN_HEADER_LENGTH;
}

/**
 * The TCP/UDP pseudo-header sum of a datagram (RFC 9293 3.1), from its record: the one to use
 * on hot paths, since it reads the addresses itself rather than taking them as arguments
 * (see bytes.ts on boxing).
 */
export function ipv4PayloadPseudoSum(header: Ipv4Header): number {
  const src = header.src;
  const dst = header.dst;
  return foldSum(
    (src >>> 16) +
      (src & 0xffff) +
      (dst >>> 16) +
      (dst & 0xffff) +
      (header.protocol & 0xff) +
      (header.payloadLength & 0xffff),
  );
}

/** "198.18.0.1" */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** The number for a dotted quad ("198.18.0.1"), or undefined when it is not one. */
export function parseIpv4Address(text: string): number | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (match === null) return undefined;
  let address = 0;
  for (let group = 1; group <= 4; group++) {
    const part = match[group];
    // Leading zeros are refused: some parsers read them as octal.
    if (part.length > 1 && part[0] === '0') return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    address = address * 256 + value;
  }
  return address;
}

/** Write an address as four bytes, e.g. to build a pseudo-header from bytes. */
export function writeIpv4Address(buf: Uint8Array, at: number, address: number): void {
  write32(buf, at, address);
}
