/**
 * Ethernet II framing (IEEE 802.3 clause 3 with an EtherType) and one IEEE 802.1Q tag.
 * MAC addresses are handled as 48-bit numbers: a double holds them exactly, they compare
 * with `===`, and records keep no reference to the frame they came from.
 */
import { inBounds, read16, write16 } from './bytes.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_HEADER_LENGTH = 14;
export const VLAN_TAG_LENGTH = 4;
export const BROADCAST_MAC = 0xffffffffffff;

export const ETHERNET_DROP_REASONS = ['eth-truncated', 'eth-not-ethernet-ii'] as const;
export type EthernetDropReason = (typeof ETHERNET_DROP_REASONS)[number];

/** Reusable record of one Ethernet header. */
export class EthernetHeader {
  /** 48-bit numbers. */
  dst = 0;
  src = 0;
  /** The EtherType after any 802.1Q tag. */
  etherType = 0;
  /** An 802.1Q tag was present; its fields follow. */
  vlan = false;
  vlanId = 0;
  /** Priority code point, 0..7. */
  vlanPriority = 0;
  /** Drop eligible indicator. */
  vlanDropEligible = false;
  /** 14, or 18 with a tag. */
  headerLength = ETHERNET_HEADER_LENGTH;
  payloadOffset = 0;
  /** Up to the end of the frame, link-layer padding included. */
  payloadLength = 0;
}

export function readMac(buf: Uint8Array, at: number): number {
  return (read16(buf, at) * 0x10000 + read16(buf, at + 2)) * 0x10000 + read16(buf, at + 4);
}

export function writeMac(buf: Uint8Array, at: number, mac: number): void {
  const high = Math.floor(mac / 0x100000000);
  const low = mac - high * 0x100000000;
  write16(buf, at, high);
  write16(buf, at + 2, low >>> 16);
  write16(buf, at + 4, low & 0xffff);
}

/** The I/G bit: group (multicast or broadcast) addresses. */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / 0x10000000000) & 1) === 1;
}

/** "02:00:5e:10:00:01" */
export function formatMac(mac: number): string {
  let text = '';
  for (let shift = 40; shift >= 0; shift -= 8) {
    const byte = Math.floor(mac / 2 ** shift) & 0xff;
    text += (shift === 40 ? '' : ':') + byte.toString(16).padStart(2, '0');
  }
  return text;
}

/** The number for "aa:bb:cc:dd:ee:ff" (or with dashes), or undefined when it is not one. */
export function parseMac(text: string): number | undefined {
  if (!/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(text)) return undefined;
  let mac = 0;
  for (let at = 0; at < 17; at += 3) mac = mac * 256 + parseInt(text.slice(at, at + 2), 16);
  return mac;
}

/** The six bytes of a MAC number, e.g. for a link's `mac` field. */
export function macBytes(mac: number): Uint8Array {
  const bytes = new Uint8Array(6);
  writeMac(bytes, 0, mac);
  return bytes;
}

/**
 * Parse the Ethernet header of the `length`-byte frame at `offset`. Never throws. Frames whose
 * type field is a length (below 0x0600: IEEE 802.3 with LLC) are not Ethernet II.
 */
export function parseEthernet(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: EthernetHeader,
): EthernetDropReason | undefined {
  if (!inBounds(buf, offset, length, ETHERNET_HEADER_LENGTH)) return 'eth-truncated';

  out.dst =
    (read16(buf, offset) * 0x10000 + read16(buf, offset + 2)) * 0x10000 + read16(buf, offset + 4);
  out.src =
    (read16(buf, offset + 6) * 0x10000 + read16(buf, offset + 8)) * 0x10000 +
    read16(buf, offset + 10);
  let etherType = read16(buf, offset + 12);
  let headerLength = ETHERNET_HEADER_LENGTH;

  // Limitation: one 802.1Q tag only; a stacked tag (802.1ad, outer type 0x88a8 or a second
  // 0x8100) is left as the EtherType and the frame reads as 'other'; fixing it needs a loop
  // over tags and a record field per tag.
  out.vlan = etherType === ETHERTYPE_VLAN;
  if (out.vlan) {
    if (length < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) return 'eth-truncated';
    // IEEE 802.1Q 9.6: PCP (3 bits), DEI (1 bit), VID (12 bits), then the inner type.
    const tci = read16(buf, offset + 14);
    out.vlanPriority = tci >>> 13;
    out.vlanDropEligible = (tci & 0x1000) !== 0;
    out.vlanId = tci & 0x0fff;
    etherType = read16(buf, offset + 16);
    headerLength += VLAN_TAG_LENGTH;
  } else {
    out.vlanPriority = 0;
    out.vlanDropEligible = false;
    out.vlanId = 0;
  }
  if (etherType < 0x0600) return 'eth-not-ethernet-ii';

  out.etherType = etherType;
  out.headerLength = headerLength;
  out.payloadOffset = offset + headerLength;
  out.payloadLength = length - headerLength;
  return undefined;
}

/**
 * Write the Ethernet header described by `header` at `offset`: with `header.vlan` an 802.1Q tag
 * carrying its priority, drop eligibility and VLAN ID. Returns the header length (14 or 18).
 */
export function writeEthernet(buf: Uint8Array, offset: number, header: EthernetHeader): number {
  // The MACs are split into 16-bit parts here, where they are read: handing a 48-bit number
  // to another function may box it on the heap (see bytes.ts).
  // Division and subtraction rather than `%`, which costs a library call on doubles.
  const dst = header.dst;
  const dstHigh = Math.floor(dst / 0x100000000);
  const dstLow = dst - dstHigh * 0x100000000;
  const src = header.src;
  const srcHigh = Math.floor(src / 0x100000000);
  const srcLow = src - srcHigh * 0x100000000;
  write16(buf, offset, dstHigh);
  write16(buf, offset + 2, dstLow >>> 16);
  write16(buf, offset + 4, dstLow & 0xffff);
  write16(buf, offset + 6, srcHigh);
  write16(buf, offset + 8, srcLow >>> 16);
  write16(buf, offset + 10, srcLow & 0xffff);
  if (!header.vlan) {
    write16(buf, offset + 12, header.etherType);
    return ETHERNET_HEADER_LENGTH;
  }
  write16(buf, offset + 12, ETHERTYPE_VLAN);
  write16(
    buf,
    offset + 14,
    (header.vlanPriority << 13) | (header.vlanDropEligible ? 0x1000 : 0) | (header.vlanId & 0xfff),
  );
  write16(buf, offset + 16, header.etherType);
  return ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}
