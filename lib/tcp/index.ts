// The TCP core's public surface. See core.ts for the contract with the host.

export {
  TcpCore,
  TcpEvent,
  OutboundSegment,
  type TcpEventKind,
  type TcpHost,
  type CoreOptions,
  type ConnectRequest,
  type ListenRequest,
  type ConnectionOptions,
} from './core.js';
export { TcpConnection, TcpListener, NO_TIMER } from './connection.js';
export { TcpError, type TcpErrorCode } from './errors.js';
export { TcpCounters, DROP_REASONS, type DropReason } from './counters.js';
export {
  defaultParams,
  freebsdParams,
  resolveParams,
  MICROSECONDS_PER_MILLISECOND,
  MICROSECONDS_PER_SECOND,
  type TcpParams,
} from './params.js';
export { newReno, type CongestionControl, type CongestionState } from './congestion.js';
export type { IcmpErrorKind } from './input.js';
export * from './states.js';
export * from './sequence.js';
export { SendBuffer, ReceiveBuffer } from './buffers.js';
