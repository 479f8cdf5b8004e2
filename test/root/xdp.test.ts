import { spawn } from 'node:child_process';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lib/lab/lab.js';
import { openXdpLink, openXdpLinks, xdpAddon } from '../../lib/link/xdp.js';
import { RX_FLAG_CHECKSUM_VERIFIED, TX_FLAG_FILL_CHECKSUMS } from '../../lib/link/types.js';
import { describeNeeding, ETHTOOL, IP } from '../helpers/needs.js';
import {
  collect,
  hasXdpProgram,
  linkSend,
  macBytes,
  openFds,
  peerReceive,
  peerSend,
  run,
  waitFor,
} from './peer.js';

describeNeeding(['root', IP, ETHTOOL], 'AF_XDP link', () => {
  let lab: Lab;
  beforeEach(async () => {
    lab = await createLab({ queues: 2 });
  });
  afterEach(async () => {
    await lab.close();
  });

  it('carries frames both ways, checked on the peer with a packet socket', async () => {
    const link = await openXdpLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    expect(link.bindMode).toBe('copy');
    expect(['native', 'generic']).toContain(link.attachMode);
    expect(Buffer.from(link.mac).toString('hex')).toBe(lab.stack.mac.replaceAll(':', ''));
    const { seen } = collect(link);

    await peerSend(lab, lab.stack.mac, 100, 60);
    expect(await waitFor(() => seen.test.size === 100)).toBe(true);

    const capture = await peerReceive(lab, 200);
    expect(linkSend(link, lab.peer.mac, 200, 1514)).toBe(200);
    const result = await capture.result;
    expect(result).toMatchObject({ frames: 200, distinct: 200, lengths: [1514] });
    expect(result.sources).toEqual([lab.stack.mac]);
    await link.close();
  });

  it('counts a flood from the peer exactly', async () => {
    // Rings deep enough to ride out this process being descheduled on a busy machine.
    const link = await openXdpLink({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      frameSize: 2048,
      framesPerQueue: 16384,
      ringSize: 8192,
    });
    const { seen } = collect(link);
    const count = 20_000;
    await peerSend(lab, lab.stack.mac, count, 64);
    await waitFor(() => seen.test.size >= count);
    const stats = link.stats();
    expect({ frames: seen.frames, distinct: seen.test.size, drops: stats.drops }).toEqual({
      frames: count,
      distinct: count,
      drops: Object.fromEntries(Object.keys(stats.drops).map((reason) => [reason, 0])),
    });
    expect(stats.rxFrames).toBe(count);
    await link.close();
  });

  it('receives in busy-poll mode, the burst call driving the queue', async () => {
    const link = await openXdpLink({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      busyPoll: true,
    });
    const { seen } = collect(link);
    await peerSend(lab, lab.stack.mac, 2000);
    expect(await waitFor(() => seen.test.size === 2000)).toBe(true);
    expect(link.stats().rxWakeups).toBeGreaterThan(0);
    await link.close();
  });

  it('verifies checksums of received frames and fills them on request', async () => {
    const links = await openXdpLinks({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      queues: [0, 1],
      verifyChecksums: true,
    });
    const link = links[0];
    const counts = { ipv4: 0, verified: 0 };
    for (const l of links) {
      l.onReadable(() => {
        for (let n = l.rxBurst(64); n > 0; n = l.rxBurst(64)) {
          for (let i = 0; i < n; i++) {
            const at = l.rxDescriptors[3 * i];
            if (l.memory[at + 12] !== 0x08 || l.memory[at + 13] !== 0x00) continue;
            counts.ipv4++;
            if (l.rxDescriptors[3 * i + 2] & RX_FLAG_CHECKSUM_VERIFIED) counts.verified++;
          }
        }
      });
    }
    // The peer's kernel makes a correct ICMP echo request; the link takes it (nobody answers
    // ARP in 'all' mode, so the peer is told the MAC address).
    await lab.exec('peer', 'ip', [
      'neigh', 'replace', lab.stack.ipv4, 'lladdr', lab.stack.mac, 'dev', lab.peer.ifname,
    ]); // prettier-ignore
    await run('ip', [
      'netns',
      'exec',
      lab.peer.netns,
      'ping',
      '-c',
      '2',
      '-W',
      '1',
      lab.stack.ipv4,
    ]).catch(() => undefined);
    expect(await waitFor(() => counts.ipv4 >= 2)).toBe(true);
    expect(counts.verified).toBe(counts.ipv4);

    // A UDP datagram with wrong checksums, fixed by the burst call: the peer's kernel (which
    // drops bad checksums) delivers it.
    const server = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${lab.peer.ipv4}', 9000)); s.settimeout(3); print('ready', flush=True)
print(s.recvfrom(100)[0].decode(), flush=True)`;
    const child = spawn('ip', ['netns', 'exec', lab.peer.netns, 'python3', '-c', server]);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    expect(await waitFor(() => out.includes('ready'))).toBe(true);
    expect(link.txAlloc(1)).toBe(1);
    const at = link.txDescriptors[0];
    const payload = Buffer.from('checksummed');
    const f = link.memory.subarray(at, at + 14 + 20 + 8 + payload.length);
    f.set(macBytes(lab.peer.mac), 0);
    f.set(link.mac, 6);
    f.set([0x08, 0x00, 0x45, 0, 0, 20 + 8 + payload.length, 0, 0, 0x40, 0, 64, 17, 0xde, 0xad], 12);
    f.set([...lab.stack.ipv4.split('.'), ...lab.peer.ipv4.split('.')].map(Number), 26);
    f.set([0x15, 0xb3, 0x23, 0x28, 0, 8 + payload.length, 0xbe, 0xef], 34);
    f.set(payload, 42);
    link.txDescriptors[1] = f.length;
    link.txDescriptors[2] = TX_FLAG_FILL_CHECKSUMS;
    expect(link.txSubmit(1)).toBe(1);
    await new Promise((resolve) => child.once('exit', resolve));
    expect(out).toContain('checksummed');
    for (const l of links) await l.close();
  });

  it('leaves no XDP program and no open fd after close', async () => {
    const before = openFds();
    const links = await openXdpLinks({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      queues: [0, 1],
    });
    expect(await hasXdpProgram(lab.stack.netns, lab.stack.ifname)).toBe(true);
    expect(openFds()).toBeGreaterThan(before);
    links[0].onReadable(() => undefined);
    for (const link of links) await link.close();
    // The poll handle closes on the next loop turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await hasXdpProgram(lab.stack.netns, lab.stack.ifname)).toBe(false);
    expect(openFds()).toBe(before);
  });

  it('leaves no XDP program behind when its process is killed', async () => {
    const code = `
      const addon = require('node-gyp-build')(process.argv[1]);
      globalThis.program = new addon.XdpProgram(process.argv[2], process.argv[3], 1, false);
      console.log('attached');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, [
      '-e',
      code,
      root,
      lab.stack.netnsPath,
      lab.stack.ifname,
    ]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    expect(await hasXdpProgram(lab.stack.netns, lab.stack.ifname)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    let attached = true;
    for (let i = 0; i < 50 && attached; i++) {
      attached = await hasXdpProgram(lab.stack.netns, lab.stack.ifname);
      if (attached) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(attached).toBe(false);
  });

  it('opens several queues sharing one UMEM', async () => {
    const links = await openXdpLinks({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      queues: [0, 1],
    });
    expect(links.map((l) => l.queue)).toEqual([0, 1]);
    expect(links[0].memory.buffer).toBe(links[1].memory.buffer);
    const seen = links.map((link) => collect(link).seen);
    await peerSend(lab, lab.stack.mac, 1000);
    expect(await waitFor(() => seen[0].frames + seen[1].frames === 1000)).toBe(true);
    // Both queues can send, each from its own share of the UMEM.
    const capture = await peerReceive(lab, 20);
    expect(linkSend(links[0], lab.peer.mac, 10) + linkSend(links[1], lab.peer.mac, 10)).toBe(20);
    expect((await capture.result).frames).toBe(20);
    for (const link of links) await link.close();
  });

  it('in addresses mode takes only its own address and ARP for it', async () => {
    // Frames arrive on either queue of the lab's veth, so every queue gets a socket.
    const links = await openXdpLinks({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      queues: [0, 1],
      steering: { mode: 'addresses', ipv4: [lab.userIpv4] },
    });
    const link = links[0];
    const taken = links.map((l) => collect(l));
    const seen = {
      get frames() {
        return taken[0].seen.frames + taken[1].seen.frames;
      },
      count: (etherType: number) =>
        (taken[0].seen.etherTypes.get(etherType) ?? 0) +
        (taken[1].seen.etherTypes.get(etherType) ?? 0),
    };
    const frames = () => [...taken[0].frames, ...taken[1].frames];

    // The kernel's own address still answers ping and TCP.
    const ping = await run('ip', [
      'netns',
      'exec',
      lab.peer.netns,
      'ping',
      '-c',
      '2',
      '-W',
      '1',
      lab.stack.ipv4,
    ]);
    expect(ping.stdout).toMatch(/2 received/);
    const server = `import socket
s = socket.create_server(('${lab.stack.ipv4}', 7000))
c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()`;
    const client = `import socket, time
for _ in range(50):
    try:
        c = socket.create_connection(('${lab.stack.ipv4}', 7000), timeout=2); break
    except ConnectionRefusedError:
        time.sleep(0.05)
c.sendall(b'hello'); print(c.recv(100).decode())`;
    const serving = run('ip', ['netns', 'exec', lab.stack.netns, 'python3', '-c', server]);
    const reply = await run('ip', ['netns', 'exec', lab.peer.netns, 'python3', '-c', client]);
    await serving;
    expect(reply.stdout.trim()).toBe('HELLO');
    expect(seen.frames).toBe(0);

    // ARP for the stack's address goes to the link (the kernel does not answer it).
    await run('ip', [
      'netns',
      'exec',
      lab.peer.netns,
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      lab.userIpv4,
    ]).catch(() => undefined);
    expect(await waitFor(() => seen.count(0x0806) > 0)).toBe(true);
    const arp = frames().find((f) => f[12] === 0x08 && f[13] === 0x06)!;
    expect(Array.from(arp.subarray(38, 42)).join('.')).toBe(lab.userIpv4);

    // Switching to 'all' takes the kernel's traffic too.
    link.setSteering({ mode: 'all' });
    await run('ip', [
      'netns',
      'exec',
      lab.peer.netns,
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      lab.stack.ipv4,
    ]).catch(() => undefined);
    expect(await waitFor(() => seen.count(0x0800) > 0)).toBe(true);
    for (const l of links) await l.close();
  });

  it('reports a missing interface as ENODEV, a taken interface or queue as EBUSY', async () => {
    await expect(
      openXdpLink({ ifname: 'utcp-none0', netns: lab.stack.netnsPath }),
    ).rejects.toMatchObject({
      code: 'ENODEV',
    });
    const link = await openXdpLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    await expect(
      openXdpLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath, busyRetries: 1 }),
    ).rejects.toMatchObject({ code: 'EBUSY' });
    // A second UMEM on a queue that already has one: the bind finds the queue busy.
    const memory = new Uint8Array(new SharedArrayBuffer(4 * 4096 + 4096));
    const aligned = memory.subarray(xdpAddon().pageOffset(memory)).subarray(0, 4 * 4096);
    expect(
      () =>
        new (xdpAddon().XdpSocket)({
          netns: lab.stack.netnsPath,
          ifname: lab.stack.ifname,
          queue: 0,
          memory: aligned,
          frameSize: 4096,
          firstFrame: 0,
          frameCount: 4,
          ringSize: 2,
          headroom: 256,
          rxDescriptors: new Uint32Array(3),
          txDescriptors: new Uint32Array(3),
          mode: 'auto',
          maxFrameLength: 1518,
        }),
    ).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    await link.close();
    expect(await hasXdpProgram(lab.stack.netns, lab.stack.ifname)).toBe(false);
  });

  it('refuses a descriptor outside its frame and counts it', async () => {
    const link = await openXdpLink({ ifname: lab.stack.ifname, netns: lab.stack.netnsPath });
    expect(link.txAlloc(2)).toBe(2);
    link.txDescriptors[1] = 60;
    link.txDescriptors[3] += link.frameSize;
    link.txDescriptors[4] = 60;
    expect(link.txSubmit(2)).toBe(1);
    expect(link.stats().drops['tx-bad-descriptor']).toBe(1);
    await link.close();
  });

  it('names the missing capability in EPERM', async () => {
    // A child without capabilities loads the same addon and tries to make the program.
    const code = `
      const addon = require('node-gyp-build')(process.argv[1]);
      try { new addon.XdpProgram('', 'lo', 1, false); console.log('{}'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const { stdout } = await run(
      'setpriv',
      ['--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, '-e', code, root],
      { cwd: root },
    );
    const result = JSON.parse(stdout) as { code: string; message: string };
    expect(result.code).toBe('EPERM');
    expect(result.message).toMatch(/CAP_BPF/);
  });
});

const root = new URL('../..', import.meta.url).pathname;
