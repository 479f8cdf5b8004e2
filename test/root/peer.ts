import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Lab } from '../../lib/lab/lab.js';
import type { Link } from '../../lib/link/types.js';

const run = promisify(execFile);
const PEER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peer.py');

/** An EtherType for local experiments (IEEE 802): no kernel protocol handles it. */
export const TEST_ETHERTYPE = 0x88b5;

export interface PeerCapture {
  frames: number;
  distinct: number;
  lengths: number[];
  sources: string[];
  /** The lowest sequence numbers seen, at most 16. */
  first: number[];
}

/** Sends `count` numbered frames from the peer side of the lab to `dstMac`. */
export async function peerSend(lab: Lab, dstMac: string, count: number, length = 60) {
  const args = [PEER_SCRIPT, 'send', lab.peer.ifname, dstMac, String(TEST_ETHERTYPE)];
  await run('ip', [
    'netns',
    'exec',
    lab.peer.netns,
    'python3',
    ...args,
    String(count),
    String(length),
  ]);
}

/** Starts counting test frames on the peer; resolves once its socket is bound. */
export async function peerReceive(
  lab: Lab,
  count: number,
  timeoutSeconds = 3,
): Promise<{ result: Promise<PeerCapture> }> {
  const child = spawn('ip', [
    'netns', 'exec', lab.peer.netns, 'python3', PEER_SCRIPT, 'recv', lab.peer.ifname,
    String(TEST_ETHERTYPE), String(count), String(timeoutSeconds),
  ]); // prettier-ignore
  let out = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`peer receiver exited with ${code}`)));
  });
  const result = new Promise<PeerCapture>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`peer receiver exited with ${code}`));
      resolve(JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as PeerCapture);
    });
  });
  await ready;
  return { result };
}

export function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((part) => parseInt(part, 16)));
}

/**
 * Sends `count` test frames through a link: Ethernet header to `dstMac`, then a 4-byte
 * sequence number, padded to `length`.
 */
export function linkSend(link: Link, dstMac: string, count: number, length = 60): number {
  const dst = macBytes(dstMac);
  const view = new DataView(link.memory.buffer, link.memory.byteOffset, link.memory.byteLength);
  let sent = 0;
  while (sent < count) {
    const n = link.txAlloc(Math.min(link.burstSize, count - sent));
    if (n === 0) break;
    const d = link.txDescriptors;
    for (let i = 0; i < n; i++) {
      const at = d[3 * i];
      link.memory.set(dst, at);
      link.memory.set(link.mac, at + 6);
      view.setUint16(at + 12, TEST_ETHERTYPE);
      view.setUint32(at + 14, sent + i);
      link.memory.fill(0, at + 18, at + length);
      d[3 * i + 1] = length;
    }
    sent += link.txSubmit(n);
  }
  return sent;
}

/** Collects what a link receives: every frame's EtherType and sequence number. */
export function collect(link: Link) {
  const seen = { frames: 0, test: new Set<number>(), etherTypes: new Map<number, number>() };
  const frames: Uint8Array[] = [];
  link.onReadable(() => {
    for (;;) {
      const n = link.rxBurst(link.burstSize);
      if (n === 0) break;
      const d = link.rxDescriptors;
      for (let i = 0; i < n; i++) {
        const at = d[3 * i];
        const m = link.memory;
        const etherType = (m[at + 12] << 8) | m[at + 13];
        seen.frames++;
        seen.etherTypes.set(etherType, (seen.etherTypes.get(etherType) ?? 0) + 1);
        if (etherType === TEST_ETHERTYPE) {
          seen.test.add(
            ((m[at + 14] << 24) | (m[at + 15] << 16) | (m[at + 16] << 8) | m[at + 17]) >>> 0,
          );
        } else if (frames.length < 64) {
          frames.push(m.slice(at, at + d[3 * i + 1]));
        }
      }
    }
  });
  return { seen, frames };
}

export async function waitFor(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Whether `ip link show` lists an XDP program on the interface. */
export async function hasXdpProgram(netns: string, ifname: string): Promise<boolean> {
  const { stdout } = await run('ip', ['-n', netns, 'link', 'show', 'dev', ifname]);
  return /prog\/xdp|xdpgeneric|xdpdrv| xdp /.test(stdout);
}

export { run };
