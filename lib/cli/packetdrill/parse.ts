// Parser for the packetdrill script dialect used by the FreeBSD TCP test suite: timed lines
// holding a packet (`<` injected, `>` expected), a system call with its expected result, a
// shell command in backticks, or a `%{ }%` Python block; `--name=value` options at the top;
// `//` and `/* */` comments; `#ifdef NAME` / `#ifndef` / `#else` / `#endif` sections.

import {
  type EventTime,
  type Expr,
  type IcmpSpec,
  type IpMarks,
  type PacketEvent,
  type Script,
  type ScriptEvent,
  ScriptSyntaxError,
  type SyscallEvent,
  type TcpOptionSpec,
  type TcpSpec,
} from './script.js';

export interface ParseOptions {
  /** Names defined for `#ifdef` (the profile chooses them, e.g. `FreeBSD`). */
  defines?: ReadonlySet<string>;
}

/** One logical statement and the line it starts on. */
interface Statement {
  line: number;
  text: string;
}

export function parseScript(source: string, options: ParseOptions = {}): Script {
  const defines = options.defines ?? new Set<string>();
  const statements = splitStatements(source, defines);
  const script: Script = { options: new Map(), optionLines: new Map(), events: [] };

  for (const statement of statements) {
    const text = statement.text.trim();
    if (text.startsWith('--')) {
      const match = /^--([A-Za-z0-9_]+)(?:=(.*))?$/.exec(text);
      if (!match) throw new ScriptSyntaxError(statement.line, `bad option line: ${text}`);
      script.options.set(match[1], (match[2] ?? '').trim());
      script.optionLines.set(match[1], statement.line);
      continue;
    }
    script.events.push(parseEvent(statement.line, text));
  }
  return script;
}

/**
 * Removes comments, applies `#ifdef` sections and joins the lines of multi-line Python blocks
 * and backtick commands, keeping the number of the line each statement starts on.
 */
function splitStatements(source: string, defines: ReadonlySet<string>): Statement[] {
  const lines = source.split(/\r?\n/);
  const out: Statement[] = [];
  // Each entry: is the enclosing section active, and has its #else been seen.
  const sections: { active: boolean; parentActive: boolean; sawElse: boolean; line: number }[] = [];
  let inBlockComment = false;
  let pending: Statement | undefined;
  const active = (): boolean => sections.every((s) => s.active);

  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    let line = lines[i];

    if (pending === undefined) {
      const directive = /^\s*#\s*(ifdef|ifndef|else|endif|if|elif|define|undef)\b\s*(\S*)/.exec(
        line,
      );
      if (directive) {
        const [, word, name] = directive;
        if (word === 'ifdef' || word === 'ifndef') {
          if (!name) throw new ScriptSyntaxError(lineNumber, `#${word} needs a name`);
          const parentActive = active();
          const holds = defines.has(name) === (word === 'ifdef');
          sections.push({ active: holds, parentActive, sawElse: false, line: lineNumber });
        } else if (word === 'else') {
          const top = sections.at(-1);
          if (!top || top.sawElse) throw new ScriptSyntaxError(lineNumber, 'unmatched #else');
          top.active = !top.active;
          top.sawElse = true;
        } else if (word === 'endif') {
          if (!sections.pop()) throw new ScriptSyntaxError(lineNumber, 'unmatched #endif');
        } else {
          throw new ScriptSyntaxError(lineNumber, `unsupported preprocessor directive #${word}`);
        }
        continue;
      }
    }
    if (!active() && pending === undefined) continue;

    // Strip comments outside backticks, quotes and Python blocks.
    let kept = '';
    let inBacktick = pending !== undefined && pending.text.split('`').length % 2 === 0;
    let inPython = pending !== undefined && /%\{(?![\s\S]*\}%)/.test(pending.text);
    let inQuote = false;
    for (let j = 0; j < line.length; j++) {
      const c = line[j];
      const next = line[j + 1];
      if (inBlockComment) {
        if (c === '*' && next === '/') {
          inBlockComment = false;
          j++;
        }
        continue;
      }
      if (inPython) {
        kept += c;
        if (c === '}' && next === '%') {
          kept += next;
          j++;
          inPython = false;
        }
        continue;
      }
      if (c === '`' && !inQuote) inBacktick = !inBacktick;
      else if (c === '"' && !inBacktick) inQuote = !inQuote;
      else if (!inBacktick && !inQuote) {
        if (c === '%' && next === '{') {
          inPython = true;
          kept += '%{';
          j++;
          continue;
        }
        if (c === '/' && next === '/') break;
        if (c === '/' && next === '*') {
          inBlockComment = true;
          j++;
          continue;
        }
      }
      kept += c;
    }
    line = kept;

    if (pending !== undefined) {
      pending.text += '\n' + line;
    } else {
      if (line.trim() === '') continue;
      pending = { line: lineNumber, text: line };
    }
    if (!inBacktick && !inPython) {
      out.push(pending);
      pending = undefined;
    }
  }
  if (pending !== undefined) {
    throw new ScriptSyntaxError(pending.line, 'unterminated backtick command or Python block');
  }
  const open = sections.at(-1);
  if (open) throw new ScriptSyntaxError(open.line, '#ifdef without #endif');
  return out;
}

