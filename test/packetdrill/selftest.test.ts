// The runner must notice a wrong expectation: a passing script with one `>` line or one
// return value changed has to FAIL on exactly that line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectScripts, runFiles } from '../../lib/cli/packetdrill/command.js';
import { createCoreHost } from '../../lib/cli/packetdrill/core-host.js';
import { profile } from '../../lib/cli/packetdrill/profile.js';
import { runScript } from '../../lib/cli/packetdrill/runner.js';
import { findSuite, fixtures } from './suite.js';

const freebsd = profile('freebsd');
const run = (text: string) => runScript(text, freebsd, createCoreHost);

type Mutation = { name: string; pick: RegExp; change: (line: string) => string };

const MUTATIONS: Mutation[] = [
  {
    name: 'a flag of an expected segment',
    pick: /^\+[\d.]+ > \. /,
    change: (l) => l.replace(' > . ', ' > R. '),
  },
  {
    name: 'the flags of an expected SYN',
    pick: /^\+[\d.]+ > S /,
    change: (l) => l.replace(' > S ', ' > S. '),
  },
  {
    name: 'a sequence number of an expected segment',
    pick: /^\+[\d.]+ > F\. /,
    change: (l) => l.replace(/(\d+):(\d+)\((\d+)\)/, (_m, a, b, n) => `${+a + 1}:${+b + 1}(${n})`),
  },
  {
    name: 'an acknowledgment number of an expected segment',
    pick: /^\+[\d.]+ > .* ack \d+/,
    change: (l) => l.replace(/ack (\d+)/, (_m, a) => `ack ${+a + 1}`),
  },
  {
    name: 'the window of an expected segment',
    pick: /^\+[\d.]+ > .* win \d+/,
    change: (l) => l.replace(/win (\d+)/, (_m, w) => `win ${+w - 1}`),
  },
  {
    name: 'the options of an expected segment',
    pick: /^\+[\d.]+ > .*wscale 6/,
    change: (l) => l.replace('wscale 6', 'wscale 7'),
  },
  {
    name: 'the time of an expected segment',
    pick: /^\+0\.00 > /,
    change: (l) => l.replace('+0.00', '+0.50'),
  },
  {
    name: 'a return value',
    pick: /^\+[\d.]+ (write|recv)\(.* = \d+$/,
    change: (l) => l.replace(/= (\d+)$/, (_m, n) => `= ${+n - 1}`),
  },
  {
    name: 'an errno',
    pick: /EINPROGRESS/,
    change: (l) => l.replace('= -1 EINPROGRESS (Operation now in progress)', '= 0'),
  },
];

describe.each(['active-open-data-close.pkt', 'passive-open-receive.pkt'])(
  'self-test %s',
  (name) => {
    const text = readFileSync(join(fixtures, name), 'utf8');
    const lines = text.split('\n');

    it('passes unchanged', () => {
      expect(run(text)).toEqual({ status: 'PASS' });
    });

    for (const mutation of MUTATIONS) {
      const index = lines.findIndex((l) => mutation.pick.test(l));
      if (index < 0) continue;
      it(`fails on line ${index + 1} when ${mutation.name} changes`, () => {
        const changed = [...lines];
        changed[index] = mutation.change(lines[index]);
        expect(changed[index]).not.toBe(lines[index]);
        const result = run(changed.join('\n'));
        expect(result.status).toBe('FAIL');
        expect(result.line).toBe(index + 1);
      });
    }
  },
);

// The same on scripts of the FreeBSD suite that pass today: the first expected segment gets a
// wrong window (or flags, when it has no window), the first checked return value a wrong
// number, and each change must make the script FAIL on that line.
const suite = findSuite();

describe.skipIf(suite === undefined)('self-test on passing suite scripts', () => {
  const passing = suite
    ? runFiles(
        collectScripts([join(suite, 'state-event-engine'), join(suite, 'snippets')]),
        'freebsd',
      )
        .results.filter((r) => r.status === 'PASS')
        .map((r) => r.file)
    : [];

  it('has passing scripts to work on', () => {
    expect(passing.length).toBeGreaterThan(0);
  });

  const segmentLine = /^\s*\+?[\d.]+\s+>\s/;
  const returnLine =
    /^\s*\+?[\d.]+\s+(close|listen|bind|accept|recv|read|write|send)\(.*\)\s*=\s*(\d+)\s*$/;

  for (const file of passing.slice(0, 12)) {
    it(`fails where ${file.split('/').slice(-2).join('/')} was changed`, () => {
      const lines = readFileSync(file, 'utf8').split('\n');
      const checks: [number, string][] = [];
      const seg = lines.findIndex((l) => segmentLine.test(l));
      if (seg >= 0) {
        const l = lines[seg];
        const changed = / win \d+/.test(l)
          ? l.replace(/ win (\d+)/, (_m, w) => ` win ${(+w + 1) % 65536}`)
          : l.replace(/>\s+(\S+)/, (_m, f) => `> ${f.includes('R') ? 'F.' : 'R.'}`);
        checks.push([seg, changed]);
      }
      const ret = lines.findIndex((l) => returnLine.test(l));
      if (ret >= 0)
        checks.push([ret, lines[ret].replace(/=\s*(\d+)\s*$/, (_m, n) => `= ${+n + 1}`)]);
      expect(checks.length).toBeGreaterThan(0);
      for (const [index, changed] of checks) {
        expect(changed).not.toBe(lines[index]);
        const text = lines.map((l, i) => (i === index ? changed : l)).join('\n');
        const result = run(text);
        expect(result.status, `${file}:${index + 1}`).toBe('FAIL');
        expect(result.line).toBe(index + 1);
      }
    });
  }
});
