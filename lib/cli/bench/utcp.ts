/**
 * utcp as a `BenchNet`: a stack over AF_XDP (falling back to AF_PACKET, with the reason, when
 * XDP cannot attach) or AF_PACKET on the client's end of the veth, taking only the frames for
 * its own address so the kernel keeps the rest of the interface.
 */
import { createStack } from '../../api/stack.js';
import { openLink, openPacketLink } from '../../link/packet.js';
import type { Link, Steering } from '../../link/types.js';
import type { BenchNet } from './protocol.js';
import type { UtcpClientOptions } from './sides.js';

export interface OpenedStack {
  net: BenchNet;
  /** The link actually used: 'xdp' or 'packet', and how AF_XDP bound ('copy', 'zerocopy'). */
  linkKind: string;
  bindMode: string | null;
  /** Why AF_XDP was asked for but AF_PACKET is in use, else null. */
  linkFallback: string | null;
  stats(): unknown;
  close(): Promise<void>;
}

export async function openUtcp(options: UtcpClientOptions): Promise<OpenedStack> {
  const steering: Steering = { mode: 'addresses', ipv4: [options.address] };
  let linkFallback: string | null = null;
  const link: Link =
    options.link === 'xdp'
      ? await openLink({
          ifname: options.ifname,
          steering,
          busyPoll: options.busyPoll,
          onFallback: (reason) => (linkFallback = reason),
        })
      : openPacketLink({ ifname: options.ifname, steering });
  const stats = link.stats();
  const stack = createStack({
    link,
    address: options.address,
    prefix: options.prefixLength,
    mtu: options.mtu,
  });
  return {
    net: stack as unknown as BenchNet,
    linkKind: stats.kind === 'packet' ? 'packet' : 'xdp',
    bindMode: typeof stats.bindMode === 'string' ? stats.bindMode : null,
    linkFallback,
    stats: () => stack.stats(),
    close: () => stack.close(),
  };
}
