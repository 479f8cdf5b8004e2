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
  return (
    (buf[at] * 0x10000 + ((buf[at + 1] << 8) | buf[at + 2])) * 0x1000000 +
    ((buf[at + 3] << 16) | (buf[at + 4] << 8) | buf[at + 5])
  );
}

export function writeMac(buf: Uint8Array, at: number, mac: number): void {
  const high = Math.floor(mac / 0x1000000);
  const low = mac % 0x1000000;
  buf[at] = high >>> 16;
  buf[at + 1] = high >>> 8;
  buf[at + 2] = high;
  buf[at + 3] = low >>> 16;
  buf[at + 4] = low >>> 8;
  buf[at + 5] = low;
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
  const match =
    /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(
      text,
    );
  if (match === null) return undefined;
  let mac = 0;
  for (const group of [1, 3, 4, 5, 6, 7]) mac = mac * 256 + parseInt(match[group], 16);
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

  out.dst = readMac(buf, offset);
  out.src = readMac(buf, offset + 6);
  let etherType = read16(buf, offset + 12);
  let headerLength = ETHERNET_HEADER_LENGTH;

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
 * Write an Ethernet header at `offset`; with `vlanTci` >= 0 an 802.1Q tag carrying it is
 * inserted. Returns the header length (14 or 18).
 */
export function writeEthernet(
  buf: Uint8Array,
  offset: number,
  dst: number,
  src: number,
  etherType: number,
  vlanTci = -1,
): number {
  writeMac(buf, offset, dst);
  writeMac(buf, offset + 6, src);
  if (vlanTci < 0) {
    write16(buf, offset + 12, etherType);
    return ETHERNET_HEADER_LENGTH;
  }
  write16(buf, offset + 12, ETHERTYPE_VLAN);
  write16(buf, offset + 14, vlanTci);
  write16(buf, offset + 16, etherType);
  return ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}
