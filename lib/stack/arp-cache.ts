/**
 * The neighbour cache (RFC 826, with the request pacing of RFC 1122 2.3.2.1): which hardware
 * address each on-link IPv4 address has, and the packets waiting for an answer. It reads no
 * clock and sends nothing: the stack passes the time in and acts on what `expire` returns.
 * Hardware addresses are 48-bit numbers, as lib/wire's Ethernet and ARP records hold them.
 */
import type { EthernetHeader } from '../wire/ethernet.js';

export interface ArpOptions {
  /** How long a learnt entry is trusted, µs. Linux keeps entries reachable ~30 s. */
  entryLifetime?: number;
  /** Time between requests for one address, µs. RFC 1122 2.3.2.1: at most one per second. */
  requestInterval?: number;
  /** Requests sent before giving up on an address (then EHOSTUNREACH). */
  requestAttempts?: number;
  /** Packets held per unresolved next hop; the oldest is dropped past it. */
  pendingPackets?: number;
  /** Entries in the cache, resolved or not; the oldest is evicted past it. */
  maxEntries?: number;
}

export const ARP_DEFAULTS: Required<ArpOptions> = {
  entryLifetime: 60_000_000,
  requestInterval: 1_000_000,
  requestAttempts: 3,
  pendingPackets: 16,
  maxEntries: 1024,
};

interface Entry {
  /** Known once resolved; undefined while a request is outstanding. */
  mac: number | undefined;
  /** Resolved: when the entry expires. Incomplete: when the next request is due. */
  deadline: number;
  attempts: number;
  /** IP packets (without Ethernet header) waiting for this address. */
  pending: Uint8Array[];
}

export interface ArpExpiry {
  /** Addresses to send a (re)request for now. */
  requests: number[];
  /** Addresses given up on; the packets that waited for them are dropped and counted. */
  failures: number[];
}

export class ArpCache {
  readonly options: Required<ArpOptions>;
  private readonly entries = new Map<number, Entry>();
  private heldBytes = 0;
  private heldPackets = 0;

  constructor(
    options: ArpOptions,
    /** Told of every held packet the cache lets go of without sending. */
    private readonly drop: (reason: string) => void,
  ) {
    this.options = { ...ARP_DEFAULTS, ...stripUndefined(options) };
  }

  /**
   * Puts the hardware address for `address` in `frame.dst` and returns true, or returns false
   * when it is unknown or expired. Written into the record rather than returned: a 48-bit
   * number returned by a call the optimiser did not inline is boxed on the heap.
   */
  lookup(address: number, now: number, frame: EthernetHeader): boolean {
    const entry = this.entries.get(address);
    if (entry === undefined || entry.mac === undefined || now >= entry.deadline) return false;
    frame.dst = entry.mac;
    return true;
  }

  /**
   * Records `mac` for `address` (RFC 826 "merge": only when an entry exists, unless
   * `create`). Returns the packets that were waiting for it, now ready to send.
   */
  learn(address: number, mac: number, now: number, create: boolean): Uint8Array[] {
    let entry = this.entries.get(address);
    if (entry === undefined) {
      if (!create) return [];
      entry = this.insert(address);
    }
    entry.mac = mac;
    entry.deadline = now + this.options.entryLifetime;
    entry.attempts = 0;
    const ready = entry.pending;
    entry.pending = [];
    for (const packet of ready) this.release(packet);
    return ready;
  }

  /**
   * Queues a copy of `packet` for `address`. Returns whether a request should go out now
   * (a new resolution).
   */
  hold(address: number, packet: Uint8Array, now: number): boolean {
    let entry = this.entries.get(address);
    let requestNow = false;
    if (entry === undefined || (entry.mac !== undefined && now >= entry.deadline)) {
      entry ??= this.insert(address);
      entry.mac = undefined;
      entry.attempts = 1;
      entry.deadline = now + this.options.requestInterval;
      requestNow = true;
    }
    if (entry.pending.length >= this.options.pendingPackets) {
      const dropped = entry.pending.shift();
      if (dropped !== undefined) this.release(dropped);
      this.drop('arp-pending-queue-full');
    }
    const copy = Uint8Array.from(packet);
    entry.pending.push(copy);
    this.heldBytes += copy.length;
    this.heldPackets++;
    return requestNow;
  }

  /** Paces outstanding requests and gives up on silent addresses; drops stale entries. */
  expire(now: number): ArpExpiry {
    const result: ArpExpiry = { requests: [], failures: [] };
    for (const [address, entry] of this.entries) {
      if (now < entry.deadline) continue;
      if (entry.mac !== undefined) {
        this.entries.delete(address);
      } else if (entry.attempts < this.options.requestAttempts) {
        entry.attempts++;
        entry.deadline = now + this.options.requestInterval;
        result.requests.push(address);
      } else {
        this.entries.delete(address);
        for (const packet of entry.pending) {
          this.release(packet);
          this.drop('arp-unresolved');
        }
        result.failures.push(address);
      }
    }
    return result;
  }

  /** The earliest time `expire` has work, or Infinity. */
  nextDeadline(): number {
    let next = Infinity;
    for (const entry of this.entries.values()) if (entry.deadline < next) next = entry.deadline;
    return next;
  }

  get size(): number {
    return this.entries.size;
  }

  get pendingPacketCount(): number {
    return this.heldPackets;
  }

  get pendingByteCount(): number {
    return this.heldBytes;
  }

  clear(): void {
    for (const entry of this.entries.values()) {
      for (let i = 0; i < entry.pending.length; i++) this.drop('stack-closed');
    }
    this.entries.clear();
    this.heldBytes = 0;
    this.heldPackets = 0;
  }

  private insert(address: number): Entry {
    if (this.entries.size >= this.options.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (!oldest.done) {
        const evicted = this.entries.get(oldest.value);
        for (const packet of evicted?.pending ?? []) {
          this.release(packet);
          this.drop('arp-entry-evicted');
        }
        this.entries.delete(oldest.value);
      }
    }
    const entry: Entry = { mac: undefined, deadline: 0, attempts: 0, pending: [] };
    this.entries.set(address, entry);
    return entry;
  }

  private release(packet: Uint8Array): void {
    this.heldBytes -= packet.length;
    this.heldPackets--;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
