/**
 * ARP for IPv4 over Ethernet (RFC 826). Only hardware type Ethernet with 6-byte addresses
 * and protocol type IPv4 with 4-byte addresses is supported; anything else is named.
 */
import { inBounds, read16, write16 } from './bytes.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';

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
  out.senderMac =
    (read16(buf, offset + 8) * 0x10000 + read16(buf, offset + 10)) * 0x10000 +
    read16(buf, offset + 12);
  out.senderIp = read16(buf, offset + 14) * 0x10000 + read16(buf, offset + 16);
  out.targetMac =
    (read16(buf, offset + 18) * 0x10000 + read16(buf, offset + 20)) * 0x10000 +
    read16(buf, offset + 22);
  out.targetIp = read16(buf, offset + 24) * 0x10000 + read16(buf, offset + 26);
  return undefined;
}

/** Write the fields of `packet` as an Ethernet/IPv4 ARP packet at `offset`. Returns 28. */
export function writeArp(buf: Uint8Array, offset: number, packet: ArpPacket): number {
  write16(buf, offset, ARP_HARDWARE_ETHERNET);
  write16(buf, offset + 2, ETHERTYPE_IPV4);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  write16(buf, offset + 6, packet.operation);
  // Wide values are split here, where they are read, so nothing is boxed (see bytes.ts), and
  // by division rather than `%`, which costs a library call on doubles.
  const senderMac = packet.senderMac;
  const senderIp = packet.senderIp;
  const targetMac = packet.targetMac;
  const targetIp = packet.targetIp;
  const senderHigh = Math.floor(senderMac / 0x100000000);
  const senderLow = senderMac - senderHigh * 0x100000000;
  write16(buf, offset + 8, senderHigh);
  write16(buf, offset + 10, senderLow >>> 16);
  write16(buf, offset + 12, senderLow & 0xffff);
  write16(buf, offset + 14, senderIp >>> 16);
  write16(buf, offset + 16, senderIp & 0xffff);
  const targetHigh = Math.floor(targetMac / 0x100000000);
  const targetLow = targetMac - targetHigh * 0x100000000;
  write16(buf, offset + 18, targetHigh);
  write16(buf, offset + 20, targetLow >>> 16);
  write16(buf, offset + 22, targetLow & 0xffff);
  write16(buf, offset + 24, targetIp >>> 16);
  write16(buf, offset + 26, targetIp & 0xffff);
  return ARP_LENGTH;
}
