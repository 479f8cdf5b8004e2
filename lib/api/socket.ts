/**
 * A TCP connection as a `stream.Duplex`, behaving like `net.Socket` where users look: writes
 * queue until established, `write()` returns false past the high-water mark and `'drain'`
 * follows, `end()` sends FIN, `'end'` comes with the peer's FIN, failures destroy the socket
 * with an error whose `code` is errno-style, and `'close'` comes last.
 */
import { Duplex } from 'node:stream';
import type { Clock, ClockTimer } from '../link/clock.js';
import { formatIPv4 } from '../stack/address.js';
import type { ConnectionEvents, TcpConnection } from '../stack/tcp-types.js';

export interface SocketOptions {
  /** Keep the writable side open after the peer's FIN (node:net `allowHalfOpen`). */
  allowHalfOpen?: boolean;
}

export interface SocketError extends Error {
  code: string;
  syscall?: string;
  address?: string;
  port?: number;
}

export function socketError(
  code: string,
  syscall: string,
  detail?: string,
  address?: string,
  port?: number,
): SocketError {
  const where = address === undefined ? '' : ` ${address}${port === undefined ? '' : ':' + port}`;
  const error = new Error(
    `${syscall} ${code}${where}${detail ? ` (${detail})` : ''}`,
  ) as SocketError;
  error.code = code;
  error.syscall = syscall;
  if (address !== undefined) error.address = address;
  if (port !== undefined) error.port = port;
  return error;
}

/**
 * The borrowed-bytes receive path for proxies: called with views into the connection's
 * receive buffer, valid only during the call; returns how many bytes it consumed.
 */
export type LendingReader = (view: Uint8Array) => number;

export class Socket extends Duplex {
  /** True until the handshake completes (node:net). */
  connecting = true;
  bytesRead = 0;
  bytesWritten = 0;
  /** @internal Told when the send buffer has room again (for relays). */
  onSendSpace: (() => void) | undefined;

  private connection: TcpConnection | undefined;
  private pendingWrite:
    { chunk: Uint8Array; offset: number; callback: (e?: Error) => void } | undefined;
  private wantRead = false;
  private peerEnded = false;
  private lender: LendingReader | undefined;
  private idleTimeout = 0;
  private lastActivity = 0;
  private idleTimer: ClockTimer | undefined;
  private noDelay = false;
  private readonly clock: Clock;

