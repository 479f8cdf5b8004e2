import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectScripts } from '../../lib/cli/packetdrill/command.js';
import { parseScript } from '../../lib/cli/packetdrill/parse.js';
import {
  type PacketEvent,
  ScriptSyntaxError,
  type SyscallEvent,
} from '../../lib/cli/packetdrill/script.js';
import { GROUPS, findSuite } from './suite.js';

function one(line: string) {
  const script = parseScript(line);
  expect(script.events).toHaveLength(1);
  return script.events[0];
}

function packet(line: string): PacketEvent {
  const e = one(line);
  if (e.kind !== 'packet') throw new Error(`not a packet: ${e.kind}`);
  return e;
}

function call(line: string): SyscallEvent {
  const e = one(line);
  if (e.kind !== 'syscall') throw new Error(`not a system call: ${e.kind}`);
  return e;
}

describe('packetdrill parser: times', () => {
  it('reads absolute, relative, any, window and blocking times in microseconds', () => {
    expect(one(' 0.00 close(3) = 0').time).toEqual({ type: 'absolute', usecs: 0 });
    expect(one('+0.10 close(3) = 0').time).toEqual({ type: 'relative', usecs: 100_000 });
    expect(one('+ 2.20 close(3) = 0').time).toEqual({ type: 'relative', usecs: 2_200_000 });
    expect(one('*      > S  0:0(0) win 65535 <...>').time).toEqual({ type: 'any', usecs: 0 });
    expect(
      one(' 1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)').time,
    ).toEqual({
      type: 'absolute',
      usecs: 1_000_000,
      end: { kind: 'blocking', type: 'absolute', usecs: 6_000_000 },
    });
    expect(one('+0.1~+0.3 close(3) = 0').time.end).toEqual({
      kind: 'window',
      type: 'relative',
      usecs: 300_000,
    });
  });
});

describe('packetdrill parser: packets', () => {
  it('reads a SYN with the FreeBSD option list', () => {
    const p = packet('+0.00 > S  0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>');
    expect(p.direction).toBe('outbound');
    expect(p.tcp).toEqual({
      flags: 'S',
      seq: 0,
      payloadLength: 0,
      win: 65535,
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'nop' },
        { kind: 'wscale', value: 6 },
        { kind: 'sackOK' },
        { kind: 'TS', val: 100, ecr: 0 },
      ],
    });
  });

  it('reads ack, data ranges, SACK blocks and eol padding', () => {
    const p = packet('+0.00 >  .   1:1(0)     ack 100 win 65535 <nop,nop,sack 400:500 200:300>');
    expect(p.tcp?.ack).toBe(100);
    expect(p.tcp?.options).toEqual([
      { kind: 'nop' },
      { kind: 'nop' },
      {
        kind: 'sack',
        blocks: [
          [400, 500],
          [200, 300],
        ],
      },
    ]);
    const q = packet('+0.10 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>');
    expect(q.direction).toBe('inbound');
    expect(q.tcp?.flags).toBe('S.');
    expect(q.tcp?.options).toEqual([
      { kind: 'mss', value: 1460 },
      { kind: 'sackOK' },
      { kind: 'eol' },
      { kind: 'eol' },
    ]);
    const d = packet('+0.00 <  .  50:275(225) ack   1 win 65535');
    expect(d.tcp).toMatchObject({ seq: 50, payloadLength: 225, options: [] });
  });

  it('reads unchecked options, unchecked sequence numbers and no window', () => {
    expect(packet('*      > S  0:0(0) win 65535 <...>').tcp?.options).toBe('any');
    const p = packet('+0.00 > S.     ...(0)     ack 65537 win 65535 <mss 1460,sackOK,eol,eol>');
    expect(p.tcp?.seq).toBeUndefined();
    expect(p.tcp?.ack).toBe(65537);
    expect(packet('+0.00 > S  0:0(0)').tcp?.win).toBeUndefined();
  });

  it('reads ECN flags and marks, and IP fields', () => {
    const p = packet('+0.00 > [ect0] P. 1:11(10) ack 1');
    expect(p.ip.ecn).toBe('ect0');
    expect(p.tcp?.flags).toBe('P.');
    expect(packet('+0.01 < [noecn] . 1:1(0) ack 1 win 65535').ip.ecn).toBe('noecn');
    expect(packet('+0.00 > SEW 0:0(0) win 65535 <mss 1460>').tcp?.flags).toBe('SEW');
    const t = packet('+0.00 > (tos 0x20) S 0:0(0) win 65535 <mss 1460>');
    expect(t.ip.tos).toBe(0x20);
  });

  it('reads ICMP errors with their quoted segment', () => {
    const p = packet('+0.10 < icmp unreachable packet_filtered [4294967295:4294967295(0)]');
    expect(p.icmp).toEqual({
      type: 'unreachable',
      code: 'packet_filtered',
      quoted: { seq: 4294967295, end: 4294967295, length: 0 },
    });
    expect(packet('+0.00 <icmp unreachable frag_needed mtu 1234 [0:0(0)]').icmp).toMatchObject({
      code: 'frag_needed',
      mtu: 1234,
    });
    expect(packet('+0.00 < icmp source_quench [0:0(0)]').icmp?.code).toBeUndefined();
    expect(packet('+0.00 < icmp packet_too_big mtu 1300 [0:0(0)]').icmp).toMatchObject({
      type: 'packet_too_big',
      mtu: 1300,
    });
  });

  it('rejects a range that does not match its length, naming the line', () => {
    expect(() => parseScript('\n\n+0 < . 1:10(5) ack 1 win 10')).toThrowError(
      /line 3: .*does not match the length/,
    );
  });
});

