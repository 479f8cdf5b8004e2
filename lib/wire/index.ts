export * from './arp.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './frame.js';
export * from './icmp.js';
export * from './ipv4.js';
export * from './reasons.js';
export * from './tcp.js';
