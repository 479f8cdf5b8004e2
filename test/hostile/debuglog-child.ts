// Run with NODE_DEBUG=utcp by debuglog.test.ts: throws a mix of bad input at a stack, then
// prints the drop counters so the parent can match each counted reason to a logged line.
import { icmpEcho } from '../stack/peer.js';
import { ACK, RST, Rig, STACK_IP, SYN, data, handshake } from './raw-peer.js';

const r = new Rig({}, { reassembly: { timeout: 1_000_000 } });
r.stack.createServer(() => {}).listen(80, '198.18.0.2', 1);
r.step(100);
const open = handshake(r, 80);
r.send({ ...data(open, open.sndNxt, 'x'), checksumDelta: 1 });
r.send({ ...data(open, open.sndNxt, 'x'), dataOffset: 15 });
r.send({ ...data(open, open.sndNxt, 'x'), options: [3, 1, 0, 0] });
r.send({ srcPort: open.peerPort, dstPort: 80, seq: open.sndNxt + 0x40000000, flags: RST });
r.send({ srcPort: open.peerPort, dstPort: 80, seq: open.sndNxt + 10, flags: RST });
r.send({ srcPort: open.peerPort, dstPort: 80, seq: open.sndNxt + 10, flags: SYN });
r.send({ ...data(open, open.sndNxt, 'x'), ack: open.rcvNxt + 99999 });
r.send({ srcPort: 9, dstPort: 81, seq: 1, ack: 1, flags: ACK });
r.send({ srcPort: 9, dstPort: 80, seq: 1, ack: 1, flags: ACK });
for (let i = 0; i < 5; i++) r.send({ srcPort: 100 + i, dstPort: 80, seq: 1, flags: SYN });
const echo = r.peer.ipv4(r.stackMac, STACK_IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
echo[24] ^= 1;
r.sendFrame(echo);
const badIcmp = icmpEcho(8, 1, 1, new Uint8Array(8));
badIcmp[2] ^= 1;
r.sendIp(1, badIcmp);
r.sendIp(1, icmpEcho(0, 1, 1, new Uint8Array(8)));
r.sendIp(1, icmpEcho(13, 1, 1, new Uint8Array(8)));
r.sendIp(17, new Uint8Array(8));
r.sendIp(99, new Uint8Array(8));
r.sendIp(6, new Uint8Array(64), { id: 1, moreFragments: true });
r.sendIp(6, new Uint8Array(60), { id: 2, moreFragments: true });
r.sendIp(6, new Uint8Array(64), { id: 3, fragmentOffset: 65528 });
r.sendFrame(r.peer.arp(2, r.stackMac, STACK_IP, STACK_IP));
r.sendFrame(r.peer.ethernet(r.stackMac, 0x86dd, new Uint8Array(60)));
r.step(3_000_000);
process.stdout.write(JSON.stringify(r.drops()) + '\n');
await r.close();
