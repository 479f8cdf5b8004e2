// Segments and options written back in packetdrill notation, for FAIL messages.

import { type WireOption, type WireSegment } from './host.js';
import { type TcpOptionSpec, type TcpSpec } from './script.js';

const FLAG_LETTERS: [number, string][] = [
  [0x02, 'S'],
  [0x01, 'F'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
  [0x10, '.'],
];

export function flagLetters(flags: number): string {
  let out = '';
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) out += letter;
  return out === '' ? '-' : out;
}

/** The flag bits a script's letters stand for; undefined for a letter the runner lacks. */
export function flagBits(letters: string): number | undefined {
  let bits = 0;
  for (const c of letters) {
    const entry = FLAG_LETTERS.find(([, l]) => l === c);
    if (entry === undefined) return undefined;
    bits |= entry[0];
  }
  return bits;
}

export function formatOption(o: WireOption | TcpOptionSpec): string {
  switch (o.kind) {
    case 'mss':
      return `mss ${o.value}`;
    case 'wscale':
      return `wscale ${o.value}`;
    case 'sack':
      return `sack ${o.blocks.map(([l, r]) => `${l >>> 0}:${r >>> 0}`).join(' ')}`;
    case 'TS':
      return `TS val ${o.val >>> 0} ecr ${o.ecr >>> 0}`;
    case 'md5':
      return `md5 ${o.valid ? 'valid' : 'invalid'}`;
    case 'fastopen':
      return `FO ${o.text}`;
    case 'unknown':
      return `kind ${o.type} len ${o.length}`;
    default:
      return o.kind;
  }
}

export function formatOptions(options: readonly (WireOption | TcpOptionSpec)[]): string {
  return options.length === 0 ? '' : ` <${options.map(formatOption).join(',')}>`;
}

/** A segment already mapped into script sequence space. */
export function formatSegment(s: WireSegment): string {
  const end = (s.seq + s.payloadLength) >>> 0;
  let out = `${flagLetters(s.flags)} ${s.seq >>> 0}:${end}(${s.payloadLength})`;
  if (s.flags & 0x10) out += ` ack ${s.ack >>> 0}`;
  out += ` win ${s.window}`;
  if (s.flags & 0x20) out += ` urg ${s.urgentPointer}`;
  return out + formatOptions(s.options);
}

export function formatSpec(spec: TcpSpec): string {
  const seq =
    spec.seq === undefined
      ? `...(${spec.payloadLength})`
      : `${spec.seq}:${(spec.seq + spec.payloadLength) >>> 0}(${spec.payloadLength})`;
  let out = `${spec.flags} ${seq}`;
  if (spec.ack !== undefined) out += ` ack ${spec.ack}`;
  if (spec.win !== undefined) out += ` win ${spec.win}`;
  if (spec.urg !== undefined) out += ` urg ${spec.urg}`;
  if (spec.options === 'any') return out + ' <...>';
  return out + formatOptions(spec.options);
}

export function formatSeconds(usecs: number): string {
  return `${Number((usecs / 1_000_000).toFixed(6))}s`;
}
