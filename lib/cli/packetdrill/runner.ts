// Runs one packetdrill script against a fresh host on a virtual clock.
//
// Conventions follow packetdrill: the host is 192.168.0.1, the script's remote end 192.0.2.1;
// bind() takes port 8080 and connect() goes to port 8080; the script's sequence numbers are
// relative: the host's initial sequence number is script 0 (learned from its first SYN) and
// the remote end's sequence numbers are used as written. A relative time counts from the
// previous event's script time, or from its actual time when that event had no fixed time
// (`*`, a window or a blocking call). An expected segment must be sent within the tolerance
// (`--tolerance_usecs`, 4 ms by default) of its time; it is matched on flags, sequence and
// acknowledgment numbers, window, urgent pointer, options in order with their values
// (timestamp values excepted, as in packetdrill) and payload length. A system call that would
// block on a blocking socket waits in virtual time: written `a...b`, in the background while
// the script goes on, and it must return at b; otherwise the script waits for it.

import { type TcpParams } from '../../tcp/params.js';
import {
  flagBits,
  flagLetters,
  formatOptions,
  formatSeconds,
  formatSegment,
  formatSpec,
} from './format.js';
import {
  type CallResult,
  type EmittedSegment,
  type TcpHost,
  type WireOption,
  type WireSegment,
} from './host.js';
import { parseScript } from './parse.js';
import { type Profile, applySysctl } from './profile.js';
import { checkPython } from './python.js';
import {
  type EventTime,
  type PacketEvent,
  type Script,
  type ScriptEvent,
  ScriptSyntaxError,
  type SyscallEvent,
  type TcpSpec,
} from './script.js';
import { shellAction } from './shell.js';
import { Handled, SCRIPT_PORT, SocketCalls, type Waiter } from './syscalls.js';
import { icmpCodes } from './icmp.js';
import { Failure, expectResult } from './values.js';
import { describeSkip, skipFromScript, skipFromText } from './skip.js';

export interface RunResult {
  status: 'PASS' | 'FAIL' | 'SKIP';
  /** The line that failed or triggered the skip. */
  line?: number;
  /** Why it failed or was skipped. */
  reason?: string;
  expected?: string;
  actual?: string;
}

export interface HostConfig {
  params: Partial<TcpParams>;
}

export type HostFactory = (config: HostConfig) => TcpHost;

/** packetdrill's default --tolerance_usecs. */
const DEFAULT_TOLERANCE = 4_000;
/** The remote end's port for connections the host accepts. */
const REMOTE_CLIENT_PORT = 51000;
/** How far a `*` event or a blocking call may wait, in virtual time. */
const HORIZON = 20 * 60 * 1_000_000;
/** Runs of a timer that stays due before the runner gives up on the core. */
const STALL_LIMIT = 1_000;

const ACK = 0x10;
const URG = 0x20;
const SYN = 0x02;

const ECN_CODEPOINT: Record<string, number> = { noecn: 0, ect1: 1, ect0: 2, ce: 3 };

interface PendingCall {
  event: SyscallEvent;
  /** When the script says it returns (`a...b`), if it says so. */
  end: number | undefined;
  /** Tries the call again; undefined while it still blocks. */
  attempt: () => CallResult | undefined;
}

export function runScript(source: string, profile: Profile, createHost: HostFactory): RunResult {
  const early = skipFromText(source);
  if (early) return { status: 'SKIP', reason: describeSkip(early) };
  let script: Script;
  try {
    script = parseScript(source, { defines: profile.defines });
  } catch (e) {
    if (e instanceof ScriptSyntaxError) {
      return { status: 'FAIL', line: e.line, reason: `syntax: ${e.message}` };
    }
    throw e;
  }
  const skip = skipFromScript(script, profile);
  if (skip) return { status: 'SKIP', line: skip.line, reason: describeSkip(skip) };

  const run = new Run(script, profile, createHost);
  try {
    run.execute();
    return { status: 'PASS' };
  } catch (e) {
    if (e instanceof Failure) {
      const result: RunResult = { status: 'FAIL', line: e.line, reason: e.reason };
      if (e.expected !== undefined) result.expected = e.expected;
      if (e.actual !== undefined) result.actual = e.actual;
      return result;
    }
    throw e;
  }
}

