/**
 * The client side of every workload, written once against a `node:net`-shaped factory so the
 * kernel's TCP and utcp do exactly the same work. Each workload returns what it measured and
 * the counts the peer's own figures are checked against.
 */
import hdr from 'hdr-histogram-js';
import {
  BASE_PORT,
  BULK_CHUNK,
  CRR_SERVICE,
  CRR_REQUEST_SIZE,
  CRR_RESPONSE_SIZE,
  ECHO_SERVICE,
  SINK_SERVICE,
  SINK_REPLY_SIZE,
  SOURCE_SERVICE,
  SOURCE_REQUEST_SIZE,
  type BenchNet,
  type BenchSocket,
} from './protocol.js';

/** `send_multi` and `recv_multi` are the bulk workloads on `-c N` connections at once. */
export const WORKLOADS = [
  'send',
  'recv',
  'send_multi',
  'recv_multi',
  'rr1',
  'rr1k',
  'crr',
] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Job {
  workload: WorkloadName;
  host: string;
  /** Where the peer's services start; BASE_PORT unless given. */
  basePort?: number;
  durationMs: number;
  /** Parallel connections (bulk) or connections in flight (crr); ping-pong uses one. */
  connections: number;
}

export interface Progress {
  workload: WorkloadName;
  elapsedMs: number;
  /** Bytes moved (bulk), round trips (ping-pong) or connections completed (crr) so far. */
  done: number;
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** [percentile, µs] points of the whole distribution, for the report's chart. */
  curve: [number, number][];
}

export interface WorkloadResult {
  workload: WorkloadName;
  elapsedMs: number;
  /** Payload bytes the client sent (send, ping-pong) or received (recv). */
  bytes: number;
  /** For send: bytes the peer said it received, summed over connections. */
  peerReportedBytes: number | null;
  gbps: number | null;
  latency: LatencySummary | null;
  /** Round trips (ping-pong) or completed connections (crr). */
  operations: number;
  perSecond: number | null;
  /** Connections that failed, by error code. */
  errors: Record<string, number>;
  /** Samples every `SAMPLE_MS`: Gbit/s (bulk), round trips/s (ping-pong), connections/s (crr). */
  series: number[];
}

export const SAMPLE_MS = 100;

/** Percentiles drawn in the latency chart: dense towards the tail. */
const CURVE_PERCENTILES = [
  0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.75, 99.9, 99.95,
  99.99, 99.995, 99.999, 100,
];

export async function runWorkload(
  net: BenchNet,
  job: Job,
  onProgress: (progress: Progress) => void = () => {},
): Promise<WorkloadResult> {
  switch (job.workload) {
    case 'send':
    case 'send_multi':
      return bulkSend(net, job, onProgress);
    case 'recv':
    case 'recv_multi':
      return bulkReceive(net, job, onProgress);
    case 'rr1':
      return pingPong(net, job, 1, onProgress);
    case 'rr1k':
      return pingPong(net, job, 1024, onProgress);
    case 'crr':
      return connectionRate(net, job, onProgress);
  }
}

/** Calls `sample(elapsedMs)` every SAMPLE_MS until stopped. */
function sampler(sample: (elapsedMs: number) => void): { start: number; stop(): void } {
  const start = performance.now();
  const timer = setInterval(() => sample(performance.now() - start), SAMPLE_MS);
  return { start, stop: () => clearInterval(timer) };
}

function connect(net: BenchNet, job: Job, service: number): Promise<BenchSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: portOf(job, service), host: job.host });
    const onError = (error: Error): void => reject(error);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function portOf(job: Job, service: number): number {
  return (job.basePort ?? BASE_PORT) + service;
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
}

function empty(job: Job): WorkloadResult {
  return {
    workload: job.workload,
    elapsedMs: 0,
    bytes: 0,
    peerReportedBytes: null,
    gbps: null,
    latency: null,
    operations: 0,
    perSecond: null,
    errors: {},
    series: [],
  };
}

function gbps(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 8) / (ms * 1e6) : 0;
}

