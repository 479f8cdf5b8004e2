/**
 * A listening TCP port as an EventEmitter shaped like `net.Server`: 'listening',
 * 'connection', 'error' (EADDRINUSE, EADDRNOTAVAIL, EINVAL) and 'close' once closed and every
 * accepted connection is gone.
 */
import { EventEmitter } from 'node:events';
import { formatIPv4, parseIPv4 } from '../stack/address.js';
import type { TcpConnection, TcpListener } from '../stack/tcp-types.js';
import { Socket, socketError, type SocketOptions } from './socket.js';
import type { Clock } from '../link/clock.js';

export interface ServerOptions extends SocketOptions {
  /** Start accepted sockets paused (node:net `pauseOnConnect`). */
  pauseOnConnect?: boolean;
  /** setNoDelay(true) on every accepted socket. */
  noDelay?: boolean;
}

/** What a server needs from the stack that made it. */
export interface ServerHost {
  readonly clock: Clock;
  readonly address: number;
  listen(
    address: number,
    port: number,
    backlog: number,
    accept: (connection: TcpConnection) => void,
  ): TcpListener;
  /** Hears of every accepted socket, so the stack counts and closes it with its own. */
  adopt(socket: Socket): void;
}

export class Server extends EventEmitter {
  listening = false;
  private listener: TcpListener | undefined;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private closeWaiters: ((error?: Error) => void)[] = [];

  constructor(
    private readonly host: ServerHost,
    private readonly options: ServerOptions = {},
    onConnection?: (socket: Socket) => void,
  ) {
    super();
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  /**
   * `listen(port, [host], [backlog], [callback])` or `listen({ port, host, backlog },
   * [callback])`. Port 0 picks a free ephemeral port. Errors come as 'error' events.
   */
  listen(...args: unknown[]): this {
    let port = 0;
    let hostName: string | undefined;
    let backlog = 511;
    let callback: (() => void) | undefined;
    const first = args[0];
    if (typeof first === 'object' && first !== null) {
      const o = first as { port?: number; host?: string; backlog?: number };
      port = o.port ?? 0;
      hostName = o.host;
      backlog = o.backlog ?? backlog;
      if (typeof args[1] === 'function') callback = args[1] as () => void;
    } else {
      const rest = [...args];
      if (typeof rest[rest.length - 1] === 'function') callback = rest.pop() as () => void;
      port = Number(rest[0] ?? 0);
      if (typeof rest[1] === 'string') hostName = rest[1];
      if (typeof rest[1] === 'number') backlog = rest[1];
      if (typeof rest[2] === 'number') backlog = rest[2];
    }
    if (callback !== undefined) this.once('listening', callback);

    const fail = (error: Error): this => {
      process.nextTick(() => this.emit('error', error));
      return this;
    };
    if (this.listener !== undefined)
      return fail(socketError('EINVAL', 'listen', 'already listening'));
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return fail(socketError('EINVAL', 'listen', `bad port ${String(port)}`));
    }
    let address = 0;
    if (hostName !== undefined && hostName !== '0.0.0.0' && hostName !== '::') {
      const parsed = parseIPv4(hostName);
      if (parsed === undefined || parsed !== this.host.address) {
        return fail(socketError('EADDRNOTAVAIL', 'listen', undefined, hostName, port));
      }
      address = parsed;
    }
    try {
      this.listener = this.host.listen(address, port, backlog, (c) => this.accept(c));
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EINVAL';
      return fail(socketError(code, 'listen', undefined, hostName ?? '0.0.0.0', port));
    }
    this.listening = true;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    if (this.listener === undefined) return null;
    const address = this.listener.address === 0 ? this.host.address : this.listener.address;
    return { address: formatIPv4(address), family: 'IPv4', port: this.listener.port };
  }

  /** Stops accepting; 'close' follows once every accepted connection has closed. */
  close(callback?: (error?: Error) => void): this {
    if (callback !== undefined) this.closeWaiters.push(callback);
    if (this.listener === undefined) {
      if (!this.closing) {
        const error = socketError('ERR_SERVER_NOT_RUNNING', 'close', 'server is not running');
        const waiters = this.closeWaiters;
        this.closeWaiters = [];
        process.nextTick(() => waiters.forEach((w) => w(error)));
      }
      return this;
    }
    this.listener.close();
    this.listener = undefined;
    this.listening = false;
    this.closing = true;
    this.maybeClosed();
    return this;
  }

  /** Accepted sockets still open. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    process.nextTick(() => callback(null, this.sockets.size));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private accept(connection: TcpConnection): void {
    const socket = new Socket(this.host.clock, { allowHalfOpen: this.options.allowHalfOpen });
    socket.attach(connection, true);
    if (this.options.noDelay) socket.setNoDelay(true);
    if (this.options.pauseOnConnect) socket.pause();
    this.sockets.add(socket);
    this.host.adopt(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.maybeClosed();
    });
    this.emit('connection', socket);
  }

  private maybeClosed(): void {
    if (!this.closing || this.sockets.size > 0) return;
    this.closing = false;
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    process.nextTick(() => {
      for (const waiter of waiters) waiter();
      this.emit('close');
    });
  }
}