class Run implements Waiter {
  private readonly tolerance: number;
  private readonly params: Partial<TcpParams>;
  private host: TcpHost | undefined;
  private readonly calls = new SocketCalls();
  private readonly output: EmittedSegment[] = [];
  private pending: PendingCall | undefined;
  /** Base for relative times. */
  private lastTime = 0;
  /** Script sequence number = live - localOffset (host's sequence space). */
  private localOffset: number | undefined;
  /** Timestamp values: the first script/actual pair and every exact pair seen. */
  private tsBase: { script: number; actual: number } | undefined;
  private readonly tsValues = new Map<number, number>();
  /** The script's return time of the system call being run. */
  private callEnd: number | undefined;
  /** The line being run, and how many times in a row a timer failed to move. */
  private currentLine = 0;
  private stalls = 0;

  constructor(
    private readonly script: Script,
    profile: Profile,
    private readonly createHost: HostFactory,
  ) {
    const tolerance = script.options.get('tolerance_usecs');
    this.tolerance = tolerance === undefined ? DEFAULT_TOLERANCE : Number(tolerance);
    this.params = { ...profile.params };
    const mtu = script.options.get('mtu');
    if (mtu !== undefined) this.params.mtu = Number(mtu);
  }

  execute(): void {
    for (const event of this.script.events) {
      // sysctl lines before the host exists shape the parameters it starts with.
      if (this.host === undefined && event.kind === 'shell') {
        const action = shellAction(event.command);
        if (action.kind === 'sysctl') {
          applySysctl(action.name, action.value, this.params);
          continue;
        }
      }
      if (this.host === undefined) {
        try {
          this.host = this.createHost({ params: this.params });
        } catch (e) {
          throw new Failure(event.line, `the core rejected the parameters: ${String(e)}`);
        }
      }
      this.currentLine = event.line;
      try {
        this.step(this.host, event);
      } catch (e) {
        if (e instanceof Failure) throw e;
        // The core threw where it should have answered: a failure of the script, not of the run.
        throw new Failure(
          event.line,
          `the core threw: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    if (this.pending) {
      const host = this.host;
      if (host !== undefined) {
        this.retryPending(host);
        this.waitForPending(host, host.now + HORIZON);
      }
      if (this.pending) {
        throw new Failure(this.pending.event.line, 'blocking call never returned');
      }
    }
  }

  private scriptTime(time: EventTime): number | undefined {
    if (time.type === 'any') return undefined;
    return time.type === 'relative' ? this.lastTime + time.usecs : time.usecs;
  }

  /** As in packetdrill, the end of a range counts from the same base as its start. */
  private endTime(time: EventTime, start: number): number | undefined {
    if (!time.end) return undefined;
    const base = time.type === 'relative' ? start - time.usecs : 0;
    return base + time.end.usecs;
  }

  private step(host: TcpHost, event: ScriptEvent): void {
    const start = this.scriptTime(event.time);

    if (event.kind === 'packet' && event.direction === 'outbound') {
      this.expectOutbound(host, event, start);
      return;
    }

    if (start !== undefined) this.advance(host, start);
    this.callEnd = start === undefined ? undefined : this.endTime(event.time, start);
    if (start !== undefined && event.time.end === undefined) this.lastTime = start;
    else this.lastTime = host.now;

    switch (event.kind) {
      case 'packet':
        this.inject(host, event);
        break;
      case 'syscall':
        if (this.pending) {
          // packetdrill runs one call at a time: a new call waits for the blocked one.
          this.waitForPending(host, host.now + HORIZON);
          if (this.pending)
            throw new Failure(this.pending.event.line, 'blocking call never returned');
        }
        try {
          this.calls.run(host, event, this);
        } catch (e) {
          if (!(e instanceof Handled)) throw e;
        }
        break;
      case 'shell':
        this.shell(host, event.command, event.line);
        break;
      case 'python': {
        const s = this.calls.socketUnderTest;
        const info = s === undefined ? undefined : host.info(s);
        const problem = checkPython(event.code, info);
        if (problem !== undefined) throw new Failure(event.line, problem);
        break;
      }
    }
    this.collect(host);
    if (event.kind !== 'syscall') this.retryPending(host);
  }

  /** Move the clock to `time`, one timer at a time so a blocked call returns when it should. */
  private advance(host: TcpHost, time: number): void {
    while (this.fireNext(host, time));
    if (time > host.now) host.advanceTo(time);
    this.collect(host);
    this.retryPending(host);
  }

  /**
   * Runs the host's next timer if it is due by `limit`; false when there is none. A timer that
   * stays due after it ran would stall the clock: that is reported as a failure of the core.
   */
  private fireNext(host: TcpHost, limit: number): boolean {
    const due = host.nextDeadline();
    if (due === undefined || due > limit) return false;
    const at = Math.max(due, host.now);
    host.advanceTo(at);
    this.collect(host);
    this.retryPending(host);
    if (host.nextDeadline() === due && due <= at) {
      if (++this.stalls > STALL_LIMIT) {
        throw new Failure(
          this.currentLine,
          `the core's timer at ${formatSeconds(due)} keeps firing`,
        );
      }
    } else this.stalls = 0;
    return true;
  }

