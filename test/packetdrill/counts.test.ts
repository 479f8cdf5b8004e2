// Non-regression of the FreeBSD suite: per group, passes may only rise. The committed counts
// live in counts.json; after an improvement, refresh them with
//   UPDATE_PACKETDRILL_COUNTS=1 npx vitest run test/packetdrill/counts.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectScripts, runFiles } from '../../lib/cli/packetdrill/command.js';
import { SKIP_REASONS } from '../../lib/cli/packetdrill/skip.js';
import { GROUPS, findSuite } from './suite.js';

interface GroupCounts {
  passed: number;
  failed: number;
  skipped: number;
}

const countsFile = resolve(import.meta.dirname, 'counts.json');
const committed = JSON.parse(readFileSync(countsFile, 'utf8')) as {
  profile: string;
  groups: Record<string, GroupCounts>;
};
const suite = findSuite();

// The suite is read-only material beside the checkout, not something CI can install, so its
// absence skips (with the reason findSuite prints) even under CI=true; .ci/run points
// PACKETDRILL_SUITE at it wherever this machine keeps it.
const describeSuite = suite === undefined ? describe.skip : describe;

describeSuite('FreeBSD packetdrill suite (profile freebsd)', () => {
  const measured: Record<string, GroupCounts> = {};

  for (const group of GROUPS) {
    it(`${group}: passes do not go down`, () => {
      if (suite === undefined) throw new Error('the packetdrill suite is missing');
      const summary = runFiles(collectScripts([join(suite, group)]), 'freebsd');
      measured[group] = {
        passed: summary.passed,
        failed: summary.failed,
        skipped: summary.skipped,
      };
      for (const r of summary.results) {
        if (r.status !== 'SKIP') continue;
        // Every skip carries a reason from the closed list.
        const reason = (r.reason ?? '').split(':')[0];
        expect(Object.keys(SKIP_REASONS)).toContain(reason);
      }
      expect(summary.passed).toBeGreaterThanOrEqual(committed.groups[group]?.passed ?? 0);
    });
  }

  it.runIf(process.env.UPDATE_PACKETDRILL_COUNTS === '1')('writes counts.json', () => {
    const json = { profile: 'freebsd', groups: measured };
    writeFileSync(countsFile, JSON.stringify(json, null, 2) + '\n');
  });
});
