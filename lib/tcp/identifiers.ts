// Initial sequence numbers (RFC 6528) and ephemeral ports (RFC 6056), both from a keyed hash
// of the connection's addresses and a secret the caller supplies, so runs replay exactly.

import { createHmac } from 'node:crypto';

function keyedHash(
  secret: Uint8Array,
  label: number,
  a: number,
  b: number,
  c: number,
  d: number,
): number {
  const input = Buffer.alloc(20);
  input.writeUInt32BE(label >>> 0, 0);
  input.writeUInt32BE(a >>> 0, 4);
  input.writeUInt32BE(b >>> 0, 8);
  input.writeUInt32BE(c >>> 0, 12);
  input.writeUInt32BE(d >>> 0, 16);
  return createHmac('sha256', secret).update(input).digest().readUInt32BE(0);
}

const ISN_LABEL = 1;
const PORT_LABEL = 2;

/**
 * RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
 * timer ticking every `clockPeriod` microseconds (4 µs in the RFC).
 */
export function initialSequenceNumber(
  secret: Uint8Array,
  now: number,
  clockPeriod: number,
  localAddress: number,
  localPort: number,
  remoteAddress: number,
  remotePort: number,
): number {
  const f = keyedHash(
    secret,
    ISN_LABEL,
    localAddress,
    remoteAddress,
    (localPort << 16) | remotePort,
    0,
  );
  const m = Math.floor(now / clockPeriod) % 0x100000000;
  return (m + f) >>> 0;
}

/**
 * RFC 6056 3.3.3 (Algorithm 3, "simple hash-based"): the search for a free port starts at
 * an offset that depends on the destination, and a counter advances on every attempt.
 */
export class EphemeralPorts {
  private nextEphemeral = 0;

  constructor(
    private readonly secret: Uint8Array,
    readonly first: number,
    readonly last: number,
  ) {}

  /** Calls `free(port)` on candidates in RFC 6056 order; returns the first accepted or -1. */
  choose(
    localAddress: number,
    remoteAddress: number,
    remotePort: number,
    free: (port: number) => boolean,
  ): number {
    const count = this.last - this.first + 1;
    const offset = keyedHash(this.secret, PORT_LABEL, localAddress, remoteAddress, remotePort, 0);
    for (let tries = 0; tries < count; tries++) {
      const port = this.first + ((offset + this.nextEphemeral) % count);
      this.nextEphemeral = (this.nextEphemeral + 1) % 0x100000000;
      if (free(port)) return port;
    }
    return -1;
  }
}

const TIMESTAMP_LABEL = 3;

/** RFC 7323 7.1: a per-connection offset for TSval, so timestamps reveal no host clock. */
export function timestampOffset(
  secret: Uint8Array,
  localAddress: number,
  localPort: number,
  remoteAddress: number,
  remotePort: number,
): number {
  return keyedHash(
    secret,
    TIMESTAMP_LABEL,
    localAddress,
    remoteAddress,
    (localPort << 16) | remotePort,
    0,
  );
}
