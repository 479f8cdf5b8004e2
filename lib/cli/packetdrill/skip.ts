// Why a script is not run, decided from the script's own text. The list is closed: each
// reason names something outside what the runner drives (the TCP core over IPv4), never a
// behaviour the core lacks; a core that gets something wrong FAILs.

import { type Profile, applySysctl } from './profile.js';
import { type Script } from './script.js';
import { isSupportedPython } from './python.js';
import { shellAction } from './shell.js';

export const SKIP_REASONS = {
  ipv6: 'IPv6 is not supported yet',
  'python-block': 'a %{ }% Python block beyond the tcp_info assertions the runner evaluates',
  'freebsd-only-socket-option': 'a socket option only FreeBSD has',
  'freebsd-only-sysctl': 'a FreeBSD sysctl set to a non-stock value the core has no knob for',
  'tcp-md5': 'TCP MD5 signatures (RFC 2385)',
  'udp-encapsulation': 'TCP over UDP encapsulation (RFC 6951 style)',
  'fast-open': 'TCP Fast Open (RFC 7413)',
  'ip-layer-option': 'an IP header field (TTL, TOS, hop limit, traffic class) set or checked',
  'shell-command': 'a shell command other than sysctl, sockstat and tcpdrop',
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;

export interface Skip {
  reason: SkipReason;
  /** What in the script triggered it, e.g. the option name. */
  detail?: string;
  line?: number;
}

/** Checks on the raw text, for scripts the parser need not understand to be skipped. */
export function skipFromText(source: string): Skip | undefined {
  const ipVersion = /^\s*--ip_version=(\S+)/m.exec(source);
  if (ipVersion && ipVersion[1] !== 'ipv4') {
    return ipVersion[1] === 'ipv6' ? { reason: 'ipv6' } : { reason: 'ipv6', detail: ipVersion[1] };
  }
  if (/^\s*--tcp_md5_secret/m.test(source)) return { reason: 'tcp-md5' };
  if (/^\s*--udp_encapsulation/m.test(source)) return { reason: 'udp-encapsulation' };
  return undefined;
}

/** Socket options only FreeBSD has and the core has no equivalent for. */
const FREEBSD_ONLY_OPTIONS = /^(TCP_NOOPT|TCP_RACK_\w+|TCP_BBR_\w+|TCP_FUNCTION_BLK|TCP_LOG\w*)$/;
const IP_LAYER_OPTIONS = /^(IP_TTL|IP_TOS|IPV6_UNICAST_HOPS|IPV6_TCLASS)$/;

export function skipFromScript(script: Script, p: Profile): Skip | undefined {
  const params = { ...p.params };
  for (const event of script.events) {
    const line = event.line;
    switch (event.kind) {
      case 'python':
        if (!isSupportedPython(event.code)) {
          return { reason: 'python-block', detail: event.code, line };
        }
        break;
      case 'shell': {
        const action = shellAction(event.command);
        if (action.kind === 'unsupported') {
          if (/setkey|tcpmd5/.test(event.command)) return { reason: 'tcp-md5', line };
          return { reason: 'shell-command', detail: event.command, line };
        }
        if (action.kind === 'sysctl') {
          const effect = applySysctl(action.name, action.value, params);
          if (effect.kind === 'unsupported') {
            if (/udp_tunneling/.test(action.name)) return { reason: 'udp-encapsulation', line };
            return { reason: 'freebsd-only-sysctl', detail: effect.reason, line };
          }
        }
        break;
      }
      case 'packet':
        if (event.udp) return { reason: 'udp-encapsulation', line };
        if (event.tcp && event.tcp.options !== 'any') {
          for (const option of event.tcp.options) {
            if (option.kind === 'md5') return { reason: 'tcp-md5', line };
            if (option.kind === 'fastopen') return { reason: 'fast-open', line };
          }
        }
        if (
          event.ip.tos !== undefined ||
          event.ip.ttl !== undefined ||
          event.ip.hopLimit !== undefined ||
          event.ip.trafficClass !== undefined
        ) {
          return { reason: 'ip-layer-option', line };
        }
        break;
      case 'syscall': {
        if (event.name === 'sendto' || event.name === 'sendmsg') {
          if (event.args.some((a) => a.kind === 'symbol' && a.name === 'MSG_FASTOPEN')) {
            return { reason: 'fast-open', line };
          }
        }
        if (event.name !== 'setsockopt' && event.name !== 'getsockopt') break;
        const option = event.args[2];
        if (option?.kind !== 'symbol') break;
        if (option.name === 'TCP_MD5SIG') return { reason: 'tcp-md5', line };
        if (option.name === 'TCP_FASTOPEN') return { reason: 'fast-open', line };
        if (FREEBSD_ONLY_OPTIONS.test(option.name)) {
          return { reason: 'freebsd-only-socket-option', detail: option.name, line };
        }
        if (IP_LAYER_OPTIONS.test(option.name)) {
          return { reason: 'ip-layer-option', detail: option.name, line };
        }
        break;
      }
    }
  }
  return undefined;
}

export function describeSkip(skip: Skip): string {
  return skip.detail === undefined ? skip.reason : `${skip.reason}: ${skip.detail}`;
}
