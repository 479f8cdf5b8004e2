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
export { createMemoryLinkPair, MemoryLink, type MemoryLinkOptions } from './link/memory.js';
export { impair, ImpairedLink, type Impairment, type ImpairOptions } from './link/impair.js';
export { RealClock, VirtualClock, type Clock, type ClockTimer } from './link/clock.js';
export { capture, PcapWriter, type CaptureOptions } from './link/pcap.js';
export { openXdpLink, openXdpLinks, XdpLink, type XdpOptions } from './link/xdp.js';
export { openLink, openPacketLink, PacketLink, type PacketOptions } from './link/packet.js';
export { createLab, removeStaleLabs, type Lab, type LabOptions } from './lab/lab.js';
export * as wire from './wire/index.js';
export * as tcp from './tcp/index.js';
