import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../lib/link/clock.js';
import { impair } from '../../lib/link/impair.js';
import { createMemoryLinkPair } from '../../lib/link/memory.js';
import { capture, PcapWriter } from '../../lib/link/pcap.js';
import { readPcap } from '../../lib/link/pcap-reader.js';
import { describeNeeding, TCPDUMP } from '../helpers/needs.js';
import { arpRequest, receiveAll, send, udpFrame } from './frames.js';

const directory = mkdtempSync(path.join(tmpdir(), 'utcp-pcap-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

// 2023-11-14T22:13:20Z, so timestamps read as a real date.
const START = 1_700_000_000_000_000;

/** Sends three frames from a to b and one back, capturing on a; returns the file's path. */
async function captureExchange(name: string): Promise<string> {
  const file = path.join(directory, name);
  const clock = new VirtualClock(START);
  const [a, b] = createMemoryLinkPair({ clock, latencyUs: 250 });
  const captured = capture(a, file, { clock });
  send(captured, [arpRequest([198, 18, 0, 2]), udpFrame(1)]);
  clock.advance(1_000_000);
  send(captured, [udpFrame(2, { payloadBytes: 1400 })]);
  clock.runUntilIdle();
  receiveAll(b);
  send(b, [udpFrame(3, { source: [198, 18, 0, 2], destination: [198, 18, 0, 1] })]);
  clock.runUntilIdle();
  expect(receiveAll(captured)).toHaveLength(1);
  expect(captured.stats()).toMatchObject({ captured: 4, captureDropped: 0 });
  await captured.close();
  return file;
}

describe('pcap writer', () => {
  it('writes a classic pcap that reads back frame for frame, with virtual timestamps', async () => {
    const file = await captureExchange('exchange.pcap');
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4);
    const pcap = readPcap(bytes);
    expect(pcap.error).toBeUndefined();
    expect(pcap.linkType).toBe(1);
    expect(pcap.nanoseconds).toBe(false);
    expect(pcap.records.map((record) => record.timeUs - START)).toEqual([
      0,
      0,
      1_000_000,
      1_000_250 + 250,
    ]);
    expect(pcap.records.map((record) => Buffer.from(record.data))).toEqual(
      [
        arpRequest([198, 18, 0, 2]),
        udpFrame(1),
        udpFrame(2, { payloadBytes: 1400 }),
        udpFrame(3, { source: [198, 18, 0, 2], destination: [198, 18, 0, 1] }),
      ].map((frame) => Buffer.from(frame)),
    );
  });

  it('cuts frames at the snap length and keeps their length on the wire', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const writer = new PcapWriter(stream, { snapLength: 64, chunkBytes: 100 });
    const frame = udpFrame(9, { payloadBytes: 500 });
    for (let i = 0; i < 5; i++) writer.write(frame, 0, frame.length, i * 1_500_000);
    await writer.close();
    const pcap = readPcap(Buffer.concat(chunks));
    expect(pcap.snapLength).toBe(64);
    expect(pcap.records).toHaveLength(5);
    for (const [i, record] of pcap.records.entries()) {
      expect(new Uint8Array(record.data)).toEqual(frame.slice(0, 64));
      expect(record.originalLength).toBe(frame.length);
      expect(record.timeUs).toBe(i * 1_500_000);
    }
  });

  it('counts records lost to a failed file, and reports the failure', async () => {
    const writer = PcapWriter.open(path.join(directory, 'missing', 'x.pcap'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    writer.write(udpFrame(1), 0, 60, 0);
    expect(writer.dropped).toBe(1);
    await expect(writer.close()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('capture on other links', () => {
  it('records what an impaired link really sends and receives', async () => {
    const file = path.join(directory, 'impaired.pcap');
    const clock = new VirtualClock(START);
    const [a, b] = createMemoryLinkPair({ clock });
    const lossy = capture(impair(a, { clock, seed: 3, tx: { loss: 0.5 } }), file, { clock });
    send(
      lossy,
      Array.from({ length: 40 }, (_, i) => udpFrame(i)),
    );
    clock.runUntilIdle();
    const arrived = receiveAll(b);
    send(b, [udpFrame(100)]);
    clock.runUntilIdle();
    expect(receiveAll(lossy)).toEqual([udpFrame(100)]);
    await lossy.close();
    const records = readPcap(readFileSync(file)).records;
    // The capture sits above the impairment: it sees all 40 sent, then the one received.
    expect(records).toHaveLength(41);
    expect(arrived.length).toBeLessThan(30);
    expect(new Uint8Array(records[40].data)).toEqual(udpFrame(100));
  });

  it('makes a live file readable without closing it', async () => {
    const file = path.join(directory, 'live.pcap');
    const writer = PcapWriter.open(file, { flushIntervalMs: 5 });
    writer.write(udpFrame(1), 0, 60, START);
    // The interval writes the chunk; the file system may take a while on a busy machine.
    let records = 0;
    for (let tries = 0; tries < 200 && records === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      records = readPcap(readFileSync(file)).records.length;
    }
    expect(records).toBe(1);
    expect(writer.frames).toBe(1);
    await writer.close();
  });
});

describe('pcap reader', () => {
  it('reads big-endian nanosecond files and reports damage instead of throwing', () => {
    const bytes = Buffer.alloc(24 + 16 + 4 + 10);
    bytes.writeUInt32BE(0xa1b23c4d, 0);
    bytes.writeUInt32BE(65535, 16);
    bytes.writeUInt32BE(1, 20);
    bytes.writeUInt32BE(3, 24);
    bytes.writeUInt32BE(123_456_789, 28);
    bytes.writeUInt32BE(4, 32);
    bytes.writeUInt32BE(60, 36);
    bytes.set([1, 2, 3, 4], 40);
    const pcap = readPcap(bytes);
    expect(pcap.nanoseconds).toBe(true);
    expect(pcap.records[0].timeUs).toBe(3_123_456);
    expect(new Uint8Array(pcap.records[0].data)).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(pcap.error).toBe('pcap-truncated-record');
    expect(readPcap(bytes.subarray(0, 10)).error).toBe('pcap-too-short');
    expect(readPcap(Buffer.alloc(24)).error).toBe('pcap-bad-magic');
  });
});

describeNeeding([TCPDUMP], 'pcap files through tcpdump', () => {
  it('tcpdump reads every frame with its timestamp', async () => {
    const file = await captureExchange('tcpdump.pcap');
    const output = execFileSync('tcpdump', ['-nn', '-tt', '-r', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(
      /^1700000000\.000000 ARP, Request who-has 198\.18\.0\.2 tell 198\.18\.0\.1/,
    );
    expect(lines[1]).toMatch(
      /^1700000000\.000000 IP 198\.18\.0\.1\.40000 > 198\.18\.0\.2\.9: UDP, length 18/,
    );
    expect(lines[2]).toMatch(/^1700000001\.000000 IP .* UDP, length 1400/);
    expect(lines[3]).toMatch(/^1700000001\.000500 IP 198\.18\.0\.2\.40000 > 198\.18\.0\.1\.9: UDP/);
  });
});
