/**
 * The project's test lab, with what the bench adds on top: the interface's default offloads
 * read from a fresh veth so the kernel can also be measured with them (`kernel_offloads`),
 * and TIME_WAIT reuse on the client's side, where the connection-rate workload leaves its
 * TIME_WAIT sockets (the client closes first).
 */
import { createLab, type Lab } from '../../lab/lab.js';

/** ethtool `-K` names and how `ethtool -k` prints them. */
const OFFLOADS: [string, string][] = [
  ['rx', 'rx-checksumming'],
  ['tx', 'tx-checksumming'],
  ['tso', 'tcp-segmentation-offload'],
  ['gso', 'generic-segmentation-offload'],
  ['gro', 'generic-receive-offload'],
];

const CLIENT_SYSCTLS: Record<string, string> = {
  // RFC 6191 style reuse of TIME_WAIT for new outgoing connections, with timestamps.
  'net/ipv4/tcp_tw_reuse': '1',
};

export interface BenchLabRecord {
  clientNamespace: string;
  peerNamespace: string;
  clientInterface: string;
  peerInterface: string;
  clientAddress: string;
  peerAddress: string;
  utcpAddress: string;
  mtu: number;
  /** Default offloads of a veth on this kernel, by ethtool feature. */
  offloadDefaults: Record<string, boolean>;
  offloads: 'off' | 'defaults';
  sysctls: Record<'client' | 'peer', Record<string, string>>;
}

export interface BenchLab {
  readonly lab: Lab;
  readonly record: BenchLabRecord;
  setOffloads(state: 'off' | 'defaults'): Promise<void>;
  /** `ip` arguments that run `command` inside one side's namespace. */
  ipExec(side: 'client' | 'peer', command: readonly string[]): string[];
  close(): Promise<void>;
}

export async function createBenchLab(mtu: number): Promise<BenchLab> {
  const lab = await createLab({ mtu });
  try {
    const offloadDefaults = await readVethDefaults(lab);
    const script = Object.entries(CLIENT_SYSCTLS)
      .map(([key, value]) => `echo ${value} > /proc/sys/${key}`)
      .join(' && ');
    await lab.exec('stack', 'sh', ['-c', script]);

    const record: BenchLabRecord = {
      clientNamespace: lab.stack.netns,
      peerNamespace: lab.peer.netns,
      clientInterface: lab.stack.ifname,
      peerInterface: lab.peer.ifname,
      clientAddress: lab.stack.ipv4,
      peerAddress: lab.peer.ipv4,
      utcpAddress: lab.userIpv4,
      mtu: lab.mtu,
      offloadDefaults,
      offloads: 'off',
      sysctls: { client: { ...lab.sysctls.stack, ...CLIENT_SYSCTLS }, peer: lab.sysctls.peer },
    };
    return {
      lab,
      record,
      async setOffloads(state) {
        const args = OFFLOADS.flatMap(([feature, shown]) => [
          feature,
          state === 'defaults' && offloadDefaults[shown] ? 'on' : 'off',
        ]);
        await lab.exec('stack', 'ethtool', ['-K', lab.stack.ifname, ...args]);
        await lab.exec('peer', 'ethtool', ['-K', lab.peer.ifname, ...args]);
        record.offloads = state;
      },
      ipExec(side, command) {
        return ['netns', 'exec', side === 'client' ? lab.stack.netns : lab.peer.netns, ...command];
      },
      close: () => lab.close(),
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** What a veth offers before anyone turns anything off, read from a short-lived pair. */
async function readVethDefaults(lab: Lab): Promise<Record<string, boolean>> {
  const name = `utd${process.pid}`;
  await lab.exec('stack', 'ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', name + 'x']);
  try {
    const shown = await lab.exec('stack', 'ethtool', ['-k', name]);
    const found: Record<string, boolean> = {};
    for (const [, feature] of OFFLOADS) {
      found[feature] = new RegExp(`^${feature}: on`, 'm').test(shown);
    }
    return found;
  } finally {
    await lab.exec('stack', 'ip', ['link', 'del', name]).catch(() => '');
  }
}
