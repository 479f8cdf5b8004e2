/**
 * The far end of every workload: sink, source, echo and connection-rate services on one
 * address, counting every byte and connection so the client's figures can be checked.
 * It runs over any `BenchNet`: `node:net` inside the peer namespace, or a utcp stack.
 */
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
  type BenchServer,
  type BenchSocket,
  type PeerCounts,
} from './protocol.js';

export interface PeerServer {
  /** Counts since the previous mark (or start); the counters start again from zero. */
  mark(): PeerCounts;
  close(): Promise<void>;
}

export interface PeerOptions {
  /** Measure CPU time with `process.cpuUsage()`; off when the peer shares a process. */
  measureCpu: boolean;
  basePort?: number;
}

export async function startPeerServer(
  net: BenchNet,
  host: string,
  options: PeerOptions,
): Promise<PeerServer> {
  let counts = emptyCounts();
  let cpuAtMark = process.cpuUsage();
  let wallAtMark = performance.now();
  const sockets = new Set<BenchSocket>();

  const track = (socket: BenchSocket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'EUNKNOWN';
      counts.errors[code] = (counts.errors[code] ?? 0) + 1;
    });
  };

  const sink = (socket: BenchSocket): void => {
    track(socket);
    counts.sinkConnections++;
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      counts.sinkBytes += chunk.length;
    });
    socket.on('end', () => {
      const reply = Buffer.alloc(SINK_REPLY_SIZE);
      reply.writeBigUInt64BE(BigInt(received));
      socket.end(reply);
    });
  };

  const source = (socket: BenchSocket): void => {
    track(socket);
    counts.sourceConnections++;
    const chunk = Buffer.alloc(BULK_CHUNK, 0x5a);
    let request = Buffer.alloc(0);
    let deadline = 0;
    const pump = (): void => {
      while (performance.now() < deadline) {
        counts.sourceBytes += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    const onRequest = (data: Buffer): void => {
      request = Buffer.concat([request, data]);
      if (request.length < SOURCE_REQUEST_SIZE) return;
      socket.off('data', onRequest);
      deadline = performance.now() + request.readUInt32BE(0);
      // Whatever else the client sends is read and dropped, so the stream keeps flowing.
      socket.on('data', () => {});
      pump();
    };
    socket.on('data', onRequest);
  };

  const echo = (socket: BenchSocket): void => {
    track(socket);
    socket.setNoDelay(true);
    counts.echoConnections++;
    socket.on('data', (chunk: Buffer) => {
      counts.echoBytes += chunk.length;
      socket.write(chunk);
    });
    socket.on('end', () => socket.end());
  };

  const crr = (socket: BenchSocket): void => {
    track(socket);
    socket.setNoDelay(true);
    counts.crrConnections++;
    let received = 0;
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!answered && received >= CRR_REQUEST_SIZE) {
        answered = true;
        counts.crrResponses++;
        socket.write(Buffer.alloc(CRR_RESPONSE_SIZE, 0x72));
      }
    });
    // The client closes first; the peer closes its half when it sees the client's FIN.
    socket.on('end', () => socket.end());
  };

  const servers: BenchServer[] = [];
  const services: [number, (socket: BenchSocket) => void][] = [
    [SINK_SERVICE, sink],
    [SOURCE_SERVICE, source],
    [ECHO_SERVICE, echo],
    [CRR_SERVICE, crr],
  ];
  for (const [port, onConnection] of services) {
    const server = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.on('error', reject);
      server.listen((options.basePort ?? BASE_PORT) + port, host, () => resolve());
    });
    servers.push(server);
  }

  return {
    mark() {
      const now = performance.now();
      const cpu = process.cpuUsage(cpuAtMark);
      const wallMs = now - wallAtMark;
      const result: PeerCounts = {
        ...counts,
        wallMs,
        cpuPct: options.measureCpu ? cpuPercent(cpu, wallMs) : null,
      };
      counts = emptyCounts();
      cpuAtMark = process.cpuUsage();
      wallAtMark = now;
      return result;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}

/** CPU time over wall time, in % of one CPU. */
export function cpuPercent(cpu: NodeJS.CpuUsage, wallMs: number): number {
  if (wallMs <= 0) return 0;
  return ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
}

function emptyCounts(): Omit<PeerCounts, 'cpuPct' | 'wallMs'> {
  return {
    sinkBytes: 0,
    sinkConnections: 0,
    sourceBytes: 0,
    sourceConnections: 0,
    echoBytes: 0,
    echoConnections: 0,
    crrConnections: 0,
    crrResponses: 0,
    errors: {},
  };
}
