// What makes a script FAIL, and reading the argument and result expressions of call lines.

import { type CallResult } from './host.js';
import { type Expr, type SyscallEvent } from './script.js';

/** What makes a script FAIL: the line, why, and the expected and actual values. */
export class Failure extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly expected?: string,
    readonly actual?: string,
  ) {
    super(reason);
  }
}

/** `{l_onoff=1, l_linger=0}` as the linger time in seconds, -1 when lingering is off. */
export function lingerSeconds(e: Expr | undefined): number | undefined {
  if (e?.kind !== 'struct') return undefined;
  const field = (name: string): number | undefined => {
    const f = e.fields.find((x) => x.name === name);
    return f?.value.kind === 'int' ? f.value.value : undefined;
  };
  const onoff = field('l_onoff');
  const linger = field('l_linger');
  if (onoff === undefined || linger === undefined) return undefined;
  return onoff === 0 ? -1 : linger;
}

export function sameErrno(a: string | undefined, b: string | undefined): boolean {
  const norm = (e: string | undefined): string | undefined => (e === 'EWOULDBLOCK' ? 'EAGAIN' : e);
  return norm(a) === norm(b);
}

export function symbolName(e: Expr | undefined): string | undefined {
  return e?.kind === 'symbol' ? e.name : undefined;
}

export function orSymbols(e: Expr | undefined): string[] {
  if (e === undefined) return [];
  if (e.kind === 'symbol') return [e.name];
  if (e.kind === 'or') return e.terms.flatMap(orSymbols);
  return [];
}

export function intArg(event: SyscallEvent, index: number): number {
  const e = event.args[index];
  if (e?.kind !== 'int') throw new Failure(event.line, `argument ${index + 1} must be a number`);
  return e.value;
}

export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'int':
      return String(e.value);
    case 'ellipsis':
      return '...';
    case 'symbol':
      return e.name;
    case 'string':
      return JSON.stringify(e.value);
    case 'or':
      return e.terms.map(exprText).join(' | ');
    case 'list':
      return `[${e.items.map(exprText).join(', ')}]`;
    case 'struct':
      return `{${e.fields.map((f) => (f.name ? `${f.name}=` : '') + exprText(f.value)).join(', ')}}`;
  }
}

/** Total length of an iovec list `[{..., 10}, {iov_base=..., iov_len=20}]`. */
export function iovecLength(event: SyscallEvent, index: number): number {
  const e = event.args[index];
  if (e?.kind !== 'list') throw new Failure(event.line, `argument ${index + 1} must be an iovec`);
  let total = 0;
  for (const item of e.items) {
    const fields = item.kind === 'struct' ? item.fields : [];
    const length = fields.find((f) => f.name === 'iov_len') ?? fields.at(-1);
    if (length?.value.kind !== 'int') {
      throw new Failure(event.line, 'an iovec needs its length');
    }
    total += length.value.value;
  }
  return total;
}

/** The call's result against the one the line expects. */
export function expectResult(event: SyscallEvent, actual: CallResult): void {
  const expected = event.result;
  const describeExpected = (): string =>
    `${exprText(expected)}${event.errno ? ` ${event.errno}` : ''}`;
  const describeActual = (): string => (actual.ok ? String(actual.value) : `-1 ${actual.errno}`);
  if (expected.kind === 'ellipsis') return;
  if (expected.kind === 'int' && expected.value === -1) {
    if (actual.ok || (event.errno !== undefined && !sameErrno(event.errno, actual.errno))) {
      throw new Failure(
        event.line,
        `${event.name} result differs`,
        describeExpected(),
        describeActual(),
      );
    }
    return;
  }
  if (expected.kind === 'int') {
    if (!actual.ok || actual.value !== expected.value) {
      throw new Failure(
        event.line,
        `${event.name} result differs`,
        describeExpected(),
        describeActual(),
      );
    }
    return;
  }
  throw new Failure(event.line, `unsupported expected result ${exprText(expected)}`);
}
