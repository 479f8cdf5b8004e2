/**
 * The host: ties one link to ARP, IPv4, ICMP and the transports above them. Frames are taken
 * from the link in bursts; every frame of a burst is handled, then the transports finish the
 * burst (coalesced ACKs) and the frames to send leave in one `txSubmit`. Nothing here keeps a
 * timer per connection: one clock timer wakes the stack at its earliest deadline.
 */
import {
  RX_FLAG_CHECKSUM_VERIFIED,
  TX_FLAG_FILL_CHECKSUMS,
  DESCRIPTOR_WORDS,
  type Link,
} from '../link/types.js';
import type { Clock, ClockTimer } from '../link/clock.js';
import {
  ARP_LENGTH,
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  parseArp,
  writeArp,
  type ArpDropReason,
} from '../wire/arp.js';
import { read16 } from '../wire/bytes.js';
import {
  BROADCAST_MAC,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  EthernetHeader,
  formatMac,
  readMac,
  writeEthernet,
} from '../wire/ethernet.js';
import { UNREACHABLE_PORT, UNREACHABLE_PROTOCOL } from '../wire/icmp.js';
import {
  IPV4_MIN_HEADER_LENGTH,
  Ipv4Header,
  PROTOCOL_ICMP,
  PROTOCOL_UDP,
  parseIpv4,
  writeIpv4,
  type Ipv4DropReason,
} from '../wire/ipv4.js';
import { formatIPv4, parseIPv4, prefixMask } from './address.js';
import { ArpCache, type ArpOptions } from './arp-cache.js';
import { StackCounters, debug } from './counters.js';
import { Icmp } from './icmp.js';
import { Reassembler, type ReassemblyOptions } from './reassembly.js';
import { TxBatch } from './tx-batch.js';

/** The stack's own names for the header errors lib/wire reports (RFC 4293 ipInHdrErrors). */
const IPV4_REASONS: Record<Ipv4DropReason, string> = {
  'ipv4-truncated': 'ip-truncated',
  'ipv4-bad-version': 'ip-bad-header',
  'ipv4-bad-header-length': 'ip-bad-header',
  'ipv4-bad-total-length': 'ip-bad-total-length',
  'ipv4-bad-checksum': 'ip-bad-checksum',
};

/** The stack's own names for the ARP errors lib/wire reports. */
const ARP_REASONS: Record<ArpDropReason, string> = {
  'arp-truncated': 'arp-truncated',
  'arp-unsupported': 'arp-unsupported-format',
  'arp-bad-operation': 'arp-unknown-operation',
};

/** A protocol above IPv4 (TCP): the stack hands it datagrams and ICMP errors about it. */
export interface Transport {
  readonly protocol: number;
  /** One datagram addressed to us; the payload is valid only during the call. */
  input(
    source: number,
    destination: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    now: number,
  ): void;
  /**
   * An ICMP error quoting one of our datagrams (RFC 792, RFC 5927): `quoted` holds the quoted
   * transport header bytes (at least 8). `mtu` is the next-hop MTU of fragmentation-needed.
   * Returns the path MTU the transport now uses towards `destination` when it took the error
   * as genuine, else 0: the stack learns a path MTU only from errors a transport believed.
   */
  icmpError(
    type: number,
    code: number,
    mtu: number,
    source: number,
    destination: number,
    quoted: Uint8Array,
    now: number,
  ): number;
  /**
   * Asked of each of its datagrams ARP held, once the address resolves: true when whatever
   * sent it has gone since (a SYN whose socket was destroyed), so it is dropped unsent.
   */
  heldDatagramStale?(packet: Uint8Array): boolean;
  /** Told when ARP gave up on `address`: connections to it fail with EHOSTUNREACH. */
  unreachable(address: number, now: number): void;
  /** The burst is over: send what was held back to coalesce. */
  endBurst(now: number): void;
  /** Earliest time `expire` has work, or Infinity. */
  nextDeadline(): number;
  expire(now: number): void;
}

