import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStack, type UtcpStack } from '../../lib/api/stack.js';
import { RealClock, type Clock, type ClockTimer } from '../../lib/link/clock.js';
import type { Lab } from '../../lib/lab/lab.js';
import type { Link } from '../../lib/link/types.js';
import { parseIPv4 } from '../../lib/stack/address.js';
import { initialSequenceNumber } from '../../lib/tcp/identifiers.js';

const PEER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kernel-peer.mjs');

/** Timers cut short so that no test waits out a real TIME_WAIT or keepalive. */
export const INTEROP_TCP = {
  msl: 500_000,
  finWait2Timeout: 2_000_000,
  connectionTimeout: 10_000_000,
  sendBuffer: 1 << 20,
  receiveBuffer: 1 << 20,
  // 1000 SYNs arrive together; the default queue of 128 would make the kernel retry.
  maxBacklog: 2048,
};

/** A node:net process on the kernel's TCP in the lab's peer namespace. */
export class KernelPeer {
  readonly records: Record<string, unknown>[] = [];
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];
  stderr = '';

  constructor(lab: Lab, mode: string, args: (string | number)[]) {
    this.child = spawn('ip', [
      'netns', 'exec', lab.peer.netns, process.execPath, PEER_SCRIPT, mode, ...args.map(String),
    ]); // prettier-ignore
    let buffered = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.records.push(JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>);
        buffered = buffered.slice(newline + 1);
      }
      for (const waiter of this.waiters) waiter();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** The first record with `key`, waiting up to `timeoutMs` for it. */
  async record(key: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.find((r) => key in r);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`kernel peer gave no "${key}" (stderr: ${this.stderr.trim()})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/**
 * Real time shifted by a fixed offset, chosen so that the RFC 6528 ISN of one planned
 * connection lands just below 2^32: its sequence numbers wrap early in the transfer.
 */
export class ShiftedClock implements Clock {
  constructor(
    private readonly inner: Clock,
    readonly offset: number,
  ) {}

  now(): number {
    return this.inner.now() + this.offset;
  }

  timer(callback: () => void): ClockTimer {
    const inner = this.inner.timer(callback);
    const offset = this.offset;
    return {
      start: (at: number) => inner.start(at - offset),
      cancel: () => inner.cancel(),
      get armed() {
        return inner.armed;
      },
      get deadline() {
        return inner.deadline + offset;
      },
    };
  }

  at(at: number, callback: () => void): ClockTimer {
    const timer = this.timer(callback);
    timer.start(at);
    return timer;
  }
}

/** A clock under which the connection (local:port → remote:port) starts at ISN `target`. */
export function clockForIsn(
  secret: Uint8Array,
  local: string,
  localPort: number,
  remote: string,
  remotePort: number,
  target: number,
): ShiftedClock {
  const real = new RealClock();
  const f = initialSequenceNumber(
    secret,
    0,
    4,
    parseIPv4(local) as number,
    localPort,
    parseIPv4(remote) as number,
    remotePort,
  );
  const want = (target - f) >>> 0;
  const cycle = 4 * 2 ** 32;
  const now = real.now();
  const shifted = 4 * want + cycle * (Math.floor(now / cycle) + 1);
  return new ShiftedClock(real, shifted - now);
}

export function stackOn(
  lab: Lab,
  link: Link,
  options: { clock?: Clock; secret?: Uint8Array } = {},
): UtcpStack {
  return createStack({
    link,
    address: lab.userIpv4,
    prefix: lab.stack.prefixLength,
    clock: options.clock,
    secret: options.secret,
    tcp: INTEROP_TCP,
    pcap: process.env.UTCP_INTEROP_PCAP,
  });
}

export async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
