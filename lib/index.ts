export * from './link/types.js';
export { loadNative } from './link/native.js';
export {
  createStack,
  UtcpStack,
  type CreateStackOptions,
  type ConnectOptions,
  type LookupFunction,
  type StackStats,
} from './api/stack.js';
export { Server, type ServerOptions } from './api/server.js';
export { Socket, type SocketOptions, type LendingReader } from './api/socket.js';
export { relay, type Relay } from './api/relay.js';
export { Stack, type StackOptions, type Transport } from './stack/stack.js';