export interface StackOptions {
  link: Link;
  /** Our IPv4 address, dotted quad. */
  address: string;
  /** Prefix length of the on-link network. */
  prefix: number;
  /** Next hop for every off-link destination; without it those give ENETUNREACH. */
  gateway?: string;
  /** Largest IP packet we send; defaults to the link's MTU. */
  mtu?: number;
  clock: Clock;
  /** Time to live of the packets we send (RFC 1700 suggests 64). */
  ttl?: number;
  arp?: ArpOptions;
  reassembly?: ReassemblyOptions;
  /** How long a path MTU learnt from ICMP is kept, µs (RFC 1191 6.3: about 10 minutes). */
  pathMtuLifetime?: number;
  /** ICMP errors sent per second at most (RFC 1812 4.3.2.8 asks for a limit). */
  icmpErrorsPerSecond?: number;
  /** Frames read per `rxBurst`; defaults to the link's burst size. */
  burstSize?: number;
}

/** Why a send could not happen, as the errno-style code users see. */
export type RouteError = 'ENETUNREACH' | 'EMSGSIZE' | 'ENOBUFS';

/**
 * Writes a datagram's payload at `buf[offset ..]`. With `checksumByLink` the link fills the
 * transport checksum as the frame leaves, so the writer may leave it zero.
 */
export type PayloadWriter = (buf: Uint8Array, offset: number, checksumByLink: boolean) => void;

/** Path MTU floor (RFC 1191 3: never below 68; Linux uses 552 to keep MSS sensible). */
const MIN_PATH_MTU = 552;
/** Bursts taken in one turn of the event loop before yielding to other work. */
const BURSTS_PER_TURN = 16;

export class Stack {
  readonly link: Link;
  readonly clock: Clock;
  readonly address: number;
  readonly prefix: number;
  readonly mask: number;
  readonly gateway: number | undefined;
  readonly mtu: number;
  readonly counters = new StackCounters();
  readonly arp: ArpCache;
  readonly reassembler: Reassembler;
  readonly icmp: Icmp;

  private readonly transports = new Map<number, Transport>();
  private readonly tx: TxBatch;
  private readonly ttl: number;
  private readonly pathMtus = new Map<number, { mtu: number; expiresAt: number }>();
  private readonly pathMtuLifetime: number;
  private readonly burstSize: number;
  /** Our hardware address, as lib/wire's records hold it. */
  private readonly mac: number;
  /** Reused for every datagram: parsing allocates nothing. */
  private readonly ipv4Header = new Ipv4Header();
  private readonly arpPacket = new ArpPacket();
  /**
   * Reused for every frame sent, their fixed fields set once: our MAC, and the TTL, source
   * address and DF of everything we originate (RFC 1191 path MTU discovery).
   */
  private readonly ethernetOut = new EthernetHeader();
  private readonly ipv4Out = new Ipv4Header();
  private readonly arpOut = new ArpPacket();
  private readonly wake: ClockTimer;
  private readonly continueReceive: ClockTimer;
  private readonly scratch = new Uint8Array(65536);
  private identification = 0;
  private burst = false;
  private rearmQueued = false;
  /** TX slot of the last frame `sendIPv4` put in the batch (-1: held for ARP or failed). */
  lastSlot = -1;
  private flushQueued = false;
  private closed = false;
  /** The link writes IPv4 and transport checksums in its burst call (TX_FLAG_FILL_CHECKSUMS). */
  private readonly linkFillsChecksums: boolean;

