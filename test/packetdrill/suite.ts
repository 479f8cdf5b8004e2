import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The FreeBSD packetdrill suite, read-only next to the checkout: $PACKETDRILL_SUITE, else
 * ../shared/conformance/tcp-testsuite from the repository (or from its worktree parent).
 */
export function findSuite(): string | undefined {
  const candidates = [
    process.env.PACKETDRILL_SUITE,
    resolve(root, '../shared/conformance/tcp-testsuite'),
    resolve(root, '../../shared/conformance/tcp-testsuite'),
  ];
  const found = candidates.find((c): c is string => c !== undefined && existsSync(c));
  if (found === undefined && !warned) {
    warned = true;
    console.warn(
      'skipping the packetdrill suite tests: no suite at $PACKETDRILL_SUITE or ' +
        '../shared/conformance/tcp-testsuite (set PACKETDRILL_SUITE to its folder)',
    );
  }
  return found;
}

let warned = false;

/** The groups whose IPv4 scripts must all pass or be skipped for a listed reason. */
export const GROUPS = [
  'state-event-engine',
  'snd-syn',
  'rcv-data-segments',
  'rcv-icmp',
  'snippets',
] as const;

export const fixtures = resolve(root, 'test/packetdrill/fixtures');
