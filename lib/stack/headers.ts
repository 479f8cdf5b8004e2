/**
 * Field offsets and writers for the Ethernet, ARP, IPv4 and ICMP headers the stack reads and
 * writes in place, in link memory (RFC 894, RFC 826, RFC 791, RFC 792).
 */
import { checksum } from '../wire/checksum.js';
import { writeIPv4 } from './address.js';

export const ETHERNET_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;

export const ARP_PACKET = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export const IPV4_HEADER = 20;
export const PROTOCOL_ICMP = 1;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;
/** RFC 791 3.1: the don't-fragment bit of the flags and fragment offset word. */
const IP_DF = 0x4000;

export const ICMP_HEADER = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_CODE_PROTOCOL_UNREACHABLE = 2;
export const ICMP_CODE_PORT_UNREACHABLE = 3;
export const ICMP_CODE_FRAGMENTATION_NEEDED = 4;

export const BROADCAST_MAC = new Uint8Array([255, 255, 255, 255, 255, 255]);

export function readUint16(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 8) | buf[offset + 1];
}

export function writeUint16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 8) & 255;
  buf[offset + 1] = value & 255;
}

export function writeEthernet(
  buf: Uint8Array,
  offset: number,
  destination: Uint8Array,
  source: Uint8Array,
  ethertype: number,
): void {
  buf.set(destination, offset);
  buf.set(source, offset + 6);
  writeUint16(buf, offset + 12, ethertype);
}

/** An ARP packet for IPv4 over Ethernet (RFC 826), 28 bytes at `offset`. */
export function writeArp(
  buf: Uint8Array,
  offset: number,
  operation: number,
  senderMac: Uint8Array,
  senderAddress: number,
  targetMac: Uint8Array,
  targetAddress: number,
): void {
  writeUint16(buf, offset, 1);
  writeUint16(buf, offset + 2, ETHERTYPE_IPV4);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  writeUint16(buf, offset + 6, operation);
  buf.set(senderMac, offset + 8);
  writeIPv4(buf, offset + 14, senderAddress);
  buf.set(targetMac, offset + 18);
  writeIPv4(buf, offset + 24, targetAddress);
}

/** A 20-byte IPv4 header with its checksum (RFC 791 3.1). */
export function writeIPv4Header(
  buf: Uint8Array,
  offset: number,
  totalLength: number,
  identification: number,
  dontFragment: boolean,
  ttl: number,
  protocol: number,
  source: number,
  destination: number,
  tos = 0,
): void {
  buf[offset] = 0x45;
  buf[offset + 1] = tos;
  writeUint16(buf, offset + 2, totalLength);
  writeUint16(buf, offset + 4, identification);
  writeUint16(buf, offset + 6, dontFragment ? IP_DF : 0);
  buf[offset + 8] = ttl;
  buf[offset + 9] = protocol;
  writeUint16(buf, offset + 10, 0);
  writeIPv4(buf, offset + 12, source);
  writeIPv4(buf, offset + 16, destination);
  writeUint16(buf, offset + 10, checksum(buf, offset, IPV4_HEADER));
}