  collect(host: TcpHost): void {
    for (const segment of host.takeOutput()) this.output.push(segment);
  }

  private waitForPending(host: TcpHost, limit: number): void {
    while (this.pending && this.fireNext(host, limit));
  }

  // ---- segments ----

  private expectOutbound(host: TcpHost, event: PacketEvent, start: number | undefined): void {
    const spec = event.tcp;
    if (!spec) throw new Failure(event.line, 'the host cannot be expected to send ICMP');
    const end = start === undefined ? undefined : (this.endTime(event.time, start) ?? start);
    const latest = end === undefined ? host.now + HORIZON : end + this.tolerance;

    this.collect(host);
    while (this.output.length === 0 && this.fireNext(host, latest));
    if (this.output.length === 0 && latest < Number.MAX_SAFE_INTEGER && latest > host.now) {
      this.advance(host, latest);
    }
    const segment = this.output.shift();
    if (segment === undefined) {
      throw new Failure(
        event.line,
        'expected segment not sent',
        formatSpec(spec),
        `nothing sent by ${formatSeconds(latest)}`,
      );
    }

    const actual = this.toScriptSpace(segment, spec);
    const mismatch = this.compare(spec, event, segment, actual);
    if (mismatch !== undefined) {
      throw new Failure(
        event.line,
        `segment differs: ${mismatch}`,
        formatSpec(spec),
        `${formatSegment(actual)} at ${formatSeconds(segment.time)}`,
      );
    }
    if (start !== undefined) {
      const earliest = start - this.tolerance;
      const last = (end ?? start) + this.tolerance;
      if (segment.time < earliest || segment.time > last) {
        throw new Failure(
          event.line,
          'segment sent at the wrong time',
          `${formatSpec(spec)} at ${formatSeconds(start)}` +
            (end !== start && end !== undefined ? `~${formatSeconds(end)}` : '') +
            ` ±${formatSeconds(this.tolerance)}`,
          `${formatSegment(actual)} at ${formatSeconds(segment.time)}`,
        );
      }
    }
    this.lastTime = start !== undefined && event.time.end === undefined ? start : segment.time;
  }

  /** The host's segment with sequence numbers mapped to the script's, learning the maps. */
  private toScriptSpace(segment: EmittedSegment, spec: TcpSpec): WireSegment {
    if (segment.flags & SYN && spec.seq !== undefined && this.localOffset === undefined) {
      this.localOffset = (segment.seq - spec.seq) >>> 0;
    }
    const offset = this.localOffset ?? 0;
    const options: WireOption[] = segment.options.map((o) => {
      if (o.kind !== 'TS') return o;
      const scriptTs =
        spec.options === 'any' ? undefined : spec.options.find((x) => x.kind === 'TS');
      if (scriptTs && scriptTs.kind === 'TS') {
        this.tsValues.set(scriptTs.val >>> 0, o.val >>> 0);
        if (this.tsBase === undefined) this.tsBase = { script: scriptTs.val, actual: o.val };
      }
      const base = this.tsBase;
      const val = base === undefined ? o.val : (base.script + (o.val - base.actual)) >>> 0;
      return { kind: 'TS', val, ecr: o.ecr };
    });
    return {
      ...segment,
      seq: (segment.seq - offset) >>> 0,
      options,
    };
  }

