import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createLab, removeStaleLabs } from '../../lib/lab/lab.js';
import { describeNeeding, ETHTOOL, IP, PING } from '../helpers/needs.js';
import { run } from './peer.js';

describeNeeding(['root', IP, ETHTOOL, PING], 'test lab', () => {
  it('joins two namespaces with a veth pair as recorded, and removes them on close', async () => {
    const lab = await createLab({ mtu: 3000, queues: 2 });
    try {
      expect(lab.stack.ifname.length).toBeLessThanOrEqual(15);
      expect(lab.stack.ifname).toContain(String(process.pid));
      for (const address of [lab.stack.ipv4, lab.peer.ipv4, lab.userIpv4]) {
        expect(address).toMatch(/^198\.1[89]\./);
      }
      const link = JSON.parse(
        await lab.exec('peer', 'ip', ['-j', '-d', 'link', 'show', 'dev', lab.peer.ifname]),
      )[0] as { mtu: number; num_tx_queues: number; num_rx_queues: number; address: string };
      expect(link).toMatchObject({ mtu: 3000, num_tx_queues: 2, num_rx_queues: 2 });
      expect(link.address).toBe(lab.peer.mac);
      const features = await lab.exec('stack', 'ethtool', ['-k', lab.stack.ifname]);
      for (const feature of lab.offloadsOff) expect(features).toContain(`${feature}: off`);
      const reuse = await lab.exec('peer', 'cat', ['/proc/sys/net/ipv4/tcp_tw_reuse']);
      expect(reuse.trim()).toBe(lab.sysctls.peer['net/ipv4/tcp_tw_reuse']);
      const ping = await lab.exec('peer', 'ping', ['-c', '1', '-W', '2', lab.stack.ipv4]);
      expect(ping).toMatch(/1 received/);
    } finally {
      await lab.close();
    }
    expect(existsSync(lab.stack.netnsPath)).toBe(false);
    expect(existsSync(lab.peer.netnsPath)).toBe(false);
  });

  it('removes leftovers of dead processes only', async () => {
    // No process has a pid above pid_max (at most 2^22).
    const dead = 'utcp-9999999-0-s';
    await run('ip', ['netns', 'add', dead]);
    const lab = await createLab();
    try {
      expect(existsSync(`/run/netns/${dead}`)).toBe(false);
      expect(await removeStaleLabs()).toEqual([]);
      expect(existsSync(lab.stack.netnsPath)).toBe(true);
    } finally {
      await lab.close();
      await run('ip', ['netns', 'delete', dead]).catch(() => undefined);
    }
  });
});