  constructor(options: StackOptions) {
    this.link = options.link;
    this.linkFillsChecksums = options.link.fillsChecksums === true;
    this.clock = options.clock;
    const address = parseIPv4(options.address);
    if (address === undefined) throw codeError('EINVAL', `not an IPv4 address: ${options.address}`);
    if (!Number.isInteger(options.prefix) || options.prefix < 0 || options.prefix > 32) {
      throw codeError('EINVAL', `bad prefix length: ${options.prefix}`);
    }
    this.address = address;
    this.prefix = options.prefix;
    this.mask = prefixMask(options.prefix);
    if (options.gateway !== undefined) {
      const gateway = parseIPv4(options.gateway);
      if (gateway === undefined || !this.onLink(gateway)) {
        throw codeError('EINVAL', `gateway not on the link's network: ${options.gateway}`);
      }
      this.gateway = gateway;
    }
    this.mtu = Math.min(options.mtu ?? this.link.mtu, this.link.mtu);
    this.ttl = options.ttl ?? 64;
    this.mac = readMac(this.link.mac, 0);
    this.ethernetOut.src = this.mac;
    this.ipv4Out.ttl = this.ttl;
    this.ipv4Out.src = address;
    this.ipv4Out.dontFragment = true;
    this.arpOut.senderMac = this.mac;
    this.arpOut.senderIp = address;
    this.pathMtuLifetime = options.pathMtuLifetime ?? 600_000_000;
    this.icmp = new Icmp(this, options.icmpErrorsPerSecond ?? 100);
    this.burstSize = Math.min(options.burstSize ?? this.link.burstSize, this.link.burstSize);
    const drop = (reason: string): void => this.counters.drop(reason);
    this.arp = new ArpCache(options.arp ?? {}, drop);
    this.reassembler = new Reassembler(
      options.reassembly ?? {},
      drop,
      () => this.counters.ipReasmFails++,
    );
    this.tx = new TxBatch(this.link, this.counters);
    this.wake = this.clock.timer(() => this.onWake());
    this.continueReceive = this.clock.timer(() => this.receive());
  }

  /** Starts taking frames and announces our address (gratuitous ARP, RFC 5227 3). */
  start(): void {
    this.link.setSteering({ mode: 'addresses', ipv4: [formatIPv4(this.address)] });
    this.link.onReadable(() => this.scheduleReceive());
    this.sendArp(ARP_REQUEST, BROADCAST_MAC, this.address, 0);
    this.counters.arpOutGratuitous++;
    this.flush();
    this.receive();
  }

  addTransport(transport: Transport): void {
    this.transports.set(transport.protocol, transport);
  }

  /** Stops the link callbacks and timers; held packets are dropped and counted. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.onReadable(null);
    this.wake.cancel();
    this.continueReceive.cancel();
    this.tx.flush();
    this.arp.clear();
    this.reassembler.clear();
  }

  /** True while a burst (or a timer run) is being processed: TX goes out at its end. */
  get inBurst(): boolean {
    return this.burst;
  }

