import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

/** What a test may need from the machine: root, or a command on PATH. */
export type Need = 'root' | { command: string; debianPackage: string };

export function missing(needs: readonly Need[]): string | undefined {
  for (const need of needs) {
    if (need === 'root') {
      if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF)';
      continue;
    }
    try {
      execFileSync('sh', ['-c', `command -v ${need.command}`], { stdio: 'ignore' });
    } catch {
      return `needs the command ${need.command} (Debian package ${need.debianPackage})`;
    }
  }
  return undefined;
}

/**
 * A describe block that runs only when the machine has what it needs. Elsewhere it skips with
 * a one-line reason; under CI=true a missing need fails instead, so CI cannot pass by skipping.
 */
export function describeNeeding(needs: readonly Need[], name: string, body: () => void): void {
  const reason = missing(needs);
  if (reason === undefined) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has what it needs', () => {
        throw new Error(`${name}: ${reason}`);
      });
    });
  } else {
    console.warn(`skipping "${name}": ${reason}`);
    describe.skip(name, body);
  }
}

export const IP: Need = { command: 'ip', debianPackage: 'iproute2' };
export const ETHTOOL: Need = { command: 'ethtool', debianPackage: 'ethtool' };
export const TCPDUMP: Need = { command: 'tcpdump', debianPackage: 'tcpdump' };
export const CURL: Need = { command: 'curl', debianPackage: 'curl' };
export const PING: Need = { command: 'ping', debianPackage: 'iputils-ping' };
