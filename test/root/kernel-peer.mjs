/* global process, Buffer */
// The kernel's side of the interop tests: node:net on Linux TCP, run inside the lab's peer
// namespace. Prints one JSON line when ready and one per result, so the test can follow it.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);
const say = (record) => process.stdout.write(JSON.stringify(record) + '\n');

/** Sends `bytes` random bytes in 64 KiB writes, respecting backpressure, then ends. */
function sendRandom(socket, bytes, done) {
  const hash = createHash('sha256');
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const chunk = randomBytes(Math.min(65536, left));
      left -= chunk.length;
      hash.update(chunk);
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
    socket.end();
    done(hash.digest('hex'));
  };
  pump();
}

function hashIncoming(socket, done) {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  socket.on('end', () => done(bytes, hash.digest('hex')));
}

switch (mode) {
  case 'echo-server': {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    server.listen(Number(args[0]), () => say({ ready: true }));
    break;
  }
  case 'bulk-server': {
    // Hashes what arrives; once the client's FIN is in, sends `args[1]` bytes back.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      hashIncoming(socket, (received, sha256) => {
        sendRandom(socket, Number(args[1]), (sentSha256) => say({ received, sha256, sentSha256 }));
      });
    });
    server.listen(Number(args[0]), () => say({ ready: true }));
    break;
  }
  case 'bulk-client': {
    const [host, port, bytes] = args;
    const socket = net.connect({ host, port: Number(port), allowHalfOpen: true });
    let sentSha256;
    socket.on('connect', () => sendRandom(socket, Number(bytes), (h) => (sentSha256 = h)));
    hashIncoming(socket, (received, sha256) => say({ received, sha256, sentSha256 }));
    socket.on('error', (error) => say({ error: error.code }));
    break;
  }
  case 'half-close-client': {
    // Sends, half-closes, and then still reads the server's answer to the end.
    const [host, port] = args;
    const socket = net.connect({ host, port: Number(port), allowHalfOpen: true });
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => say({ text }));
    socket.on('error', (error) => say({ error: error.code }));
    socket.end('question');
    break;
  }
  case 'hold-client': {
    // Connects and waits: reports how the connection ends.
    const [host, port] = args;
    const socket = net.connect({ host, port: Number(port) });
    socket.on('connect', () => say({ connected: true }));
    socket.on('data', () => {});
    socket.on('error', (error) => say({ error: error.code }));
    socket.on('end', () => say({ end: true }));
    break;
  }
  case 'many-clients': {
    // Opens `count` connections at once; each sends its number and expects it echoed.
    const [host, port, count] = args;
    let ok = 0;
    let failed = 0;
    const errors = {};
    const finish = () => {
      if (ok + failed === Number(count)) say({ ok, failed, errors });
    };
    for (let i = 0; i < Number(count); i++) {
      const socket = net.connect({ host, port: Number(port) });
      const message = `connection ${i}\n`;
      let echoed = '';
      socket.on('connect', () => socket.end(message));
      socket.on('data', (chunk) => (echoed += chunk));
      socket.on('close', () => {
        if (echoed === message) ok++;
        else failed++;
        finish();
      });
      socket.on('error', (error) => (errors[error.code] = (errors[error.code] ?? 0) + 1));
    }
    break;
  }
  case 'http-server': {
    const body = Buffer.alloc(Number(args[1]), 'kernel ');
    const server = http.createServer((request, response) => {
      response.setHeader('x-sha256', createHash('sha256').update(body).digest('hex'));
      response.end(body);
    });
    server.listen(Number(args[0]), () => say({ ready: true }));
    break;
  }
  default:
    say({ error: `unknown mode ${mode}` });
    process.exit(2);
}
