/**
 * What the bench client and its peer agree on: one port per service, and the few bytes each
 * service exchanges besides the payload it measures.
 *
 * - sink: the client sends for the duration, then ends; the peer answers the end with the
 *   number of bytes it received (8 bytes, big-endian) and ends too.
 * - source: the client sends the duration in milliseconds (4 bytes, big-endian); the peer sends
 *   for that long, then ends. Every byte it wrote reaches the client before the end.
 * - echo: the peer writes back every byte it reads, and ends when the client ends.
 * - crr: the peer reads one request, writes one response and ends once the client has ended.
 */
import type { Duplex } from 'node:stream';

/** Services listen on `basePort` + these offsets; the default base is BASE_PORT. */
export const BASE_PORT = 5201;
export const SINK_SERVICE = 0;
export const SOURCE_SERVICE = 1;
export const ECHO_SERVICE = 2;
export const CRR_SERVICE = 3;

/** Bytes per write in the bulk workloads. */
export const BULK_CHUNK = 64 * 1024;
/** Request and response of the connection-rate workload: one byte, as netperf's TCP_CRR. */
export const CRR_REQUEST_SIZE = 1;
export const CRR_RESPONSE_SIZE = 1;

export const SINK_REPLY_SIZE = 8;
export const SOURCE_REQUEST_SIZE = 4;

/** The part of a `node:net` socket the workloads use; utcp's API sockets have the same shape. */
export interface BenchSocket extends Duplex {
  setNoDelay(noDelay?: boolean): this;
}

export interface BenchServer {
  listen(port: number, host: string, callback?: () => void): unknown;
  close(callback?: (error?: Error) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * A socket factory shaped like `node:net`: `node:net` itself for the kernel's TCP, or a utcp
 * stack, so that both stacks run the very same workload code.
 */
export interface BenchNet {
  connect(options: { port: number; host: string }): BenchSocket;
  createServer(onConnection: (socket: BenchSocket) => void): BenchServer;
}

/** Bytes and connections the peer saw for each service since its last mark. */
export interface PeerCounts {
  sinkBytes: number;
  sinkConnections: number;
  sourceBytes: number;
  sourceConnections: number;
  echoBytes: number;
  echoConnections: number;
  crrConnections: number;
  crrResponses: number;
  /** Connections that ended with an error, by code. */
  errors: Record<string, number>;
  /** Peer CPU time (user + system) over the wall time since the last mark, in % of one CPU. */
  cpuPct: number | null;
  wallMs: number;
}