describe('packetdrill parser: system calls, commands, options', () => {
  it('reads socket calls with errno results and notes', () => {
    const c = call('+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)');
    expect(c).toMatchObject({
      name: 'connect',
      args: [{ kind: 'int', value: 3 }, { kind: 'ellipsis' }, { kind: 'ellipsis' }],
      result: { kind: 'int', value: -1 },
      errno: 'EINPROGRESS',
      note: 'Operation now in progress',
    });
    expect(call('+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)').result).toEqual({
      kind: 'int',
      value: 2,
    });
    expect(call('+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0').args[2]).toEqual({
      kind: 'or',
      terms: [
        { kind: 'symbol', name: 'O_RDWR' },
        { kind: 'symbol', name: 'O_NONBLOCK' },
      ],
    });
    expect(
      call('+0.00 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0').args[3],
    ).toEqual({ kind: 'list', items: [{ kind: 'symbol', name: 'ECONNREFUSED' }] });
    expect(call('+0.00 recv(4, ..., 1024, MSG_PEEK) = 99').args[3]).toEqual({
      kind: 'symbol',
      name: 'MSG_PEEK',
    });
    expect(call('+0.00 write (3, ..., 10) = 10').name).toBe('write');
    expect(call('+0.00 read(3, ..., 100) = -1 EWOULDBLOCK (Operation would block)').errno).toBe(
      'EWOULDBLOCK',
    );
  });

  it('reads shell commands, Python blocks and options, dropping comments', () => {
    const script = parseScript(
      [
        '// a comment',
        '--ip_version=ipv4',
        '--tolerance_usecs=50000',
        ' 0.00 `sysctl -w net.inet.tcp.rfc1323=1`',
        '/* a block',
        '   comment */',
        '+0.00 %{ assert tcpi_state == TCPI_SYN_SENT }%',
        '+0.00 %{',
        'assert tcpi_state == TCPI_CLOSED',
        '}%',
        '+0.00 close(3) = 0 // trailing',
      ].join('\n'),
    );
    expect(script.options.get('tolerance_usecs')).toBe('50000');
    expect(script.events.map((e) => [e.kind, e.line])).toEqual([
      ['shell', 4],
      ['python', 7],
      ['python', 8],
      ['syscall', 11],
    ]);
    expect(script.events[0]).toMatchObject({ command: 'sysctl -w net.inet.tcp.rfc1323=1' });
    expect(script.events[2]).toMatchObject({ code: 'assert tcpi_state == TCPI_CLOSED' });
  });

  it('keeps #ifdef sections for the defined names only', () => {
    const text = [
      '+0 close(3) = 0',
      '#ifdef STANDARD',
      '+0 > R. 2:2(0) ack 2 win 0',
      '#endif',
      '#ifdef FreeBSD',
      '+0 > . 2:2(0) ack 2 win 65535',
      '#else',
      '+0 > F. 2:2(0) ack 2 win 65535',
      '#endif',
    ].join('\n');
    const freebsd = parseScript(text, { defines: new Set(['FreeBSD']) });
    expect(freebsd.events.map((e) => e.line)).toEqual([1, 6]);
    const standard = parseScript(text, { defines: new Set(['STANDARD']) });
    expect(standard.events.map((e) => e.line)).toEqual([1, 3, 8]);
  });

  it('names the line of every syntax error', () => {
    const bad = [
      ['+0 frobnicate', /line 1: expected '\('/],
      ['\n+0 > S 0:0(0) win 1 <mss>', /line 2: expected an MSS/],
      ['+0 > S 0:0(0) win 1 <bogus 3>', /unknown TCP option 'bogus'/],
      ['#ifdef X\n+0 close(3) = 0', /line 1: #ifdef without #endif/],
      ['+0 `sysctl -w a=1', /line 1: unterminated/],
      ['+0 < [weird] . 1:1(0) ack 1 win 1', /unknown ECN mark/],
    ] as const;
    for (const [text, message] of bad) {
      let error: unknown;
      try {
        parseScript(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScriptSyntaxError);
      expect(String((error as Error).message)).toMatch(message);
    }
  });
});

describe('packetdrill parser: the FreeBSD suite', () => {
  const suite = findSuite();
  it.skipIf(suite === undefined)('parses every script of the checked groups', () => {
    const files = collectScripts(GROUPS.map((g) => join(suite as string, g)));
    expect(files.length).toBeGreaterThan(700);
    for (const file of files) {
      for (const defines of [['FreeBSD'], ['STANDARD']]) {
        const script = parseScript(readFileSync(file, 'utf8'), { defines: new Set(defines) });
        expect(script.events.length, file).toBeGreaterThan(0);
      }
    }
  });
});
