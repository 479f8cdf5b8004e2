/**
 * ARP for IPv4 over Ethernet (RFC 826). Only hardware type Ethernet with 6-byte addresses
 * and protocol type IPv4 with 4-byte addresses is supported; anything else is named.
 */
import { inBounds, read16, read32, write16, write32 } from './bytes.js';
import { ETHERTYPE_IPV4, readMac, writeMac } from './ethernet.js';

export const ARP_LENGTH = 28;
export const ARP_HARDWARE_ETHERNET = 1;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export const ARP_DROP_REASONS = ['arp-truncated', 'arp-unsupported', 'arp-bad-operation'] as const;
export type ArpDropReason = (typeof ARP_DROP_REASONS)[number];

/** Reusable record of one ARP packet. MACs are 48-bit numbers, addresses 32-bit. */
export class ArpPacket {
  operation = 0;
  senderMac = 0;
  senderIp = 0;
  targetMac = 0;
  targetIp = 0;
}

/** Parse the ARP packet at `offset` (Ethernet padding after its 28 bytes is ignored). */
export function parseArp(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: ArpPacket,
): ArpDropReason | undefined {
  if (!inBounds(buf, offset, length, ARP_LENGTH)) return 'arp-truncated';
  if (
    read16(buf, offset) !== ARP_HARDWARE_ETHERNET ||
    read16(buf, offset + 2) !== ETHERTYPE_IPV4 ||
    buf[offset + 4] !== 6 ||
    buf[offset + 5] !== 4
  ) {
    return 'arp-unsupported';
  }
  const operation = read16(buf, offset + 6);
  if (operation !== ARP_REQUEST && operation !== ARP_REPLY) return 'arp-bad-operation';

  out.operation = operation;
  out.senderMac = readMac(buf, offset + 8);
  out.senderIp = read32(buf, offset + 14);
  out.targetMac = readMac(buf, offset + 18);
  out.targetIp = read32(buf, offset + 24);
  return undefined;
}

/** Write the fields of `packet` as an Ethernet/IPv4 ARP packet at `offset`. Returns 28. */
export function writeArp(buf: Uint8Array, offset: number, packet: ArpPacket): number {
  write16(buf, offset, ARP_HARDWARE_ETHERNET);
  write16(buf, offset + 2, ETHERTYPE_IPV4);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  write16(buf, offset + 6, packet.operation);
  writeMac(buf, offset + 8, packet.senderMac);
  write32(buf, offset + 14, packet.senderIp);
  writeMac(buf, offset + 18, packet.targetMac);
  write32(buf, offset + 24, packet.targetIp);
  return ARP_LENGTH;
}