  private compare(
    spec: TcpSpec,
    event: PacketEvent,
    live: EmittedSegment,
    actual: WireSegment,
  ): string | undefined {
    const bits = flagBits(spec.flags);
    if (bits === undefined) return `flag letters '${spec.flags}' not supported`;
    if (bits !== actual.flags) {
      return `flags: expected ${spec.flags}, got ${flagLetters(actual.flags)}`;
    }
    if (spec.seq !== undefined && spec.seq >>> 0 !== actual.seq) {
      return `seq: expected ${spec.seq}, got ${actual.seq}`;
    }
    if (spec.ack !== undefined || bits & ACK) {
      const want = spec.ack ?? 0;
      if (want >>> 0 !== actual.ack >>> 0) return `ack: expected ${want}, got ${actual.ack >>> 0}`;
    }
    if (spec.win !== undefined && spec.win !== actual.window) {
      return `win: expected ${spec.win}, got ${actual.window}`;
    }
    if (spec.urg !== undefined || bits & URG) {
      const want = spec.urg ?? 0;
      if (want !== actual.urgentPointer)
        return `urg: expected ${want}, got ${actual.urgentPointer}`;
    }
    if (spec.payloadLength !== actual.payloadLength) {
      return `payload length: expected ${spec.payloadLength}, got ${actual.payloadLength}`;
    }
    if (live.payloadMismatch >= 0) {
      return `payload byte ${live.payloadMismatch} is not the byte the application wrote`;
    }
    if (spec.options !== 'any') {
      const want = spec.options;
      const got = actual.options;
      const differs = (): string =>
        `options: expected${formatOptions(want) || ' none'}, got${formatOptions(got) || ' none'}`;
      if (want.length !== got.length) return differs();
      for (let i = 0; i < want.length; i++) {
        const w = want[i];
        const g = got[i];
        if (w.kind !== g.kind) return differs();
        if (w.kind === 'mss' && g.kind === 'mss' && w.value !== g.value) return differs();
        if (w.kind === 'wscale' && g.kind === 'wscale' && w.value !== g.value) return differs();
        if (w.kind === 'sack' && g.kind === 'sack') {
          const same =
            w.blocks.length === g.blocks.length &&
            w.blocks.every(
              ([l, r], j) => l >>> 0 === g.blocks[j][0] >>> 0 && r >>> 0 === g.blocks[j][1] >>> 0,
            );
          if (!same) return differs();
        }
      }
    }
    const ecn = event.ip.ecn;
    if (ecn !== undefined) {
      const ok =
        ecn === 'ect01' ? live.ecn === 1 || live.ecn === 2 : live.ecn === ECN_CODEPOINT[ecn];
      if (!ok) return `IP ECN field: expected ${ecn}, got ${live.ecn}`;
    }
    return undefined;
  }

  /**
   * The host-side and remote ports of the script's segments: those of the latest active open
   * (kept after its descriptor is closed, as packetdrill keeps its socket), else port 8080
   * with the remote client port.
   */
  private tuple(): { localPort: number; remotePort: number } {
    return this.calls.activeTuple ?? { localPort: SCRIPT_PORT, remotePort: REMOTE_CLIENT_PORT };
  }

  private inject(host: TcpHost, event: PacketEvent): void {
    const { localPort, remotePort } = this.tuple();
    if (event.icmp) {
      const icmp = icmpCodes(event.icmp.type, event.icmp.code);
      if (icmp === undefined) {
        throw new Failure(event.line, `unknown ICMP message ${event.icmp.type} ${event.icmp.code}`);
      }
      const quoted = event.icmp.quoted?.seq ?? 0;
      const error = {
        ...icmp,
        localPort,
        remotePort,
        seq: (quoted + (this.localOffset ?? 0)) >>> 0,
      };
      if (event.icmp.mtu !== undefined) Object.assign(error, { mtu: event.icmp.mtu });
      host.injectIcmp(error);
      return;
    }
    const spec = event.tcp;
    if (!spec) return;
    const flags = flagBits(spec.flags);
    if (flags === undefined) {
      throw new Failure(event.line, `flag letters '${spec.flags}' not supported`);
    }
    if (spec.seq === undefined)
      throw new Failure(event.line, 'an injected segment needs a sequence number');
    if (spec.win === undefined) throw new Failure(event.line, 'an injected segment needs a window');
    if (spec.options === 'any')
      throw new Failure(event.line, 'an injected segment needs its options');
    const offset = this.localOffset ?? 0;
    const options: WireOption[] = [];
    for (const o of spec.options) {
      if (o.kind === 'sack') {
        options.push({
          kind: 'sack',
          blocks: o.blocks.map(([l, r]) => [(l + offset) >>> 0, (r + offset) >>> 0]),
        });
      } else if (o.kind === 'TS') {
        options.push({ kind: 'TS', val: o.val >>> 0, ecr: this.liveTsEcr(o.ecr, flags) });
      } else if (o.kind === 'md5' || o.kind === 'fastopen') {
        throw new Failure(event.line, `option ${o.kind} cannot be injected`);
      } else {
        options.push(o);
      }
    }
    const segment: WireSegment = {
      localPort,
      remotePort,
      seq: spec.seq >>> 0,
      ack: flags & ACK ? ((spec.ack ?? 0) + offset) >>> 0 : (spec.ack ?? 0) >>> 0,
      flags,
      window: spec.win,
      urgentPointer: spec.urg ?? 0,
      options,
      payloadLength: spec.payloadLength,
      ecn: event.ip.ecn === undefined ? 0 : (ECN_CODEPOINT[event.ip.ecn] ?? 0),
    };
    host.injectTcp(segment);
  }

