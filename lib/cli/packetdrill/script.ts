// The model of a packetdrill script: what the parser produces and the runner consumes.
// Times are integer microseconds. Sequence numbers are as written in the script, before the
// runner maps them onto the live connection.

/** When an event happens, as written on its line. */
export interface EventTime {
  /** `absolute` (`1.5`), `relative` to the previous event (`+0.1`), or `any` (`*`). */
  type: 'absolute' | 'relative' | 'any';
  usecs: number;
  /**
   * An end time: `a~b` is a window in which the event must happen; `a...b` is a blocking
   * system call that starts at `a` and must return at `b`.
   */
  end?: { kind: 'window' | 'blocking'; type: 'absolute' | 'relative'; usecs: number };
}

export type TcpOptionSpec =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'TS'; val: number; ecr: number }
  | { kind: 'md5'; valid: boolean }
  | { kind: 'fastopen'; text: string };

/** The IP-level marks a packet line may carry: `[ect0]`, `(tos 0x20)`, `(ttl 64)`. */
export interface IpMarks {
  ecn?: 'noecn' | 'ect0' | 'ect1' | 'ect01' | 'ce';
  tos?: number;
  ttl?: number;
  hopLimit?: number;
  trafficClass?: number;
}

export interface TcpSpec {
  /** Flag letters as written (`S`, `.`, `F.`, `SEW`, `R.`, `P.`). */
  flags: string;
  /** First sequence number; undefined for `...`, meaning "not checked". */
  seq?: number;
  payloadLength: number;
  /** Present when the line says `ack N`. */
  ack?: number;
  /** Present when the line says `win N`; an outbound line without it leaves it unchecked. */
  win?: number;
  urg?: number;
  /** The options in order, or `any` for `<...>` (not checked). Absent `<>` means none. */
  options: TcpOptionSpec[] | 'any';
}

export interface IcmpSpec {
  type: string;
  code?: string;
  mtu?: number;
  /** The quoted TCP segment, in script sequence space. */
  quoted?: { seq: number; end: number; length: number };
}

export interface PacketEvent {
  kind: 'packet';
  line: number;
  time: EventTime;
  direction: 'inbound' | 'outbound';
  ip: IpMarks;
  tcp?: TcpSpec;
  icmp?: IcmpSpec;
  /** `/udp(a > b)`: the segment travels inside UDP (RFC 6951 style encapsulation). */
  udp?: { sourcePort: number; destinationPort: number };
}

export type Expr =
  | { kind: 'int'; value: number }
  | { kind: 'ellipsis' }
  | { kind: 'symbol'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'or'; terms: Expr[] }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'struct'; fields: { name?: string; value: Expr }[] };

export interface SyscallEvent {
  kind: 'syscall';
  line: number;
  time: EventTime;
  name: string;
  args: Expr[];
  /** The expected return value: an integer or a symbol such as `EINPROGRESS`. */
  result: Expr;
  /** The expected errno name when the result is -1. */
  errno?: string;
  /** Text in parentheses after the result, kept for messages only. */
  note?: string;
}

export interface ShellEvent {
  kind: 'shell';
  line: number;
  time: EventTime;
  command: string;
}

export interface PythonEvent {
  kind: 'python';
  line: number;
  time: EventTime;
  code: string;
}

export type ScriptEvent = PacketEvent | SyscallEvent | ShellEvent | PythonEvent;

export interface Script {
  /** `--name=value` lines at the top (`ip_version`, `tolerance_usecs`, `mtu`, ...). */
  options: Map<string, string>;
  /** Line of each option, for messages. */
  optionLines: Map<string, number>;
  events: ScriptEvent[];
}

/** A script that cannot be understood; `line` is 1-based. */
export class ScriptSyntaxError extends Error {
  readonly code = 'EPKTSYNTAX';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ScriptSyntaxError';
  }
}
