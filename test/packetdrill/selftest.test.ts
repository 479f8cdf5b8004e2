// The runner must notice a wrong expectation: a passing script with one `>` line or one
// return value changed has to FAIL on exactly that line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCoreHost } from '../../lib/cli/packetdrill/core-host.js';
import { profile } from '../../lib/cli/packetdrill/profile.js';
import { runScript } from '../../lib/cli/packetdrill/runner.js';
import { fixtures } from './suite.js';

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
