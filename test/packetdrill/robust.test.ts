// Bad scripts never crash the runner: whatever the text, a script ends as PASS, FAIL or SKIP,
// and the parser only ever throws its own syntax error, with a line number.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCoreHost } from '../../lib/cli/packetdrill/core-host.js';
import { parseScript } from '../../lib/cli/packetdrill/parse.js';
import { profile } from '../../lib/cli/packetdrill/profile.js';
import { runScript } from '../../lib/cli/packetdrill/runner.js';
import { ScriptSyntaxError } from '../../lib/cli/packetdrill/script.js';
import { fixtures } from './suite.js';

const base = readFileSync(join(fixtures, 'active-open-data-close.pkt'), 'utf8').split('\n');
const tokens = [
  ' ',
  '+',
  '0',
  '1',
  '.',
  ':',
  '(',
  ')',
  '<',
  '>',
  ',',
  '[',
  ']',
  '`',
  '%{',
  '}%',
  'S',
  'F',
  'R',
  'P',
  'ack',
  'win',
  'mss',
  'sack',
  'TS val',
  '...',
  '~',
  '*',
  '-1',
  'EAGAIN',
  '4294967295',
  '#ifdef',
  '#endif',
  '//',
  '/*',
  '"',
];

/** One line of the fixture with a few edits: tokens inserted, characters deleted. */
const mutated = fc
  .tuple(
    fc.nat({ max: base.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...tokens), fc.boolean()), { maxLength: 4 }),
  )
  .map(([index, edits]) => {
    let line = base[index];
    for (const [at, token, insert] of edits) {
      const p = line.length === 0 ? 0 : at % line.length;
      line = insert
        ? line.slice(0, p) + token + line.slice(p)
        : line.slice(0, p) + line.slice(p + 1);
    }
    return base.map((l, i) => (i === index ? line : l)).join('\n');
  });

describe('packetdrill robustness', () => {
  it('parses or names the line, never anything else', () => {
    fc.assert(
      fc.property(mutated, (text) => {
        try {
          parseScript(text);
        } catch (e) {
          expect(e).toBeInstanceOf(ScriptSyntaxError);
          expect((e as ScriptSyntaxError).line).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('ends every script with a verdict', () => {
    const freebsd = profile('freebsd');
    fc.assert(
      fc.property(mutated, (text) => {
        const r = runScript(text, freebsd, createCoreHost);
        expect(['PASS', 'FAIL', 'SKIP']).toContain(r.status);
        if (r.status === 'FAIL') expect(r.line).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
