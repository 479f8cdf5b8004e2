import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lib/lab/lab.js';
import { addressFilter, openLink, openPacketLink, PacketLink } from '../../lib/link/packet.js';
import { XdpLink } from '../../lib/link/xdp.js';
import { describeNeeding, ETHTOOL, IP } from '../helpers/needs.js';
import {
  collect,
  linkSend,
  macBytes,
  openFds,
  peerReceive,
  peerSend,
  run,
  waitFor,
} from './peer.js';

describeNeeding(['root', IP, ETHTOOL], 'AF_PACKET link', () => {
  let lab: Lab;
  beforeEach(async () => {
    lab = await createLab();
  });
  afterEach(async () => {
    await lab.close();
  });

  it('carries frames both ways, checked on the peer with a packet socket', async () => {
    const link = openPacketLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    expect(link.mtu).toBe(1500);
    const { seen } = collect(link);
    await peerSend(lab, lab.stack.mac, 100, 60);
    expect(await waitFor(() => seen.test.size === 100)).toBe(true);

    const capture = await peerReceive(lab, 300);
    expect(linkSend(link, lab.peer.mac, 300, 1514)).toBe(300);
    const result = await capture.result;
    expect(result).toMatchObject({ frames: 300, distinct: 300, lengths: [1514] });
    expect(result.sources).toEqual([lab.stack.mac]);
    await link.close();
  });

  it('refuses a bad descriptor and still sends the frames after it', async () => {
    const link = openPacketLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    const capture = await peerReceive(lab, 3, 1);
    // Three numbered frames; the middle one is too short to be a frame.
    expect(linkSend(link, lab.peer.mac, 1, 60)).toBe(1);
    expect(link.txAlloc(3)).toBe(3);
    const d = link.txDescriptors;
    const dst = macBytes(lab.peer.mac);
    for (let i = 0; i < 3; i++) {
      const at = d[3 * i];
      link.memory.set(dst, at);
      link.memory.set(link.mac, at + 6);
      link.memory.set([0x88, 0xb5, 0, 0, 0, 10 + i], at + 12);
      d[3 * i + 1] = i === 1 ? 10 : 60;
    }
    expect(link.txSubmit(3)).toBe(2);
    expect(link.stats().drops['tx-bad-descriptor']).toBe(1);
    const result = await capture.result;
    expect(result.first).toEqual([0, 10, 12]);
    await link.close();
  });

  it('counts a flood from the peer exactly', async () => {
    const link = openPacketLink({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      blockCount: 128,
    });
    const { seen } = collect(link);
    const count = 20_000;
    await peerSend(lab, lab.stack.mac, count, 64);
    await waitFor(() => seen.test.size >= count);
    expect(seen.test.size).toBe(count);
    expect(seen.etherTypes.get(0x88b5)).toBe(count);
    expect(link.stats().drops['rx-ring-full']).toBe(0);
    await link.close();
  });

  it('leaves no fd open after close, and a view kept past close stays readable', async () => {
    const before = openFds();
    const link = openPacketLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    link.onReadable(() => undefined);
    const view = link.memory;
    await link.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(openFds()).toBe(before);
    expect(view[0]).toBe(0);
  });

  it('in addresses mode passes only IPv4 and ARP for its addresses', async () => {
    const link = openPacketLink({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      steering: { mode: 'addresses', ipv4: [lab.userIpv4, '198.18.0.77'] },
    });
    const { seen, frames } = collect(link);
    await peerSend(lab, lab.stack.mac, 50);
    const ping = (address: string) =>
      run('ip', ['netns', 'exec', lab.peer.netns, 'ping', '-c', '1', '-W', '1', address]).catch(
        () => undefined,
      );
    await ping(lab.stack.ipv4);
    expect(seen.frames).toBe(0);
    await ping(lab.userIpv4);
    expect(await waitFor(() => seen.frames > 0)).toBe(true);
    expect(seen.etherTypes.get(0x0806)).toBeGreaterThan(0);
    expect(Array.from(frames[0].subarray(38, 42)).join('.')).toBe(lab.userIpv4);
    link.setSteering({ mode: 'all' });
    await peerSend(lab, lab.stack.mac, 50);
    expect(await waitFor(() => seen.test.size === 50)).toBe(true);
    await link.close();
  });

  it('is what openLink falls back to when XDP cannot attach, with a warning', async () => {
    // veth refuses XDP when its peer's MTU is above about 3500 bytes (no multi-buffer).
    await lab.exec('peer', 'ip', ['link', 'set', 'dev', lab.peer.ifname, 'mtu', '9000']);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const link = await openLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(link).toBeInstanceOf(PacketLink);
    expect(warnings.map((w) => (w as Error & { code: string }).code)).toContain(
      'UTCP_XDP_FALLBACK',
    );
    expect(warnings[0].message).toMatch(/MTU too large/);
    await link.close();

    await lab.exec('peer', 'ip', ['link', 'set', 'dev', lab.peer.ifname, 'mtu', '1500']);
    const fast = await openLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    expect(fast).toBeInstanceOf(XdpLink);
    await fast.close();
  });
});

it('builds one classic BPF instruction per address and direction, plus eight', () => {
  expect(addressFilter(['198.18.0.10']).length).toBe(8 * 10);
  expect(() => addressFilter(['198.18.0'])).toThrow(/not an IPv4 address/);
});