  /** packetdrill maps a script TS ecr onto the TS val the host actually sent. */
  private liveTsEcr(ecr: number, flags: number): number {
    if (!(flags & ACK)) return ecr >>> 0;
    const exact = this.tsValues.get(ecr >>> 0);
    if (exact !== undefined) return exact;
    if (this.tsBase === undefined) return ecr >>> 0;
    return (ecr - this.tsBase.script + this.tsBase.actual) >>> 0;
  }

  // ---- shell commands ----

  private shell(host: TcpHost, command: string, line: number): void {
    const action = shellAction(command);
    switch (action.kind) {
      case 'sysctl': {
        const params: Partial<TcpParams> = {};
        const effect = applySysctl(action.name, action.value, params);
        if (effect.kind === 'applied') host.setParams(params);
        break;
      }
      case 'count-state': {
        const state = SOCKSTAT_STATES[action.state] ?? action.state;
        const count = host
          .connections()
          .filter(
            (c) => c.state === state && (action.port === undefined || c.localPort === action.port),
          ).length;
        if (count !== action.expected) {
          throw new Failure(
            line,
            `connections in ${action.state}`,
            String(action.expected),
            `${count} (${
              host
                .connections()
                .map((c) => `${c.state}:${c.localPort}`)
                .join(' ') || 'none'
            })`,
          );
        }
        break;
      }
      case 'drop-state':
        host.dropConnections(SOCKSTAT_STATES[action.state] ?? action.state);
        break;
      case 'unsupported':
        throw new Failure(line, `unsupported shell command: ${command}`);
    }
  }

  callOrBlock(host: TcpHost, event: SyscallEvent, attempt: () => CallResult | undefined): void {
    const result = attempt();
    this.collect(host);
    if (result === undefined) {
      this.block(host, event, attempt);
      return;
    }
    this.checkEnd(event, host.now, this.callEnd);
    expectResult(event, result);
  }

  /**
   * A call that would block. Written `a...b`, it runs in the background while the script goes
   * on, as in packetdrill's system call thread; otherwise the script waits for it, with only
   * the host's timers running.
   */
  block(host: TcpHost, event: SyscallEvent, attempt: () => CallResult | undefined): void {
    this.pending = { event, end: this.callEnd, attempt };
    if (event.time.end?.kind === 'blocking') return;
    this.waitForPending(host, host.now + HORIZON);
    if (this.pending) throw new Failure(event.line, `${event.name} blocked and never returned`);
  }

  private retryPending(host: TcpHost): void {
    const pending = this.pending;
    if (!pending) return;
    const result = pending.attempt();
    if (result === undefined) return;
    this.pending = undefined;
    this.checkEnd(pending.event, host.now, pending.end);
    expectResult(pending.event, result);
  }

  /** A blocking call written `a...b` must return at b (within the tolerance). */
  private checkEnd(event: SyscallEvent, returnedAt: number, wanted: number | undefined): void {
    if (wanted === undefined || event.time.end?.kind !== 'blocking') return;
    if (Math.abs(returnedAt - wanted) > this.tolerance) {
      throw new Failure(
        event.line,
        `${event.name} returned at the wrong time`,
        `return at ${formatSeconds(wanted)} ±${formatSeconds(this.tolerance)}`,
        `returned at ${formatSeconds(returnedAt)}`,
      );
    }
  }
}

/** sockstat's state names to the RFC names the host reports. */
const SOCKSTAT_STATES: Record<string, string> = { SYN_RCVD: 'SYN_RECEIVED' };
