/**
 * Traffic source for the link benchmark's receive runs: an AF_XDP socket on the peer end of the
 * lab's veth pair, sending numbered frames as fast as the addon's C loop can, until killed.
 * Usage: node link-peer.js NETNS_PATH IFNAME DST_MAC FRAME_LENGTH BATCH
 */
import { openXdpLink } from '../lib/link/xdp.js';

const [netns, ifname, dstMac, lengthText, batchText] = process.argv.slice(2);
const length = Number(lengthText);
const batch = Number(batchText);
const link = await openXdpLink({ ifname, netns, burstSize: batch });

// Every chunk gets the same frame once; the loop then only sets lengths.
const dst = Uint8Array.from(dstMac.split(':').map((part) => parseInt(part, 16)));
for (let at = link.headroom; at < link.memory.length; at += link.frameSize) {
  link.memory.set(dst, at);
  link.memory.set(link.mac, at + 6);
  link.memory[at + 12] = 0x88;
  link.memory[at + 13] = 0xb5;
}
process.stdout.write('ready\n');
for (;;) link.socket.benchLoop('tx', 1, batch, length);
