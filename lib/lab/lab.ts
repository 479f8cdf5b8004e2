import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A test lab: two network namespaces joined by a veth pair. The `stack` side is where a utcp
 * link opens its socket; the `peer` side is an ordinary kernel host to talk to. Every name
 * carries the creating process id, so concurrent runs never collide and a leftover lab can be
 * told apart from a live one.
 */
export interface LabOptions {
  /** Interface MTU on both ends (default 1500). */
  mtu?: number;
  /** TX and RX queues of each veth end (default 1). */
  queues?: number;
}

export interface LabSide {
  /** Network namespace name (`ip netns exec NAME ...`). */
  netns: string;
  /** Path of the namespace handle, for opening sockets inside it. */
  netnsPath: string;
  ifname: string;
  mac: string;
  /** Address the kernel holds on this side. */
  ipv4: string;
  prefixLength: number;
}

export interface Lab {
  id: string;
  pid: number;
  mtu: number;
  queues: number;
  stack: LabSide;
  peer: LabSide;
  /** An address on the link the kernel does not hold: for a userspace stack on `stack`. */
  userIpv4: string;
  /** Offloads switched off on both veth ends, by ethtool feature name. */
  offloadsOff: readonly string[];
  /** sysctl settings applied, by namespace side. */
  sysctls: Record<'stack' | 'peer', Record<string, string>>;
  /** Runs a command inside one side's namespace. */
  exec(side: 'stack' | 'peer', command: string, args: readonly string[]): Promise<string>;
  close(): Promise<void>;
}

const NAME_PREFIX = 'utcp-';
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544); labs use nothing else.
const STACK_IPV4 = '198.18.0.1';
const PEER_IPV4 = '198.18.0.2';
const USER_IPV4 = '198.18.0.10';
const PREFIX_LENGTH = 24;

// Without these the veth ends hand the peer frames with partial checksums or 64 KiB
// super-frames, which no link on the other end would see on a wire.
const OFFLOADS = ['rx', 'tx', 'tso', 'gso', 'gro'] as const;
const OFFLOAD_FEATURES = [
  'rx-checksumming',
  'tx-checksumming',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
];

const COMMON_SYSCTLS: Record<string, string> = {
  // IPv6 router and neighbour solicitations would otherwise appear in every frame count.
  'net/ipv6/conf/all/disable_ipv6': '1',
  'net/ipv6/conf/default/disable_ipv6': '1',
};
const PEER_SYSCTLS: Record<string, string> = {
  ...COMMON_SYSCTLS,
  // Benchmarks open many short connections to the same peer port.
  'net/ipv4/tcp_tw_reuse': '1',
};

let labCount = 0;

async function ip(args: readonly string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

async function inNetns(netns: string, command: string, args: readonly string[]) {
  const { stdout } = await run('ip', ['netns', 'exec', netns, command, ...args]);
  return stdout;
}

async function writeSysctls(netns: string, values: Record<string, string>): Promise<void> {
  const script = Object.entries(values)
    .map(([key, value]) => `echo ${value} > /proc/sys/${key}`)
    .join(' && ');
  await inNetns(netns, 'sh', ['-c', script]);
}

async function macOf(netns: string, ifname: string): Promise<string> {
  const out = await ip(['-n', netns, '-j', 'link', 'show', 'dev', ifname]);
  return (JSON.parse(out) as { address: string }[])[0].address;
}

/** Builds a lab; removes leftovers of dead processes first. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  await removeStaleLabs();
  const mtu = options.mtu ?? 1500;
  const queues = options.queues ?? 1;
  const pid = process.pid;
  const n = labCount++;
  const id = `${NAME_PREFIX}${pid}-${n}`;
  const stackNetns = `${id}-s`;
  const peerNetns = `${id}-p`;
  // At most 2 + 7 + 1 + 4 = 14 characters; Linux allows 15.
  const stackIf = `ut${pid}s${n}`;
  const peerIf = `ut${pid}p${n}`;

  const lab: Partial<Lab> & { close(): Promise<void> } = {
    close: () => removeLab(id),
  };
  try {
    await ip(['netns', 'add', stackNetns]);
    await ip(['netns', 'add', peerNetns]);
    await writeSysctls(stackNetns, COMMON_SYSCTLS);
    await writeSysctls(peerNetns, PEER_SYSCTLS);
    const q = String(queues);
    await ip([
      'link', 'add', stackIf, 'netns', stackNetns, 'numtxqueues', q, 'numrxqueues', q,
      'type', 'veth', 'peer', 'name', peerIf, 'netns', peerNetns,
      'numtxqueues', q, 'numrxqueues', q,
    ]); // prettier-ignore
    for (const [netns, ifname, address] of [
      [stackNetns, stackIf, STACK_IPV4],
      [peerNetns, peerIf, PEER_IPV4],
    ]) {
      await ip(['-n', netns, 'link', 'set', 'dev', ifname, 'mtu', String(mtu)]);
      await inNetns(netns, 'ethtool', ['-K', ifname, ...OFFLOADS.flatMap((o) => [o, 'off'])]);
      await ip(['-n', netns, 'addr', 'add', `${address}/${PREFIX_LENGTH}`, 'dev', ifname]);
      await ip(['-n', netns, 'link', 'set', 'dev', ifname, 'up']);
      await ip(['-n', netns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    const side = async (netns: string, ifname: string, ipv4: string): Promise<LabSide> => ({
      netns,
      netnsPath: `/run/netns/${netns}`,
      ifname,
      mac: await macOf(netns, ifname),
      ipv4,
      prefixLength: PREFIX_LENGTH,
    });
    const stack = await side(stackNetns, stackIf, STACK_IPV4);
    const peer = await side(peerNetns, peerIf, PEER_IPV4);
    return {
      id,
      pid,
      mtu,
      queues,
      stack,
      peer,
      userIpv4: USER_IPV4,
      offloadsOff: OFFLOAD_FEATURES,
      sysctls: { stack: { ...COMMON_SYSCTLS }, peer: { ...PEER_SYSCTLS } },
      exec: (which, command, args) =>
        inNetns(which === 'stack' ? stackNetns : peerNetns, command, args),
      close: lab.close,
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** Deletes both namespaces of a lab (the veth pair goes with them). */
async function removeLab(id: string): Promise<void> {
  for (const netns of [`${id}-s`, `${id}-p`]) {
    if (existsSync(`/run/netns/${netns}`)) {
      await ip(['netns', 'delete', netns]).catch(() => undefined);
    }
  }
}

/** Removes labs whose creating process no longer exists; live labs are left alone. */
export async function removeStaleLabs(): Promise<string[]> {
  const out = await ip(['-j', 'netns', 'list']).catch(() => '');
  const names = out.trim() === '' ? [] : (JSON.parse(out) as { name: string }[]).map((e) => e.name);
  const removed: string[] = [];
  for (const name of names) {
    const match = /^utcp-(\d+)-\d+-[sp]$/.exec(name);
    if (!match || existsSync(`/proc/${match[1]}`)) continue;
    await ip(['netns', 'delete', name]).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