  get txGeneration(): number {
    return this.tx.generation;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onLink(address: number): boolean {
    return ((address ^ this.address) & this.mask) === 0;
  }

  /** The next hop for `destination`, or undefined when there is no route. */
  route(destination: number): number | undefined {
    // Limitation: no loopback interface, so our own address is unreachable; fixing it needs a
    // loopback link delivering to this stack.
    if (destination === this.address) return undefined;
    if (this.onLink(destination)) return destination;
    return this.gateway;
  }

  /** The transport registered for `protocol`. */
  transport(protocol: number): Transport | undefined {
    return this.transports.get(protocol);
  }

  /**
   * Records a next-hop MTU from fragmentation-needed (RFC 1191 4), never below the floor and
   * only ever lowering the current one.
   */
  learnPathMtu(destination: number, mtu: number, now: number): void {
    if (mtu < MIN_PATH_MTU) mtu = MIN_PATH_MTU;
    if (mtu < this.pathMtu(destination)) {
      this.pathMtus.set(destination, { mtu, expiresAt: now + this.pathMtuLifetime });
      debug('path MTU to %s is now %d', formatIPv4(destination), mtu);
    }
  }

  /** Largest IP packet to send towards `destination` (RFC 1191). */
  pathMtu(destination: number): number {
    const learnt = this.pathMtus.get(destination);
    if (learnt !== undefined && learnt.expiresAt > this.clock.now()) return learnt.mtu;
    return this.mtu;
  }

  get pathMtuEntries(): number {
    return this.pathMtus.size;
  }

  /**
   * Sends one IPv4 datagram of `length` payload bytes, written in place by `write(buf,
   * offset)`. DF is set on everything we originate (RFC 1191 path MTU discovery). Returns an
   * error code when the datagram cannot leave, else undefined (sent, or held for ARP).
   */
  sendIPv4(
    destination: number,
    protocol: number,
    length: number,
    write: PayloadWriter,
    tos = 0,
  ): RouteError | undefined {
    this.counters.ipOutRequests++;
    this.lastSlot = -1;
    const nextHop = this.route(destination);
    if (nextHop === undefined) {
      this.counters.ipOutNoRoutes++;
      this.counters.drop('ip-no-route', formatIPv4(destination));
      return 'ENETUNREACH';
    }
    const totalLength = IPV4_MIN_HEADER_LENGTH + length;
    // Limitation: datagrams we originate are never fragmented (TCP sizes its segments to the
    // path MTU; ICMP echo replies larger than it are dropped); fixing it needs an IPv4
    // fragmenter on the way out.
    if (totalLength > this.pathMtu(destination)) {
      this.counters.ipOutDiscards++;
      this.counters.drop('ip-exceeds-path-mtu');
      return 'EMSGSIZE';
    }
    const ip = this.ipv4Out;
    ip.totalLength = totalLength;
    ip.identification = this.identification;
    ip.protocol = protocol;
    ip.dst = destination;
    ip.tos = tos;
    this.identification = (this.identification + 1) & 0xffff;
    const now = this.clock.now();
    const ethernet = this.ethernetOut;

    if (!this.arp.lookup(nextHop, now, ethernet)) {
      // Build the packet aside and hold a copy until ARP answers (RFC 1122 2.3.2.2).
      writeIpv4(this.scratch, 0, ip);
      write(this.scratch, IPV4_MIN_HEADER_LENGTH, false);
      const requestNow = this.arp.hold(nextHop, this.scratch.subarray(0, totalLength), now);
      if (requestNow) this.sendArp(ARP_REQUEST, BROADCAST_MAC, nextHop, 0);
      this.armWake();
      this.queueFlush();
      return undefined;
    }

    const offset = this.tx.next();
    if (offset < 0 || this.tx.capacity() < ETHERNET_HEADER_LENGTH + totalLength) {
      this.counters.ipOutDiscards++;
      this.counters.drop(offset < 0 ? 'tx-no-buffer' : 'tx-frame-too-small');
      return 'ENOBUFS';
    }
    const memory = this.link.memory;
    ethernet.etherType = ETHERTYPE_IPV4;
    writeEthernet(memory, offset, ethernet);
    writeIpv4(memory, offset + ETHERNET_HEADER_LENGTH, ip);
    write(
      memory,
      offset + ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH,
      this.linkFillsChecksums,
    );
    this.lastSlot = this.tx.nextSlot;
    this.commitFrame(
      offset,
      ETHERNET_HEADER_LENGTH + totalLength,
      this.linkFillsChecksums ? TX_FLAG_FILL_CHECKSUMS : 0,
    );
    this.queueFlush();
    return undefined;
  }

  /**
   * Rewrites the payload of a datagram `sendIPv4` batched in this burst, in place: same
   * destination, protocol and length, so the IP header stands. False when it already left.
   */
  rewriteIPv4(slot: number, generation: number, write: PayloadWriter): boolean {
    const offset = this.tx.slotOffset(slot, generation);
    if (offset < 0) return false;
    // Only frames sendIPv4 put straight into the batch have a slot, flagged as it chose.
    write(
      this.link.memory,
      offset + ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH,
      this.linkFillsChecksums,
    );
    return true;
  }

  /** A transport's deadlines moved: the wake-up is re-read at the end of this turn. */
  deadlinesChanged(): void {
    if (this.burst || this.rearmQueued || this.closed) return;
    this.rearmQueued = true;
    queueMicrotask(() => {
      this.rearmQueued = false;
      this.armWake();
    });
  }

  /** Sends what is batched now rather than at the end of this turn. */
  flush(): void {
    this.tx.flush();
  }

  /** Re-reads every deadline after a transport changed its own. */
  armWake(): void {
    if (this.closed) return;
    let next = Math.min(this.arp.nextDeadline(), this.reassembler.nextDeadline());
    for (const transport of this.transports.values()) {
      next = Math.min(next, transport.nextDeadline());
    }
    for (const entry of this.pathMtus.values()) next = Math.min(next, entry.expiresAt);
    if (next === Infinity) {
      this.wake.cancel();
    } else if (!this.wake.armed || this.wake.deadline !== next) {
      this.wake.start(next);
    }
  }

  /** Batches the frames sent outside a burst (user calls) into one submit per turn. */
  queueFlush(): void {
    if (this.burst || this.flushQueued || this.closed) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (this.closed) return;
      this.tx.flush();
    });
  }

  private onWake(): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.burst = true;
    const arp = this.arp.expire(now);
    for (const address of arp.requests) {
      this.sendArp(ARP_REQUEST, BROADCAST_MAC, address, 0);
    }
    for (const address of arp.failures) {
      this.counters.arpResolveFailures++;
      debug('arp: no answer from %s', formatIPv4(address));
      for (const transport of this.transports.values()) transport.unreachable(address, now);
    }
    this.reassembler.expire(now);
    for (const [destination, entry] of this.pathMtus) {
      if (entry.expiresAt <= now) this.pathMtus.delete(destination);
    }
    try {
      for (const transport of this.transports.values()) {
        transport.expire(now);
        transport.endBurst(now);
      }
    } finally {
      // A user callback that threw from a timer still leaves the stack ready for the next one.
      this.burst = false;
      this.tx.flush();
      this.armWake();
    }
  }

  /**
   * The link's wake-up runs from its own event (a poll handle or a clock timer), never inside
   * one of our calls, so the burst is processed right there. Past the per-turn budget the rest
   * waits for a clock timer at the current time, letting other work in between.
   */
  private scheduleReceive(): void {
    if (this.closed || this.continueReceive.armed) return;
    this.receive();
  }

  /** Takes bursts from the link until it is empty (or the turn's budget is spent). */
  receive(): void {
    if (this.closed) return;
    for (let round = 0; round < BURSTS_PER_TURN; round++) {
      const count = this.link.rxBurst(this.burstSize);
      if (count === 0) return;
      const now = this.clock.now();
      this.burst = true;
      const descriptors = this.link.rxDescriptors;
      // A handler that throws (a user's 'data' listener, say) must not cost the rest of the
      // burst nor leave the stack mid-burst: every frame is handled, the burst ends as usual,
      // and the first exception is thrown afterwards, uncaught as it would be in node:net.
      let failure: { error: unknown } | undefined;
      for (let i = 0; i < count; i++) {
        const base = i * DESCRIPTOR_WORDS;
        try {
          this.frameIn(descriptors[base], descriptors[base + 1], descriptors[base + 2], now);
        } catch (error) {
          failure ??= { error };
        }
      }
      try {
        for (const transport of this.transports.values()) transport.endBurst(now);
      } catch (error) {
        failure ??= { error };
      } finally {
        this.burst = false;
        this.link.rxRelease();
        this.tx.flush();
        this.armWake();
      }
      if (failure !== undefined) {
        // The frames still waiting on the link are read on the next turn, as after a budget.
        if (!this.closed) this.continueReceive.start(this.clock.now());
        throw failure.error;
      }
      if (this.closed) return;
    }
    this.continueReceive.start(this.clock.now());
  }

  private frameIn(offset: number, length: number, flags: number, now: number): void {
    const memory = this.link.memory;
    this.counters.ethInFrames++;
    if (length < ETHERNET_HEADER_LENGTH) {
      this.counters.drop('eth-truncated');
      return;
    }
    if (!this.forUs(memory, offset)) {
      this.counters.drop('eth-not-for-us');
      return;
    }
    const ethertype = read16(memory, offset + 12);
    const payload = offset + ETHERNET_HEADER_LENGTH;
    const payloadLength = length - ETHERNET_HEADER_LENGTH;
    if (ethertype === ETHERTYPE_IPV4) {
      this.ipv4In(memory, payload, payloadLength, (flags & RX_FLAG_CHECKSUM_VERIFIED) !== 0, now);
    } else if (ethertype === ETHERTYPE_ARP) {
      this.arpIn(memory, payload, payloadLength, now);
    } else {
      this.counters.drop('eth-unknown-ethertype', ethertype.toString(16));
    }
  }

  private forUs(memory: Uint8Array, offset: number): boolean {
    const mac = this.link.mac;
    let ours = true;
    let broadcast = true;
    for (let i = 0; i < 6; i++) {
      const byte = memory[offset + i];
      if (byte !== mac[i]) ours = false;
      if (byte !== 255) broadcast = false;
    }
    return ours || broadcast;
  }

  // RFC 826 "Packet Reception", with RFC 5227 2.1.1 probes (sender 0.0.0.0) not learnt.
  private arpIn(buf: Uint8Array, offset: number, length: number, now: number): void {
    const packet = this.arpPacket;
    const reason = parseArp(buf, offset, length, packet);
    if (reason !== undefined) {
      this.counters.drop(ARP_REASONS[reason]);
      return;
    }
    const operation = packet.operation;
    const senderMac = packet.senderMac;
    const senderAddress = packet.senderIp;
    const targetAddress = packet.targetIp;
    if (operation === ARP_REQUEST) this.counters.arpInRequests++;
    else this.counters.arpInReplies++;

    const forUs = targetAddress === this.address;
    if (senderAddress === this.address) {
      this.counters.drop('arp-address-conflict', formatMac(senderMac));
      return;
    }
    if (senderAddress !== 0 && this.onLink(senderAddress)) {
      const ready = this.arp.learn(senderAddress, senderMac, now, forUs);
      for (const datagram of ready) {
        if (this.transports.get(datagram[9])?.heldDatagramStale?.(datagram) === true) {
          this.counters.ipOutDiscards++;
          this.counters.drop('arp-pending-sender-gone', formatIPv4(senderAddress));
          continue;
        }
        this.sendHeld(senderMac, datagram);
      }
    }
    if (!forUs) {
      if (operation === ARP_REQUEST) this.counters.drop('arp-not-for-us');
      return;
    }
    if (operation === ARP_REQUEST) {
      this.sendArp(ARP_REPLY, senderMac, senderAddress, senderMac);
      this.counters.arpOutReplies++;
    }
  }

  private sendArp(
    operation: number,
    destinationMac: number,
    target: number,
    targetMac: number,
  ): void {
    const offset = this.tx.next();
    if (offset < 0) {
      this.counters.drop('tx-no-buffer');
      return;
    }
    const memory = this.link.memory;
    const ethernet = this.ethernetOut;
    ethernet.dst = destinationMac;
    ethernet.etherType = ETHERTYPE_ARP;
    writeEthernet(memory, offset, ethernet);
    const arp = this.arpOut;
    arp.operation = operation;
    arp.targetMac = targetMac;
    arp.targetIp = target;
    writeArp(memory, offset + ETHERNET_HEADER_LENGTH, arp);
    if (operation === ARP_REQUEST) this.counters.arpOutRequests++;
    // Ethernet's 60-byte minimum: zero the padding rather than leak old frame bytes.
    const length = ETHERNET_HEADER_LENGTH + ARP_LENGTH;
    memory.fill(0, offset + length, offset + 60);
    this.commitFrame(offset, 60);
    this.queueFlush();
  }

  private sendHeld(mac: number, packet: Uint8Array): void {
    const offset = this.tx.next();
    if (offset < 0 || this.tx.capacity() < ETHERNET_HEADER_LENGTH + packet.length) {
      this.counters.ipOutDiscards++;
      this.counters.drop('tx-no-buffer');
      return;
    }
    const memory = this.link.memory;
    const ethernet = this.ethernetOut;
    ethernet.dst = mac;
    ethernet.etherType = ETHERTYPE_IPV4;
    writeEthernet(memory, offset, ethernet);
    memory.set(packet, offset + ETHERNET_HEADER_LENGTH);
    this.commitFrame(offset, ETHERNET_HEADER_LENGTH + packet.length);
    this.queueFlush();
  }

  private commitFrame(offset: number, length: number, flags = 0): void {
    if (length < 60) {
      this.link.memory.fill(0, offset + length, offset + 60);
      length = 60;
    }
    this.tx.commit(length, flags);
    if (
      length > ETHERNET_HEADER_LENGTH &&
      read16(this.link.memory, offset + 12) === ETHERTYPE_IPV4
    ) {
      this.counters.ipOutTransmits++;
    }
  }

  // RFC 791 3.2 and RFC 1122 3.2.1: validate, reassemble, deliver by protocol.
  private ipv4In(
    buf: Uint8Array,
    offset: number,
    length: number,
    verified: boolean,
    now: number,
  ): void {
    this.counters.ipInReceives++;
    const header = this.ipv4Header;
    const reason = parseIpv4(buf, offset, length, header, !verified);
    if (reason !== undefined) {
      this.counters.ipInHdrErrors++;
      this.counters.drop(IPV4_REASONS[reason]);
      return;
    }
    const totalLength = header.totalLength;
    const source = header.src;
    const destination = header.dst;
    if (destination !== this.address) {
      this.counters.ipInAddrErrors++;
      this.counters.drop('ip-not-for-us', formatIPv4(destination));
      return;
    }
    if (this.isMartian(source)) {
      this.counters.ipInAddrErrors++;
      this.counters.drop('ip-bad-source', formatIPv4(source));
      return;
    }

    const protocol = header.protocol;
    let payload = header.payloadOffset;
    let payloadLength = header.payloadLength;
    let data = buf;
    if (header.fragment) {
      this.counters.ipReasmReqds++;
      const whole = this.reassembler.add(
        source,
        destination,
        protocol,
        header.identification,
        header.fragmentOffset,
        header.moreFragments,
        buf.subarray(payload, payload + payloadLength),
        now,
      );
      if (whole === undefined) {
        this.armWake();
        return;
      }
      this.counters.ipReasmOKs++;
      data = whole;
      payload = 0;
      payloadLength = whole.length;
      // A reassembled datagram never carries verified transport checksums.
      verified = false;
    }

    if (protocol === PROTOCOL_ICMP) {
      this.counters.ipInDelivers++;
      this.icmp.input(source, data, payload, payloadLength, now);
      return;
    }
    const transport = this.transports.get(protocol);
    if (transport !== undefined) {
      this.counters.ipInDelivers++;
      transport.input(source, destination, data, payload, payloadLength, verified, now);
      return;
    }
    // RFC 1122 3.2.2.1: protocol unreachable; a UDP port has nothing listening.
    this.counters.ipInUnknownProtos++;
    this.counters.drop(protocol === PROTOCOL_UDP ? 'udp-no-listener' : 'ip-unknown-protocol');
    const code = protocol === PROTOCOL_UDP ? UNREACHABLE_PORT : UNREACHABLE_PROTOCOL;
    if (header.fragmentOffset === 0) {
      this.icmp.sendUnreachable(code, source, buf, offset, totalLength);
    }
  }

  /** RFC 1122 3.2.1.3: sources we must never answer (broadcast, multicast, loopback, zero). */
  private isMartian(source: number): boolean {
    const first = source >>> 24;
    if (source === 0 || first === 127 || first >= 224) return true;
    return this.prefix < 31 && this.onLink(source) && (source & ~this.mask) === ~this.mask >>> 0;
  }
}

/** An Error with an errno-style `code`, as node:net gives. */
export function codeError(code: string, message: string): Error & { code: string } {
  const error = new Error(`${code}: ${message}`) as Error & { code: string };
  error.code = code;
  return error;
}
