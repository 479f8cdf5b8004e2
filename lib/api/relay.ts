/**
 * The proxy fast path: bytes received on one connection go into another's send buffer with
 * one copy, the one TCP needs anyway (the sender keeps bytes until they are acknowledged).
 * `a.pipe(b)` makes two: receive buffer to a fresh Buffer for 'data', then that Buffer into
 * the send buffer. Backpressure is the receive window: bytes `b` cannot take stay in `a`'s
 * receive buffer, so `a`'s window closes and its peer slows down.
 */
import type { Socket } from './socket.js';

export interface Relay {
  /** Bytes moved from `a` to `b`. */
  readonly bytes: number;
  /** Bytes copied doing so (one per byte moved: into `b`'s send buffer). */
  readonly bytesCopied: number;
  /** Stops forwarding; the sockets stay open. */
  stop(): void;
}

/**
 * Forwards everything `a` receives to `b`; `a`'s end becomes `b.end()`, and either side
 * failing destroys the other. Call it both ways for a two-way proxy.
 */
export function relay(a: Socket, b: Socket): Relay {
  let bytes = 0;
  let stopped = false;

  const forward = (view: Uint8Array): number => {
    const taken = b.sendDirect(view);
    bytes += taken;
    return taken;
  };
  const pump = (): void => {
    if (!stopped) a.setLendingReader(forward);
  };
  const onEnd = (): void => {
    if (!stopped) b.end();
  };
  const onError = (other: Socket) => (error: Error) => {
    if (!stopped) other.destroy(error);
  };
  const aFailed = onError(b);
  const bFailed = onError(a);

  // `b` says when its send buffer has room again; then `a`'s held bytes move on.
  b.onSendSpace = pump;
  a.once('end', onEnd);
  a.on('error', aFailed);
  b.on('error', bFailed);
  a.once('close', () => {
    if (!stopped && !b.writableEnded) b.end();
  });
  if (b.connecting) b.once('connect', pump);
  else pump();

  return {
    get bytes() {
      return bytes;
    },
    get bytesCopied() {
      return bytes;
    },
    stop() {
      stopped = true;
      b.onSendSpace = undefined;
      a.setLendingReader(null);
      a.removeListener('end', onEnd);
      a.removeListener('error', aFailed);
      b.removeListener('error', bFailed);
    },
  };
}
