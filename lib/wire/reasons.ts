/** Every reason a wire parser gives for a malformed frame, for counters keyed by name. */
import { ARP_DROP_REASONS, type ArpDropReason } from './arp.js';
import { ETHERNET_DROP_REASONS, type EthernetDropReason } from './ethernet.js';
import { ICMP_DROP_REASONS, type IcmpDropReason } from './icmp.js';
import { IPV4_DROP_REASONS, type Ipv4DropReason } from './ipv4.js';
import { TCP_DROP_REASONS, type TcpDropReason } from './tcp.js';

export type WireDropReason =
  EthernetDropReason | ArpDropReason | Ipv4DropReason | IcmpDropReason | TcpDropReason;

export const WIRE_DROP_REASONS: readonly WireDropReason[] = [
  ...ETHERNET_DROP_REASONS,
  ...ARP_DROP_REASONS,
  ...IPV4_DROP_REASONS,
  ...ICMP_DROP_REASONS,
  ...TCP_DROP_REASONS,
];
