/**
 * One call from Ethernet frame to transport header: Ethernet, then ARP or IPv4, then TCP or
 * ICMP, with every checksum verified unless the link already verified them. The stack's
 * receive path runs this once per frame into one reusable `Frame`.
 */
import { ArpPacket, parseArp } from './arp.js';
import { finishChecksum, sumWords } from './checksum.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetHeader, parseEthernet } from './ethernet.js';
import { IcmpMessage, parseIcmp } from './icmp.js';
import {
  Ipv4Header,
  PROTOCOL_ICMP,
  PROTOCOL_TCP,
  ipv4PayloadPseudoSum,
  parseIpv4,
} from './ipv4.js';
import type { WireDropReason } from './reasons.js';
import { TcpHeader, parseTcp } from './tcp.js';

/**
 * What a well-formed frame turned out to be. `ipv4-fragment`: a fragment, its transport header
 * not parsed; `ipv4-other`: a transport protocol other than TCP and ICMP; `other`: an EtherType
 * other than IPv4 and ARP. Only the records named by the kind hold this frame's values.
 */
export type FrameKind = 'arp' | 'tcp' | 'icmp' | 'ipv4-fragment' | 'ipv4-other' | 'other';

/** Reusable records for every layer of one frame. */
export class Frame {
  kind: FrameKind = 'other';
  readonly ethernet = new EthernetHeader();
  readonly arp = new ArpPacket();
  readonly ipv4 = new Ipv4Header();
  readonly tcp = new TcpHeader();
  readonly icmp = new IcmpMessage();
}

/**
 * Parse the frame of `length` bytes at `offset` into `out`. Never throws; returns undefined
 * when well formed, else the reason. `checksumsVerified` skips the IPv4 and TCP checksum checks,
 * for links whose hardware did them; ICMP checksums, which hardware does not check, always are.
 */
export function parseFrame(
  buf: Uint8Array,
  offset: number,
  length: number,
  out: Frame,
  checksumsVerified = false,
): WireDropReason | undefined {
  out.kind = 'other';
  const ethernet = out.ethernet;
  const ethernetReason = parseEthernet(buf, offset, length, ethernet);
  if (ethernetReason !== undefined) return ethernetReason;

  if (ethernet.etherType === ETHERTYPE_ARP) {
    const reason = parseArp(buf, ethernet.payloadOffset, ethernet.payloadLength, out.arp);
    if (reason === undefined) out.kind = 'arp';
    return reason;
  }
  if (ethernet.etherType !== ETHERTYPE_IPV4) return undefined;

  const ip = out.ipv4;
  const ipReason = parseIpv4(
    buf,
    ethernet.payloadOffset,
    ethernet.payloadLength,
    ip,
    !checksumsVerified,
  );
  if (ipReason !== undefined) return ipReason;
  if (ip.fragment) {
    out.kind = 'ipv4-fragment';
    return undefined;
  }

  if (ip.protocol === PROTOCOL_TCP) {
    const reason = parseTcp(buf, ip.payloadOffset, ip.payloadLength, out.tcp);
    if (reason !== undefined) return reason;
    if (!checksumsVerified) {
      // RFC 9293 3.1: the checksum covers the pseudo-header, the header and the payload.
      const pseudo = ipv4PayloadPseudoSum(ip);
      if (finishChecksum(sumWords(buf, ip.payloadOffset, ip.payloadLength, pseudo)) !== 0) {
        return 'tcp-bad-checksum';
      }
    }
    out.kind = 'tcp';
    return undefined;
  }
  if (ip.protocol === PROTOCOL_ICMP) {
    const reason = parseIcmp(buf, ip.payloadOffset, ip.payloadLength, out.icmp);
    if (reason === undefined) out.kind = 'icmp';
    return reason;
  }
  out.kind = 'ipv4-other';
  return undefined;
}
