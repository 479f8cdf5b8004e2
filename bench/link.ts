/**
 * Link benchmark: frames per second through an AF_XDP link on the test lab's veth pair, the
 * burst loop driven from TypeScript, then the same ring calls driven from the addon's own C
 * loop (same socket, same batch size, same run). Reports Mpps and user-CPU ns per frame; the
 * JSON keys hold the transmit runs, `runs` holds both directions.
 *
 *   npm run bench:link -- [--json FILE] [--seconds S] [--batch N] [--repeat N]
 *
 * Needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, CAP_SYS_ADMIN for namespaces).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createLab, type Lab } from '../lib/lab/lab.js';
import { loadNative } from '../lib/link/native.js';
import { openXdpLink, type XdpLink } from '../lib/link/xdp.js';

interface Run {
  frames: number;
  seconds: number;
  userNs: number;
}

const program = new Command()
  .option('--json <file>', 'write the results as JSON')
  .option('--seconds <s>', 'duration of each run', '1')
  .option('--batch <n>', 'frames per burst call', '64')
  .option('--repeat <n>', 'runs of each kind, alternating TS and C; medians are kept', '5')
  .parse();
const options = program.opts<{ json?: string; seconds: string; batch: string; repeat: string }>();
const seconds = Number(options.seconds);
const batch = Number(options.batch);
const repeat = Number(options.repeat);
const FRAME_LENGTHS = [64, 1514] as const;

function measure(body: () => number): Run {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const frames = body();
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { frames, seconds: elapsed, userNs: process.cpuUsage(cpu).user * 1000 };
}

/** The TypeScript side: allocate, set each length, submit; one native call per burst each. */
function tsTransmit(link: XdpLink, length: number): number {
  const d = link.txDescriptors;
  const end = performance.now() + seconds * 1000;
  let frames = 0;
  for (let round = 0; ; round++) {
    if ((round & 63) === 0 && performance.now() >= end) break;
    const n = link.txAlloc(batch);
    for (let i = 0; i < n; i++) d[3 * i + 1] = length;
    frames += link.txSubmit(n);
  }
  return frames;
}

/** The TypeScript side of receiving: one burst call, then a look at every descriptor. */
function tsReceive(link: XdpLink): number {
  const d = link.rxDescriptors;
  const end = performance.now() + seconds * 1000;
  let frames = 0;
  let bytes = 0;
  for (let round = 0; ; round++) {
    if ((round & 63) === 0 && performance.now() >= end) break;
    const n = link.rxBurst(batch);
    for (let i = 0; i < n; i++) bytes += d[3 * i + 1];
    frames += n;
  }
  link.rxRelease();
  return bytes >= 0 ? frames : 0;
}

function writeFrames(link: XdpLink, dstMac: string): void {
  const dst = Uint8Array.from(dstMac.split(':').map((part) => parseInt(part, 16)));
  for (let at = link.headroom; at < link.memory.length; at += link.frameSize) {
    link.memory.set(dst, at);
    link.memory.set(link.mac, at + 6);
    // IEEE local experimental EtherType: the peer's kernel drops it at once.
    link.memory[at + 12] = 0x88;
    link.memory[at + 13] = 0xb5;
  }
}

async function startPeer(lab: Lab, length: number): Promise<ChildProcess> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'link-peer.js');
  const args = [script, lab.peer.netnsPath, lab.peer.ifname, lab.stack.mac, String(length)];
  const child = spawn(process.execPath, [...args, String(batch)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`traffic source exited with ${code}`)));
  });
  return child;
}

/**
 * Runs TS and C alternately `repeat` times. The rate is the median run's; user CPU per frame
 * is taken over all runs, as the kernel samples the user/system split at timer ticks and one
 * short run of a loop that lives mostly in send calls may see no user tick at all.
 */
function compare(ts: () => number, c: () => number): { ts: Run; c: Run } {
  const runs = { ts: [] as Run[], c: [] as Run[] };
  for (let i = 0; i < repeat; i++) {
    runs.ts.push(measure(ts));
    runs.c.push(measure(c));
  }
  const summary = (list: Run[]): Run => {
    const median = [...list].sort((a, b) => rate(a) - rate(b))[list.length >> 1];
    const frames = list.reduce((sum, r) => sum + r.frames, 0);
    const userNs = list.reduce((sum, r) => sum + r.userNs, 0);
    // Scaled to the median run's frames, so userNs / frames is the all-runs figure.
    return { ...median, userNs: (userNs / frames) * median.frames };
  };
  return { ts: summary(runs.ts), c: summary(runs.c) };
}