  constructor(clock: Clock, options: SocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: true, decodeStrings: true });
    this.clock = clock;
  }

  /** @internal Binds the socket to its connection (at connect or accept). */
  attach(connection: TcpConnection, established: boolean): void {
    this.connection = connection;
    connection.events = this.events();
    if (this.noDelay) connection.setNoDelay(true);
    if (established) this.onEstablished();
  }

  get remoteAddress(): string | undefined {
    return this.connection && formatIPv4(this.connection.remoteAddress);
  }

  get remotePort(): number | undefined {
    return this.connection?.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.connection && 'IPv4';
  }

  get localAddress(): string | undefined {
    return this.connection && formatIPv4(this.connection.localAddress);
  }

  get localPort(): number | undefined {
    return this.connection?.localPort;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.connection === undefined) return {};
    return {
      address: formatIPv4(this.connection.localAddress),
      family: 'IPv4',
      port: this.connection.localPort,
    };
  }

  /** The RFC 9293 state of the connection, or 'CLOSED' once it is gone. */
  get state(): string {
    return this.connection?.state ?? 'CLOSED';
  }

  /** Smoothed round-trip time, µs (RFC 6298). */
  get srtt(): number {
    return this.connection?.srtt ?? 0;
  }

  get rttvar(): number {
    return this.connection?.rttvar ?? 0;
  }

  get rto(): number {
    return this.connection?.rto ?? 0;
  }

  get cwnd(): number {
    return this.connection?.cwnd ?? 0;
  }

  get ssthresh(): number {
    return this.connection?.ssthresh ?? 0;
  }

  get bytesInFlight(): number {
    return this.connection?.bytesInFlight ?? 0;
  }

  get retransmissions(): number {
    return this.connection?.retransmissions ?? 0;
  }

  get pending(): boolean {
    return this.connecting;
  }

  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  get bufferSize(): number {
    return this.writableLength;
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    this.connection?.setNoDelay(noDelay);
    return this;
  }

  /** `initialDelay` in ms as in node:net; 0 keeps the stack's default idle time. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.connection?.setKeepAlive(enable, Math.max(0, Math.floor(initialDelay)) * 1000);
    return this;
  }

  /** Emits 'timeout' after `ms` of no activity either way; 0 turns it off. */
  setTimeout(ms: number, callback?: () => void): this {
    this.idleTimeout = Math.max(0, Math.floor(ms)) * 1000;
    if (callback !== undefined) {
      if (this.idleTimeout === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (this.idleTimeout === 0) {
      this.idleTimer?.cancel();
      return this;
    }
    this.idleTimer ??= this.clock.timer(() => this.onIdleTimer());
    this.touch();
    return this;
  }

  /** Closes with RST rather than FIN (node:net `resetAndDestroy`). */
  resetAndDestroy(): this {
    const connection = this.connection;
    if (connection !== undefined && connection.state !== 'CLOSED') connection.abort();
    return this.destroy();
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /**
   * Hands incoming bytes to `reader` as borrowed views instead of 'data' events (the proxy
   * fast path); `null` goes back to the stream. The views are valid only during the call.
   */
  setLendingReader(reader: LendingReader | null): void {
    this.lender = reader ?? undefined;
    // Nothing is pushed while lending, so flowing mode only lets 'end' through.
    if (reader !== null) this.resume();
    this.drainReceive();
  }

  /** Bytes the connection's send buffer takes right now, for relays that write directly. */
  get sendSpace(): number {
    return this.connection?.sendSpace ?? 0;
  }

  /** @internal Copies bytes straight into the connection's send buffer (for relays). */
  sendDirect(view: Uint8Array): number {
    if (this.connection === undefined || this.connecting || !this.writable) return 0;
    let taken: number;
    try {
      taken = this.connection.send(view, 0, view.length);
    } catch (error) {
      this.failCall(error, 'write');
      return 0;
    }
    this.bytesWritten += taken;
    if (taken > 0) this.touch();
    return taken;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error) => void): void {
    this.pendingWrite = { chunk, offset: 0, callback };
    if (!this.connecting) this.continueWrite();
  }

  override _final(callback: (e?: Error) => void): void {
    if (this.connection === undefined || this.connecting) {
      this.once('connect', () => this._final(callback));
      return;
    }
    this.connection.shutdown();
    callback();
  }

  override _read(): void {
    this.wantRead = true;
    if (!this.connecting) this.drainReceive();
  }

  override _destroy(error: Error | null, callback: (e: Error | null) => void): void {
    this.idleTimer?.cancel();
    const connection = this.connection;
    if (connection !== undefined && connection.state !== 'CLOSED') {
      // node:net destroy() closes the descriptor: FIN, or RST with unread bytes (the core
      // decides, RFC 2525 2.17). A destroy with an error aborts outright.
      if (error !== null) connection.abort();
      else connection.close();
    }
    callback(error);
  }

  private events(): ConnectionEvents {
    return {
      established: () => this.onEstablished(),
      readable: () => this.drainReceive(),
      writable: () => {
        this.continueWrite();
        this.onSendSpace?.();
      },
      peerClosed: () => {
        this.peerEnded = true;
        this.drainReceive();
      },
      error: (code, detail) => {
        const syscall = this.connecting ? 'connect' : 'read';
        this.destroy(socketError(code, syscall, detail, this.remoteAddress, this.remotePort));
      },
      closed: () => {
        // The connection left the stack, but bytes that arrived before the peer's FIN stay
        // readable from it; its state now reads 'CLOSED', so nothing is sent on it again.
        this.drainReceive();
      },
    };
  }

  private onEstablished(): void {
    if (!this.connecting) return;
    this.connecting = false;
    this.touch();
    this.emit('connect');
    this.emit('ready');
    this.continueWrite();
    if (this.wantRead || this.lender !== undefined) this.drainReceive();
  }

  private continueWrite(): void {
    const pending = this.pendingWrite;
    if (pending === undefined || this.connection === undefined) return;
    const { chunk } = pending;
    let taken: number;
    try {
      taken = this.connection.send(chunk, pending.offset, chunk.length - pending.offset);
    } catch (error) {
      this.pendingWrite = undefined;
      pending.callback(this.callError(error, 'write'));
      return;
    }
    pending.offset += taken;
    this.bytesWritten += taken;
    if (taken > 0) this.touch();
    if (pending.offset === chunk.length) {
      this.pendingWrite = undefined;
      pending.callback();
    }
  }

  private drainReceive(): void {
    const connection = this.connection;
    if (connection !== undefined && !this.connecting) {
      if (this.lender !== undefined) {
        const lender = this.lender;
        const consumed = connection.receive((view) => lender(view));
        this.bytesRead += consumed;
        if (consumed > 0) this.touch();
      } else {
        while (this.wantRead && connection.receiveQueued > 0) {
          // Bytes wrapping the ring's end come as two views: take one per pass.
          let chunk: Buffer | undefined;
          connection.receive((view) => {
            if (chunk !== undefined) return 0;
            chunk = Buffer.from(view);
            return view.length;
          });
          if (chunk === undefined) break;
          this.bytesRead += chunk.length;
          this.touch();
          this.wantRead = this.push(chunk);
        }
      }
    }
    const drained = connection === undefined || connection.receiveQueued === 0;
    if (this.peerEnded && drained && !this.readableEnded) this.push(null);
  }

  private callError(error: unknown, syscall: string): Error {
    const code = (error as { code?: string }).code;
    if (code === undefined) return error as Error;
    return socketError(code, syscall, undefined, this.remoteAddress, this.remotePort);
  }

  private failCall(error: unknown, syscall: string): void {
    this.destroy(this.callError(error, syscall));
  }

  private touch(): void {
    if (this.idleTimeout === 0) return;
    this.lastActivity = this.clock.now();
    if (this.idleTimer !== undefined && !this.idleTimer.armed) {
      this.idleTimer.start(this.lastActivity + this.idleTimeout);
    }
  }

  private onIdleTimer(): void {
    if (this.idleTimeout === 0 || this.destroyed) return;
    const due = this.lastActivity + this.idleTimeout;
    if (this.clock.now() < due) {
      this.idleTimer?.start(due);
      return;
    }
    this.emit('timeout');
  }
}
