// ICMPv4 type and code (RFC 792, RFC 1812 5.2.7.1) to the kind of error the core acts on.
// Which kinds are hard errors is the core's decision (RFC 1122 4.2.3.9, RFC 5927); this table
// only names each message. A redirect says nothing about the connection and is not passed on.

import { type IcmpErrorKind } from '../../tcp/input.js';

const UNREACHABLE: (IcmpErrorKind | undefined)[] = [
  'net-unreachable', // 0 net unreachable
  'host-unreachable', // 1 host unreachable
  'protocol-unreachable', // 2
  'port-unreachable', // 3
  'fragmentation-needed', // 4 fragmentation needed and DF set
  'host-unreachable', // 5 source route failed
  'net-unreachable', // 6 destination network unknown
  'host-unreachable', // 7 destination host unknown
  'host-unreachable', // 8 source host isolated
  'admin-prohibited', // 9 network administratively prohibited
  'admin-prohibited', // 10 host administratively prohibited
  'net-unreachable', // 11 network unreachable for TOS
  'host-unreachable', // 12 host unreachable for TOS
  'admin-prohibited', // 13 communication administratively prohibited (filtered)
  'host-unreachable', // 14 host precedence violation
  'host-unreachable', // 15 precedence cutoff in effect
];

export function icmpKind(type: number, code: number): IcmpErrorKind | undefined {
  switch (type) {
    case 3:
      return UNREACHABLE[code];
    case 4:
      return 'source-quench';
    case 11:
      // Code 0, TTL exceeded in transit; code 1 (reassembly timeout) concerns fragments,
      // which TCP segments sent with DF never need.
      return code === 0 ? 'time-exceeded' : undefined;
    case 12:
      return 'parameter-problem';
    default:
      return undefined;
  }
}

/** packetdrill's names of ICMPv4 unreachable codes (RFC 792, RFC 1812 5.2.7.1). */
const UNREACHABLE_CODES: Record<string, number> = {
  net_unreachable: 0,
  host_unreachable: 1,
  protocol_unreachable: 2,
  port_unreachable: 3,
  frag_needed: 4,
  source_route_failed: 5,
  net_unknown: 6,
  host_unknown: 7,
  source_host_isolated: 8,
  net_prohibited: 9,
  host_prohibited: 10,
  net_unreachable_for_tos: 11,
  host_unreachable_for_tos: 12,
  packet_filtered: 13,
  precedence_violation: 14,
  precedence_cutoff: 15,
};

/** ICMPv4 type and code for packetdrill's names (RFC 792, RFC 1812 5.2.7.1). */
export function icmpCodes(
  type: string,
  code: string | undefined,
): { type: number; code: number } | undefined {
  switch (type) {
    case 'unreachable': {
      const c = code === undefined ? undefined : UNREACHABLE_CODES[code];
      return c === undefined ? undefined : { type: 3, code: c };
    }
    case 'source_quench':
      return { type: 4, code: 0 };
    case 'redirect':
      return { type: 5, code: 0 };
    case 'time_exceeded':
      if (code === 'ttl_exceeded_in_transit' || code === undefined) return { type: 11, code: 0 };
      if (code === 'frag_reass_exceeded') return { type: 11, code: 1 };
      return undefined;
    case 'parameter_problem': {
      const m = /^code_(\d+)$/.exec(code ?? 'code_0');
      return m ? { type: 12, code: Number(m[1]) } : undefined;
    }
    default:
      return undefined;
  }
}
