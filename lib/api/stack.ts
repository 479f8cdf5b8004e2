/**
 * `createStack()`: a whole host on one link, with the `node:net`-shaped calls on it
 * (`createServer`, `connect`) and `stats()` for everything it counts.
 */
import { lookup as dnsLookup } from 'node:dns';
import { RealClock, type Clock } from '../link/clock.js';
import { capture, type CapturedLink } from '../link/pcap.js';
import type { Link } from '../link/types.js';
import { formatIPv4, parseIPv4 } from '../stack/address.js';
import type { ArpOptions } from '../stack/arp-cache.js';
import type { ReassemblyOptions } from '../stack/reassembly.js';
import { Stack } from '../stack/stack.js';
import { StackTcp } from '../stack/tcp-host.js';
import type { TcpParams } from '../tcp/params.js';
import { Server, type ServerOptions } from './server.js';
import { Socket, socketError, type SocketOptions } from './socket.js';

/** As `dns.lookup` with `{ family: 4 }`: one address for `hostname`. */
export type LookupFunction = (
  hostname: string,
  options: { family: 4 },
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

export interface CreateStackOptions {
  link: Link;
  /** Our IPv4 address (dotted quad) and the on-link prefix length. */
  address: string;
  prefix: number;
  gateway?: string;
  /** Largest IP packet we send; the link's MTU by default. */
  mtu?: number;
  /** Time source; a `RealClock` by default, a `VirtualClock` in simulations. */
  clock?: Clock;
  /** Resolves host names for `connect`; `dns.lookup` by default. */
  lookup?: LookupFunction;
  /** RFC 6528 / RFC 6056 secret (16 bytes or more); random by default. */
  secret?: Uint8Array;
  /** TCP core parameters: timers (µs), buffers, MSS floor, ... (see `TcpParams`). */
  tcp?: Partial<TcpParams>;
  arp?: ArpOptions;
  reassembly?: ReassemblyOptions;
  ttl?: number;
  /** Write every frame in and out to this pcap file. */
  pcap?: string;
}

export interface ConnectOptions extends SocketOptions {
  port: number;
  host?: string;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
}

export class UtcpStack {
  readonly stack: Stack;
  readonly tcp: StackTcp;
  readonly clock: Clock;
  private readonly lookup: LookupFunction;
  private readonly captured: CapturedLink | undefined;
  private readonly servers = new Set<Server>();
  private readonly sockets = new Set<Socket>();
  private readonly pings = new Map<number, (source: number) => boolean>();
  private readonly pingId = Math.floor(Math.random() * 0x10000);
  private pingSequence = 0;

  constructor(options: CreateStackOptions) {
    this.clock = options.clock ?? new RealClock();
    this.lookup = options.lookup ?? (dnsLookup as unknown as LookupFunction);
    let link = options.link;
    if (options.pcap !== undefined) {
      this.captured = capture(link, options.pcap, { clock: this.clock });
      link = this.captured;
    }
    this.stack = new Stack({
      link,
      clock: this.clock,
      address: options.address,
      prefix: options.prefix,
      gateway: options.gateway,
      mtu: options.mtu,
      ttl: options.ttl,
      arp: options.arp,
      reassembly: options.reassembly,
    });
    this.tcp = new StackTcp(this.stack, { secret: options.secret, tcp: options.tcp });
    this.stack.addTransport(this.tcp);
    this.stack.icmp.onEchoReply = (source, id, sequence) => {
      const waiter = this.pings.get((sequence << 16) | id);
      if (waiter === undefined || !waiter(source)) {
        this.stack.counters.drop('icmp-echo-reply-unsolicited');
      }
    };
    this.stack.start();
  }

  /** Our IPv4 address, dotted quad. */
  get address(): string {
    return formatIPv4(this.stack.address);
  }

  createServer(
    options?: ServerOptions | ((socket: Socket) => void),
    onConnection?: (socket: Socket) => void,
  ): Server {
    if (typeof options === 'function') {
      onConnection = options;
      options = {};
    }
    const tcp = this.tcp;
    const server = new Server(
      {
        clock: this.clock,
        address: this.stack.address,
        listen: (address, port, backlog, accept) => tcp.listen(address, port, backlog, accept),
        adopt: (socket) => this.track(socket),
      },
      options ?? {},
      onConnection,
    );
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    return server;
  }

  /** Counts an open socket, connected or accepted, until it closes. */
  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Opens a connection; errors (ECONNREFUSED, ETIMEDOUT, ...) come as 'error' events. */
  connect(options: ConnectOptions, onConnect?: () => void): Socket {
    const socket = new Socket(this.clock, { allowHalfOpen: options.allowHalfOpen });
    if (onConnect !== undefined) socket.once('connect', onConnect);
    if (options.noDelay) socket.setNoDelay(true);
    if (options.timeout !== undefined) socket.setTimeout(options.timeout);
    this.track(socket);
    const host = options.host ?? '127.0.0.1';
    const badPort = [options.port, options.localPort ?? 0].find((port) => !validPort(port));
    if (badPort !== undefined || options.port === 0) {
      // node:net refuses these with ERR_SOCKET_BAD_PORT before any packet is sent.
      const detail = `port must be an integer in 0..65535, got ${String(badPort ?? 0)}`;
      process.nextTick(() => socket.destroy(socketError('ERR_SOCKET_BAD_PORT', 'connect', detail)));
      return socket;
    }
    const start = (address: string): void => {
      if (socket.destroyed) return;
      const remote = parseIPv4(address);
      if (remote === undefined) {
        socket.destroy(socketError('EINVAL', 'connect', 'not an IPv4 address', address));
        return;
      }
      try {
        if (this.stack.route(remote) === undefined) {
          throw Object.assign(new Error('no route'), { code: 'ENETUNREACH' });
        }
        const connection = this.tcp.connect(remote, options.port, options.localPort ?? 0);
        socket.attach(connection, false);
        if (options.keepAlive) {
          socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'EINVAL';
        const detail = (error as Error).message;
        process.nextTick(() =>
          socket.destroy(socketError(code, 'connect', detail, address, options.port)),
        );
      }
    };
    if (parseIPv4(host) !== undefined) {
      start(host);
    } else {
      this.lookup(host, { family: 4 }, (error, address) => {
        if (error) {
          socket.destroy(socketError(error.code ?? 'ENOTFOUND', 'getaddrinfo', undefined, host));
        } else {
          start(address);
        }
      });
    }
    return socket;
  }

  /**
   * Sends one ICMP echo request and resolves with the round-trip time in µs; rejects with
   * ETIMEDOUT when no reply comes within `timeout` ms (default 1000).
   */
  ping(host: string, options: { timeout?: number; size?: number } = {}): Promise<number> {
    const destination = parseIPv4(host);
    if (destination === undefined) {
      return Promise.reject(socketError('EINVAL', 'ping', 'not an IPv4 address', host));
    }
    const size = options.size ?? 56;
    if (!Number.isInteger(size) || size < 0) {
      const detail = `size must be a non-negative integer, got ${String(size)}`;
      return Promise.reject(socketError('ERR_OUT_OF_RANGE', 'ping', detail, host));
    }
    // RFC 791: the echo data plus 8 bytes of ICMP header must fit a 65535-byte datagram.
    if (size > 65535 - 20 - 8) {
      return Promise.reject(socketError('EMSGSIZE', 'ping', `size ${size}`, host));
    }
    const timeout = options.timeout ?? 1000;
    if (typeof timeout !== 'number' || !(timeout >= 0) || timeout === Infinity) {
      const detail = `timeout must be a finite number of ms, got ${String(timeout)}`;
      return Promise.reject(socketError('ERR_OUT_OF_RANGE', 'ping', detail, host));
    }
    const id = this.pingId;
    this.pingSequence = (this.pingSequence + 1) & 0xffff;
    const sequence = this.pingSequence;
    const data = new Uint8Array(size);
    for (let i = 0; i < data.length; i++) data[i] = i & 255;
    const started = this.clock.now();
    return new Promise((resolve, reject) => {
      const key = (sequence << 16) | id;
      const timer = this.clock.timer(() => {
        this.pings.delete(key);
        reject(socketError('ETIMEDOUT', 'ping', undefined, host));
      });
      this.pings.set(key, (source) => {
        if (source !== destination) return false;
        timer.cancel();
        this.pings.delete(key);
        resolve(this.clock.now() - started);
        return true;
      });
      timer.start(started + timeout * 1000);
      const error = this.stack.icmp.sendEcho(destination, id, sequence, data);
      if (error !== undefined) {
        timer.cancel();
        this.pings.delete(key);
        reject(socketError(error, 'ping', undefined, host));
      }
    });
  }

  /** Every counter (RFC 4022 / 4293 names), every drop reason and the gauges. */
  stats(): StackStats {
    const stack = this.stack;
    const core = this.tcp.core;
    const ip = stack.counters.snapshot();
    const ipDrops = ip.drops as Record<string, number>;
    delete ip.drops;
    const tcpCounters: Record<string, number> = {};
    for (const [key, value] of Object.entries(core.counters)) {
      if (typeof value === 'number') tcpCounters[key] = value;
    }
    tcpCounters.acksCoalesced = this.tcp.acksCoalesced;
    const tcpDrops: Record<string, number> = {};
    for (const [key, value] of Object.entries(core.counters.drops)) {
      if (value > 0) tcpDrops[key] = value;
    }
    const link = stack.link.stats();
    return {
      tcp: tcpCounters,
      ip: ip as Record<string, number>,
      drops: { ...ipDrops, ...prefixed('tcp-', tcpDrops), ...prefixed('link-', link.drops) },
      gauges: {
        connections: core.connectionCount,
        connectionsByState: core.connectionsByState(),
        listeners: core.listenerCount,
        portsInUse: core.portsInUse,
        timers: this.tcp.timers,
        bytesBuffered: core.bufferBytes + stack.reassembler.heldBytes + stack.arp.pendingByteCount,
        framesHeld: stack.arp.pendingPacketCount,
        reassemblyDatagrams: stack.reassembler.datagramCount,
        arpEntries: stack.arp.size,
        pathMtuEntries: stack.pathMtuEntries,
        sockets: this.sockets.size,
        servers: this.servers.size,
      },
      link,
    };
  }

  /** Closes servers, resets remaining connections, stops the stack and closes its link. */
  async close(): Promise<void> {
    for (const server of [...this.servers]) server.close();
    // The peer hears of each connection's end at once (RST) rather than waiting it out.
    for (const socket of [...this.sockets]) socket.resetAndDestroy();
    const now = this.clock.now();
    for (const conn of [...this.tcp.core.connections]) this.tcp.core.abort(now, conn);
    this.stack.flush();
    this.stack.close();
    await (this.captured ?? this.stack.link).close();
  }
}

export interface StackStats {
  tcp: Record<string, number>;
  ip: Record<string, number>;
  drops: Record<string, number>;
  gauges: {
    connections: number;
    connectionsByState: Record<string, number>;
    listeners: number;
    portsInUse: number;
    timers: number;
    bytesBuffered: number;
    framesHeld: number;
    reassemblyDatagrams: number;
    arpEntries: number;
    pathMtuEntries: number;
    sockets: number;
    servers: number;
  };
  link: ReturnType<Link['stats']>;
}

function prefixed(prefix: string, record: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) out[prefix + key] = value;
  return out;
}

export function createStack(options: CreateStackOptions): UtcpStack {
  return new UtcpStack(options);
}

function validPort(port: unknown): boolean {
  return typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535;
}
