/**
 * What the stack's TCP offers the API above it: connections as handles with events, figures
 * read as plain properties, and user calls that go straight to the core.
 */

/** Events of one connection, called by the stack from inside a burst or a timer. */
export interface ConnectionEvents {
  /** The three-way handshake completed. */
  established(): void;
  /** Bytes wait in the receive buffer. */
  readable(): void;
  /** Room opened in the send buffer. */
  writable(): void;
  /** The peer's FIN arrived in order: no more bytes will come. */
  peerClosed(): void;
  /** The connection failed (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ...). */
  error(code: string, detail?: string): void;
  /** The connection is gone from the stack; no further events. */
  closed(): void;
}

/** One connection. Figures are read without a call into anything. */
export interface TcpConnection {
  readonly localAddress: number;
  readonly localPort: number;
  readonly remoteAddress: number;
  readonly remotePort: number;
  /** RFC 9293 state name, e.g. 'ESTABLISHED'. */
  readonly state: string;
  /** Smoothed RTT and its variation, µs (RFC 6298); 0 before the first sample. */
  readonly srtt: number;
  readonly rttvar: number;
  readonly rto: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly bytesInFlight: number;
  readonly retransmissions: number;
  /** Bytes the send buffer takes now. */
  readonly sendSpace: number;
  /** Bytes queued and not yet acknowledged. */
  readonly sendQueued: number;
  /** Bytes waiting to be read. */
  readonly receiveQueued: number;

  events: ConnectionEvents;

  /** Queues as many bytes as fit; returns the count taken. */
  send(data: Uint8Array, offset: number, length: number): number;
  /**
   * Lends the readable bytes, in order, to `reader` as views valid only during the call; the
   * reader returns how many it consumed (the rest stay). Returns the count consumed.
   */
  receive(reader: (view: Uint8Array) => number): number;
  /** Sends FIN after the queued bytes (half close). */
  shutdown(): void;
  /** Closes both directions; RST when unread bytes remain (RFC 2525 2.17). */
  close(): void;
  /** Sends RST and forgets the connection. */
  abort(): void;
  setNoDelay(noDelay: boolean): void;
  setKeepAlive(enable: boolean, idle: number): void;
}

/** A listening port. */
export interface TcpListener {
  readonly address: number;
  readonly port: number;
  close(): void;
}