/** Sends for the duration on each connection, then waits for the peer's count of it. */
async function bulkSend(
  net: BenchNet,
  job: Job,
  onProgress: (progress: Progress) => void,
): Promise<WorkloadResult> {
  const result = empty(job);
  const chunk = Buffer.alloc(BULK_CHUNK, 0xa5);
  let sent = 0;
  let lastSample = 0;
  const clock = sampler((elapsedMs) => {
    result.series.push(gbps(sent - lastSample, SAMPLE_MS));
    lastSample = sent;
    onProgress({ workload: job.workload, elapsedMs, done: sent });
  });
  const deadline = clock.start + job.durationMs;

  const one = async (): Promise<void> => {
    const socket = await connect(net, job, SINK_SERVICE);
    await new Promise<void>((resolve, reject) => {
      let reply = Buffer.alloc(0);
      socket.on('data', (data: Buffer) => {
        reply = Buffer.concat([reply, data]);
      });
      socket.on('end', () => {
        if (reply.length !== SINK_REPLY_SIZE) {
          reject(Object.assign(new Error('sink reply missing'), { code: 'EPROTO' }));
          return;
        }
        result.peerReportedBytes =
          (result.peerReportedBytes ?? 0) + Number(reply.readBigUInt64BE());
        socket.end();
        resolve();
      });
      socket.on('error', reject);
      const pump = (): void => {
        while (performance.now() < deadline) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
  };

  const outcomes = await Promise.allSettled(Array.from({ length: job.connections }, one));
  clock.stop();
  countErrors(result, outcomes);
  result.elapsedMs = performance.now() - clock.start;
  result.bytes = sent;
  result.gbps = gbps(sent, result.elapsedMs);
  return result;
}

/** Asks the peer to send for the duration and reads until it ends. */
async function bulkReceive(
  net: BenchNet,
  job: Job,
  onProgress: (progress: Progress) => void,
): Promise<WorkloadResult> {
  const result = empty(job);
  let received = 0;
  let lastSample = 0;
  const clock = sampler((elapsedMs) => {
    result.series.push(gbps(received - lastSample, SAMPLE_MS));
    lastSample = received;
    onProgress({ workload: job.workload, elapsedMs, done: received });
  });

  const one = async (): Promise<void> => {
    const socket = await connect(net, job, SOURCE_SERVICE);
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (data: Buffer) => {
        received += data.length;
      });
      socket.on('end', () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
      const request = Buffer.alloc(SOURCE_REQUEST_SIZE);
      request.writeUInt32BE(job.durationMs);
      socket.write(request);
    });
  };

  const outcomes = await Promise.allSettled(Array.from({ length: job.connections }, one));
  clock.stop();
  countErrors(result, outcomes);
  result.elapsedMs = performance.now() - clock.start;
  result.bytes = received;
  result.gbps = gbps(received, result.elapsedMs);
  return result;
}

/** One connection, one message of `size` bytes in flight, for the duration. */
async function pingPong(
  net: BenchNet,
  job: Job,
  size: number,
  onProgress: (progress: Progress) => void,
): Promise<WorkloadResult> {
  const result = empty(job);
  // Nanoseconds, from 1 ns to 100 s, three significant digits.
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });
  const message = Buffer.alloc(size, 0x3c);
  let trips = 0;
  let lastSample = 0;
  const clock = sampler((elapsedMs) => {
    result.series.push(((trips - lastSample) * 1000) / SAMPLE_MS);
    lastSample = trips;
    onProgress({ workload: job.workload, elapsedMs, done: trips });
  });
  const deadline = clock.start + job.durationMs;

  const outcome = await Promise.allSettled([
    (async () => {
      const socket = await connect(net, job, ECHO_SERVICE);
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) => {
        let pending = 0;
        let sentAt = 0n;
        const send = (): void => {
          pending = size;
          sentAt = process.hrtime.bigint();
          socket.write(message);
        };
        socket.on('data', (data: Buffer) => {
          pending -= data.length;
          if (pending > 0) return;
          histogram.recordValue(Number(process.hrtime.bigint() - sentAt));
          trips++;
          if (pending < 0 || performance.now() >= deadline) {
            socket.end();
            return;
          }
          send();
        });
        socket.on('end', () => resolve());
        socket.on('error', reject);
        send();
      });
    })(),
  ]);
  clock.stop();
  countErrors(result, outcome);
  result.elapsedMs = performance.now() - clock.start;
  result.operations = trips;
  result.bytes = trips * size;
  result.perSecond = (trips * 1000) / result.elapsedMs;
  if (histogram.totalCount > 0) {
    const us = (percentile: number): number => histogram.getValueAtPercentile(percentile) / 1000;
    result.latency = {
      count: histogram.totalCount,
      p50Us: us(50),
      p99Us: us(99),
      p999Us: us(99.9),
      // The percentiles report bucket-equivalent values; so must the maximum, or p99.9 may
      // exceed it by a bucket width.
      maxUs: us(100),
      curve: CURVE_PERCENTILES.map((p) => [p, us(p)]),
    };
  }
  return result;
}

/**
 * Connect, send one request, read one response, close first; `connections` of these in flight
 * at once for the duration. Failed connections are counted by code and the loop goes on.
 */
async function connectionRate(
  net: BenchNet,
  job: Job,
  onProgress: (progress: Progress) => void,
): Promise<WorkloadResult> {
  const result = empty(job);
  const request = Buffer.alloc(CRR_REQUEST_SIZE, 0x71);
  let completed = 0;
  let lastSample = 0;
  const clock = sampler((elapsedMs) => {
    result.series.push(((completed - lastSample) * 1000) / SAMPLE_MS);
    lastSample = completed;
    onProgress({ workload: job.workload, elapsedMs, done: completed });
  });
  const deadline = clock.start + job.durationMs;

  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ port: portOf(job, CRR_SERVICE), host: job.host });
      let received = 0;
      socket.setNoDelay(true);
      socket.on('connect', () => socket.write(request));
      socket.on('data', (data: Buffer) => {
        received += data.length;
        if (received >= CRR_RESPONSE_SIZE) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', (hadError: boolean) => {
        if (hadError) return;
        if (received === CRR_RESPONSE_SIZE) resolve();
        else reject(Object.assign(new Error('short response'), { code: 'EPROTO' }));
      });
    });

  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        await once();
        completed++;
      } catch (error) {
        const code = codeOf(error);
        result.errors[code] = (result.errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.connections }, loop));
  clock.stop();
  result.elapsedMs = performance.now() - clock.start;
  result.operations = completed;
  result.perSecond = (completed * 1000) / result.elapsedMs;
  return result;
}

function countErrors(result: WorkloadResult, outcomes: PromiseSettledResult<unknown>[]): void {
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') continue;
    const code = codeOf(outcome.reason);
    result.errors[code] = (result.errors[code] ?? 0) + 1;
  }
}