/** A cursor over one statement. */
class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly line: number,
  ) {}

  fail(message: string): never {
    const near = this.text.slice(this.pos, this.pos + 24).split('\n')[0];
    throw new ScriptSyntaxError(this.line, near ? `${message} near '${near}'` : message);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(s: string): boolean {
    this.skipSpace();
    return this.text.startsWith(s, this.pos);
  }

  eat(s: string): boolean {
    if (this.peek(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  expect(s: string): void {
    if (!this.eat(s)) this.fail(`expected '${s}'`);
  }

  /** A word: letters, digits, underscores (and dashes inside, as in `exp-fo`). */
  word(): string | undefined {
    this.skipSpace();
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.text.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  expectWord(what: string): string {
    const w = this.word();
    if (w === undefined) this.fail(`expected ${what}`);
    return w;
  }

  /** An unsigned integer, decimal or hex. */
  integer(): number | undefined {
    this.skipSpace();
    const m = /^(0x[0-9a-fA-F]+|[0-9]+)(?![0-9A-Za-z_.])/.exec(this.text.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    return Number(m[1]);
  }

  expectInteger(what: string): number {
    const n = this.integer();
    if (n === undefined) this.fail(`expected ${what}`);
    return n;
  }

  /** A decimal number of seconds, returned as microseconds. */
  seconds(): number | undefined {
    this.skipSpace();
    const m = /^([0-9]+)(?:\.(?!\.)([0-9]*))?/.exec(this.text.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    const fraction = (m[2] ?? '').padEnd(6, '0');
    if (fraction.length > 6 && /[1-9]/.test(fraction.slice(6))) {
      this.fail('time finer than a microsecond');
    }
    return Number(m[1]) * 1_000_000 + Number(fraction.slice(0, 6));
  }

  rest(): string {
    const r = this.text.slice(this.pos);
    this.pos = this.text.length;
    return r;
  }
}

function parseTime(s: Scanner): EventTime {
  if (s.eat('*')) return { type: 'any', usecs: 0 };
  const type = s.eat('+') ? 'relative' : 'absolute';
  const usecs = s.seconds();
  if (usecs === undefined) s.fail('expected a time');
  const time: EventTime = { type, usecs };
  const kind = s.eat('...') ? 'blocking' : s.eat('~') ? 'window' : undefined;
  if (kind !== undefined) {
    const endType = s.eat('+') ? 'relative' : 'absolute';
    const end = s.seconds();
    if (end === undefined) s.fail('expected an end time');
    time.end = { kind, type: endType, usecs: end };
  }
  return time;
}

function parseEvent(line: number, text: string): ScriptEvent {
  const s = new Scanner(text, line);
  // A command before the first timed line runs at the start, as packetdrill allows.
  const time: EventTime = text.startsWith('`') ? { type: 'relative', usecs: 0 } : parseTime(s);
  s.skipSpace();
  const c = s.text[s.pos];
  if (c === '<' || c === '>') {
    s.pos++;
    return parsePacket(s, time, c === '<' ? 'inbound' : 'outbound');
  }
  if (c === '`') {
    const body = s.rest().trim();
    if (!body.endsWith('`') || body.length < 2) s.fail('unterminated backtick command');
    return { kind: 'shell', line, time, command: body.slice(1, -1).trim() };
  }
  if (s.peek('%{')) {
    const body = s.rest().trim();
    if (!body.endsWith('}%')) s.fail('unterminated Python block');
    return { kind: 'python', line, time, code: body.slice(2, -2).trim() };
  }
  return parseSyscall(s, time);
}

// ---- packets ----

const ECN_MARKS = new Set(['noecn', 'ect0', 'ect1', 'ect01', 'ce']);

function parsePacket(s: Scanner, time: EventTime, direction: 'inbound' | 'outbound'): PacketEvent {
  const ip: IpMarks = {};
  for (;;) {
    if (s.eat('[')) {
      const mark = s.expectWord('an ECN mark');
      if (!ECN_MARKS.has(mark)) s.fail(`unknown ECN mark '${mark}'`);
      ip.ecn = mark as IpMarks['ecn'];
      s.expect(']');
    } else if (s.eat('(')) {
      const field = s.expectWord('an IP field');
      const value = s.expectInteger(`a value for ${field}`);
      if (field === 'tos') ip.tos = value;
      else if (field === 'ttl') ip.ttl = value;
      else if (field === 'hlim') ip.hopLimit = value;
      else if (field === 'class') ip.trafficClass = value;
      else s.fail(`unknown IP field '${field}'`);
      s.expect(')');
    } else break;
  }

  const event: PacketEvent = { kind: 'packet', line: s.line, time, direction, ip };
  if (s.peek('icmp')) {
    s.word();
    event.icmp = parseIcmp(s);
  } else {
    event.tcp = parseTcp(s);
  }
  if (s.eat('/udp')) {
    s.expect('(');
    const source = s.expectInteger('a UDP source port');
    s.expect('>');
    event.udp = { sourcePort: source, destinationPort: s.expectInteger('a UDP port') };
    s.expect(')');
  }
  if (!s.atEnd()) s.fail('unexpected text after the packet');
  return event;
}

function parseSequenceRange(s: Scanner): { seq?: number; end?: number; length: number } {
  let seq: number | undefined;
  let end: number | undefined;
  if (!s.eat('...')) {
    seq = s.expectInteger('a sequence number');
    s.expect(':');
    end = s.expectInteger('an end sequence number');
  }
  s.expect('(');
  const length = s.expectInteger('a payload length');
  s.expect(')');
  if (seq !== undefined && end !== undefined && (end - seq) >>> 0 !== length) {
    s.fail(`sequence range ${seq}:${end} does not match the length ${length}`);
  }
  return { seq, end, length };
}

function parseTcp(s: Scanner): TcpSpec {
  s.skipSpace();
  const m = /^[FSRPUEWA.]+/.exec(s.text.slice(s.pos));
  if (!m) s.fail('expected TCP flags');
  s.pos += m[0].length;
  const flags = m[0];
  const range = parseSequenceRange(s);
  const spec: TcpSpec = {
    flags,
    seq: range.seq,
    payloadLength: range.length,
    options: [],
  };
  for (;;) {
    if (s.eat('ack')) spec.ack = s.expectInteger('an acknowledgment number');
    else if (s.eat('win')) spec.win = s.expectInteger('a window');
    else if (s.eat('urg')) spec.urg = s.expectInteger('an urgent pointer');
    else break;
  }
  if (s.eat('<')) {
    if (s.eat('...')) {
      s.expect('>');
      spec.options = 'any';
    } else {
      spec.options = parseTcpOptions(s);
    }
  }
  return spec;
}

function parseTcpOptions(s: Scanner): TcpOptionSpec[] {
  const options: TcpOptionSpec[] = [];
  if (s.eat('>')) return options;
  for (;;) {
    const name = s.expectWord('a TCP option');
    switch (name) {
      case 'eol':
      case 'nop':
      case 'sackOK':
        options.push({ kind: name });
        break;
      case 'mss':
        options.push({ kind: 'mss', value: s.expectInteger('an MSS') });
        break;
      case 'wscale':
        options.push({ kind: 'wscale', value: s.expectInteger('a window scale') });
        break;
      case 'sack': {
        const blocks: [number, number][] = [];
        while (!s.peek(',') && !s.peek('>')) {
          const left = s.expectInteger('a SACK block');
          s.expect(':');
          blocks.push([left, s.expectInteger('a SACK block end')]);
        }
        options.push({ kind: 'sack', blocks });
        break;
      }
      case 'TS':
        s.expect('val');
        {
          const val = s.expectInteger('a TS value');
          s.expect('ecr');
          options.push({ kind: 'TS', val, ecr: s.expectInteger('a TS echo reply') });
        }
        break;
      case 'md5': {
        const v = s.expectWord('valid or invalid');
        if (v !== 'valid' && v !== 'invalid') s.fail('md5 must be valid or invalid');
        options.push({ kind: 'md5', valid: v === 'valid' });
        break;
      }
      case 'FO':
      case 'FOEXP':
      case 'exp-fo':
      case 'exp-FO': {
        // TCP Fast Open cookie: kept as text; the skip list turns it into a reason.
        const start = s.pos;
        while (!s.peek(',') && !s.peek('>') && !s.atEnd()) s.pos++;
        options.push({ kind: 'fastopen', text: s.text.slice(start, s.pos).trim() });
        break;
      }
      default:
        s.fail(`unknown TCP option '${name}'`);
    }
    if (s.eat('>')) return options;
    s.expect(',');
  }
}

function parseIcmp(s: Scanner): IcmpSpec {
  const type = s.expectWord('an ICMP type');
  const spec: IcmpSpec = { type };
  if (!s.peek('[') && !s.peek('mtu') && !s.atEnd()) {
    const code = s.word();
    if (code !== undefined) spec.code = code;
  }
  if (s.eat('mtu')) spec.mtu = s.expectInteger('an MTU');
  if (s.eat('[')) {
    const range = parseSequenceRange(s);
    if (range.seq === undefined || range.end === undefined) {
      s.fail('an ICMP quote needs a sequence range');
    }
    spec.quoted = { seq: range.seq, end: range.end, length: range.length };
    s.expect(']');
  }
  return spec;
}

// ---- system calls ----

function parseSyscall(s: Scanner, time: EventTime): SyscallEvent {
  const name = s.expectWord('a system call, packet or command');
  s.expect('(');
  const args: Expr[] = [];
  if (!s.eat(')')) {
    for (;;) {
      args.push(parseExpr(s));
      if (s.eat(')')) break;
      s.expect(',');
    }
  }
  s.expect('=');
  const result = parseExpr(s);
  const event: SyscallEvent = { kind: 'syscall', line: s.line, time, name, args, result };
  const errno = s.word();
  if (errno !== undefined) event.errno = errno;
  if (s.eat('(')) {
    const close = s.text.lastIndexOf(')');
    if (close < s.pos) s.fail("expected ')'");
    event.note = s.text.slice(s.pos, close).trim();
    s.pos = close + 1;
  }
  if (!s.atEnd()) s.fail('unexpected text after the system call');
  return event;
}

function parseExpr(s: Scanner): Expr {
  const first = parseTerm(s);
  if (!s.peek('|') || s.peek('||')) return first;
  const terms = [first];
  while (s.eat('|')) terms.push(parseTerm(s));
  return { kind: 'or', terms };
}

function parseTerm(s: Scanner): Expr {
  if (s.eat('...')) return { kind: 'ellipsis' };
  if (s.eat('[')) {
    const items: Expr[] = [];
    if (!s.eat(']')) {
      for (;;) {
        items.push(parseExpr(s));
        if (s.eat(']')) break;
        s.expect(',');
      }
    }
    return { kind: 'list', items };
  }
  if (s.eat('{')) {
    const fields: { name?: string; value: Expr }[] = [];
    if (!s.eat('}')) {
      for (;;) {
        const save = s.pos;
        const name = s.word();
        if (name !== undefined && s.eat('=')) fields.push({ name, value: parseExpr(s) });
        else {
          s.pos = save;
          fields.push({ value: parseExpr(s) });
        }
        if (s.eat('}')) break;
        s.expect(',');
      }
    }
    return { kind: 'struct', fields };
  }
  if (s.peek('"')) {
    s.pos++;
    const close = s.text.indexOf('"', s.pos);
    if (close < 0) s.fail('unterminated string');
    const value = s.text.slice(s.pos, close);
    s.pos = close + 1;
    return { kind: 'string', value };
  }
  const negative = s.eat('-');
  const n = s.integer();
  if (n !== undefined) return { kind: 'int', value: negative ? -n : n };
  if (negative) s.fail('expected a number after -');
  const name = s.word();
  if (name !== undefined) return { kind: 'symbol', name };
  return s.fail('expected an expression');
}