function rate(run: Run): number {
  return run.frames / run.seconds / 1e6;
}

/**
 * Cost of the checksum verification the burst calls do per received IPv4 frame, for a
 * 1514-byte TCP frame: timed through the exported entry point, so the figure also holds one
 * native call and is an upper bound for the in-burst cost.
 */
function checksumNs(): number {
  const addon = loadNative() as unknown as {
    fillIpv4Frame(frame: Uint8Array): boolean;
    verifyIpv4Frame(frame: Uint8Array): boolean;
  };
  const frame = new Uint8Array(1514);
  frame.set([0x08, 0x00, 0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 6], 12);
  frame.set([198, 18, 0, 1, 198, 18, 0, 2, 0x1f, 0x90, 0xc0, 0x00], 26);
  frame[46] = 0x50;
  for (let i = 54; i < frame.length; i++) frame[i] = i & 0xff;
  addon.fillIpv4Frame(frame);
  const rounds = 200_000;
  let good = 0;
  // CPU time rather than wall time: the machine may be shared.
  const cpu = process.cpuUsage();
  for (let i = 0; i < rounds; i++) if (addon.verifyIpv4Frame(frame)) good++;
  const used = process.cpuUsage(cpu);
  const ns = ((used.user + used.system) * 1000) / rounds;
  if (good !== rounds) throw new Error('checksum benchmark frame does not verify');
  return ns;
}

async function main(): Promise<void> {
  const lab = await createLab({ mtu: 1500 });
  const results: Record<string, { ts: Run; c: Run }> = {};
  try {
    const link = await openXdpLink({
      ifname: lab.stack.ifname,
      netns: lab.stack.netnsPath,
      burstSize: batch,
    });
    writeFrames(link, lab.peer.mac);
    for (const length of FRAME_LENGTHS) {
      results[`tx_${length}`] = compare(
        () => tsTransmit(link, length),
        () => link.socket.benchLoop('tx', seconds, batch, length),
      );
    }
    for (const length of FRAME_LENGTHS) {
      const peer = await startPeer(lab, length);
      try {
        results[`rx_${length}`] = compare(
          () => tsReceive(link),
          () => link.socket.benchLoop('rx', seconds, batch, length),
        );
      } finally {
        peer.kill();
        await new Promise((resolve) => peer.once('exit', resolve));
      }
    }
    console.log(`AF_XDP ${link.bindMode} mode, ${link.attachMode} XDP, batch ${batch}`);
    await link.close();
  } finally {
    await lab.close();
  }

  // The headline figures are the transmit runs: there TypeScript (or C) sets the pace. A
  // receive run is paced by the traffic source on the other core, and spins on an empty ring
  // between frames, so its rate and CPU time say more about the machine than the driver.
  const userNsPerFrame = (side: 'ts' | 'c') =>
    (results.tx_64[side].userNs + results.tx_1514[side].userNs) /
    (results.tx_64[side].frames + results.tx_1514[side].frames);
  const json = {
    ts_mpps_64: rate(results.tx_64.ts),
    c_mpps_64: rate(results.tx_64.c),
    ts_mpps_1514: rate(results.tx_1514.ts),
    c_mpps_1514: rate(results.tx_1514.c),
    ts_ns_per_pkt: userNsPerFrame('ts'),
    c_ns_per_pkt: userNsPerFrame('c'),
    cxx_checksum_ns_1514: checksumNs(),
    runs: Object.fromEntries(
      Object.entries(results).map(([name, r]) => [
        name,
        {
          ts_mpps: rate(r.ts),
          c_mpps: rate(r.c),
          ts_ns_per_pkt: r.ts.userNs / r.ts.frames,
          c_ns_per_pkt: r.c.userNs / r.c.frames,
        },
      ]),
    ),
  };
  console.table(
    Object.fromEntries(
      Object.entries(json.runs).map(([name, r]) => [
        name,
        {
          'TS Mpps': r.ts_mpps.toFixed(3),
          'C Mpps': r.c_mpps.toFixed(3),
          'TS/C': `${((100 * r.ts_mpps) / r.c_mpps).toFixed(1)}%`,
          'TS user ns/frame': r.ts_ns_per_pkt.toFixed(1),
          'C user ns/frame': r.c_ns_per_pkt.toFixed(1),
        },
      ]),
    ),
  );
  console.log(
    'checksum verification of a 1514-byte TCP frame in C++: ' +
      `${json.cxx_checksum_ns_1514.toFixed(1)} ns`,
  );
  if (options.json) writeFileSync(options.json, JSON.stringify(json, null, 2) + '\n');
}

await main();
