/**
 * IPv4 fragment reassembly (RFC 791 3.2, "reassembly procedure"), under a memory bound. A
 * datagram is keyed by (source, destination, protocol, identification). Overlapping
 * fragments drop the whole datagram rather than choosing whose bytes win (the stance RFC 5722
 * takes for IPv6; overlaps are an evasion technique, not something honest senders make).
 */

export interface ReassemblyOptions {
  /** Bytes of fragment payload held across all datagrams. */
  memoryLimit?: number;
  /** How long an incomplete datagram is kept, µs. RFC 791 suggests 15 s; Linux uses 30 s. */
  timeout?: number;
  /** Datagrams in reassembly at once. */
  maxDatagrams?: number;
}

export const REASSEMBLY_DEFAULTS: Required<ReassemblyOptions> = {
  memoryLimit: 256 * 1024,
  timeout: 30_000_000,
  maxDatagrams: 64,
};

interface Fragment {
  offset: number;
  bytes: Uint8Array;
}

interface Datagram {
  fragments: Fragment[];
  /** Payload length, known once the last fragment (MF clear) arrived; else -1. */
  totalLength: number;
  heldBytes: number;
  /** The highest fragment end held so far. */
  highestEnd: number;
  expiresAt: number;
}

const MAX_DATAGRAM_PAYLOAD = 65535 - 20;

export class Reassembler {
  readonly options: Required<ReassemblyOptions>;
  private readonly datagrams = new Map<string, Datagram>();
  private held = 0;

  /**
   * `drop` hears every fragment or datagram let go of; `failed` every datagram the algorithm
   * gave up on (RFC 4293 ipSystemStatsReasmFails: timed out, malformed, overlapping, no room).
   */
  constructor(
    options: ReassemblyOptions,
    private readonly drop: (reason: string) => void,
    private readonly failed: () => void = () => {},
  ) {
    const defined = Object.entries(options).filter(([, v]) => v !== undefined);
    this.options = { ...REASSEMBLY_DEFAULTS, ...Object.fromEntries(defined) };
  }

  /**
   * Adds one fragment's payload (`offset` in bytes, `moreFragments` from the header).
   * Returns the whole payload once every byte is in, else undefined (held or dropped).
   */
  add(
    source: number,
    destination: number,
    protocol: number,
    identification: number,
    offset: number,
    moreFragments: boolean,
    payload: Uint8Array,
    now: number,
  ): Uint8Array | undefined {
    const key = `${source}:${destination}:${protocol}:${identification}`;
    const end = offset + payload.length;
    // An empty fragment carries nothing and would hold a record outside the memory bound
    // (Linux discards end == offset too).
    if (
      payload.length === 0 ||
      end > MAX_DATAGRAM_PAYLOAD ||
      (moreFragments && payload.length % 8 !== 0)
    ) {
      this.discard(key, 'ip-fragment-malformed');
      return undefined;
    }

    let datagram = this.datagrams.get(key);
    if (datagram === undefined) {
      if (this.datagrams.size >= this.options.maxDatagrams) {
        this.failed();
        this.drop('ip-reassembly-too-many');
        return undefined;
      }
      datagram = {
        fragments: [],
        totalLength: -1,
        heldBytes: 0,
        highestEnd: 0,
        expiresAt: now + this.options.timeout,
      };
      this.datagrams.set(key, datagram);
    }

    if (!moreFragments) {
      if (datagram.totalLength !== -1 && datagram.totalLength !== end) {
        this.discard(key, 'ip-fragment-overlap');
        return undefined;
      }
      datagram.totalLength = end;
    }
    // A fragment past the last one's end, held or arriving, contradicts it.
    if (datagram.totalLength !== -1 && Math.max(end, datagram.highestEnd) > datagram.totalLength) {
      this.discard(key, 'ip-fragment-overlap');
      return undefined;
    }
    for (const fragment of datagram.fragments) {
      if (offset < fragment.offset + fragment.bytes.length && fragment.offset < end) {
        this.discard(key, 'ip-fragment-overlap');
        return undefined;
      }
    }
    if (this.held + payload.length > this.options.memoryLimit) {
      this.discard(key, 'ip-reassembly-memory');
      return undefined;
    }

    datagram.fragments.push({ offset, bytes: Uint8Array.from(payload) });
    datagram.heldBytes += payload.length;
    datagram.highestEnd = Math.max(datagram.highestEnd, end);
    this.held += payload.length;
    if (datagram.totalLength === -1 || datagram.heldBytes !== datagram.totalLength) {
      return undefined;
    }

    // No overlaps and as many bytes as the total: the fragments tile the datagram exactly.
    const whole = new Uint8Array(datagram.totalLength);
    for (const fragment of datagram.fragments) whole.set(fragment.bytes, fragment.offset);
    this.held -= datagram.heldBytes;
    this.datagrams.delete(key);
    return whole;
  }

  /** Drops datagrams whose time is up (RFC 791: the reassembly timer). */
  expire(now: number): void {
    for (const [key, datagram] of this.datagrams) {
      if (now >= datagram.expiresAt) this.discard(key, 'ip-reassembly-timeout');
    }
  }

  nextDeadline(): number {
    let next = Infinity;
    for (const datagram of this.datagrams.values()) next = Math.min(next, datagram.expiresAt);
    return next;
  }

  get heldBytes(): number {
    return this.held;
  }

  get datagramCount(): number {
    return this.datagrams.size;
  }

  clear(): void {
    // Closing the stack is no failure of the algorithm: ipReasmFails stays as it is.
    for (const key of [...this.datagrams.keys()]) this.discard(key, 'stack-closed', false);
  }

  private discard(key: string, reason: string, failure = true): void {
    if (failure) this.failed();
    const datagram = this.datagrams.get(key);
    if (datagram !== undefined) {
      this.held -= datagram.heldBytes;
      this.datagrams.delete(key);
    }
    this.drop(reason);
  }
}
