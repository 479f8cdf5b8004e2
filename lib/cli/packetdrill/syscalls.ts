// The socket calls of a script on the host: a descriptor table with packetdrill's numbering
// (the lowest free descriptor from 3), FreeBSD's fcntl flags, and errno results. Whether a
// call blocks is decided here; how the script waits for it belongs to the run loop.

import { type CallResult, type HostSocket, type TcpHost } from './host.js';
import { type SyscallEvent } from './script.js';
import {
  Failure,
  exprText,
  expectResult,
  intArg,
  iovecLength,
  lingerSeconds,
  orSymbols,
  sameErrno,
  symbolName,
} from './values.js';

/** packetdrill's default ports: bind() and connect() use 8080. */
export const SCRIPT_PORT = 8080;

// FreeBSD <fcntl.h>.
const O_RDWR = 0x0002;
const O_NONBLOCK = 0x0004;

/** What the run loop offers a call: running it, waiting for it, collecting segments. */
export interface Waiter {
  /** Runs `attempt` (undefined: it would block) and checks its result now or on return. */
  callOrBlock(host: TcpHost, event: SyscallEvent, attempt: () => CallResult | undefined): void;
  /** The call would block: wait for `attempt` to give a result. */
  block(host: TcpHost, event: SyscallEvent, attempt: () => CallResult | undefined): void;
  /** Take the segments the host sent during the call. */
  collect(host: TcpHost): void;
}

interface Descriptor {
  socket: HostSocket;
  nonblocking: boolean;
}

/** A call on a closed descriptor whose EBADF the script expected. */
export class Handled extends Error {}

export class SocketCalls {
  private readonly fds = new Map<number, Descriptor>();
  /** packetdrill's socket under test, whose tcp_info Python blocks read: the descriptor
   *  of the latest socket() or accept(). */
  socketUnderTest: HostSocket | undefined;
  /** Ports of the latest active open, kept after its descriptor is closed. */
  activeTuple: { localPort: number; remotePort: number } | undefined;

  /** Runs one system call line; the result is checked now or, if it blocks, when it returns. */
  run(host: TcpHost, event: SyscallEvent, waiter: Waiter): void {
    const fdArg = event.args[0];
    const fdNumber = fdArg?.kind === 'int' ? fdArg.value : undefined;
    const fd = fdNumber === undefined ? undefined : this.fds.get(fdNumber);
    const needFd = (): Descriptor => {
      if (fd === undefined) {
        expectResult(event, { ok: false, errno: 'EBADF' });
        throw new Handled();
      }
      return fd;
    };

    switch (event.name) {
      case 'socket': {
        const type = event.args[1];
        if (type?.kind !== 'symbol' || type.name !== 'SOCK_STREAM') {
          throw new Failure(event.line, 'only SOCK_STREAM sockets are supported');
        }
        let n = 3;
        while (this.fds.has(n)) n++;
        const socket = host.socket();
        this.fds.set(n, { socket, nonblocking: false });
        this.socketUnderTest = socket;
        expectResult(event, { ok: true, value: n });
        return;
      }
      case 'fcntl': {
        const d = needFd();
        const command = symbolName(event.args[1]);
        if (command === 'F_GETFL') {
          expectResult(event, { ok: true, value: O_RDWR | (d.nonblocking ? O_NONBLOCK : 0) });
        } else if (command === 'F_SETFL') {
          d.nonblocking = orSymbols(event.args[2]).includes('O_NONBLOCK');
          expectResult(event, { ok: true, value: 0 });
        } else throw new Failure(event.line, `unsupported fcntl command ${command}`);
        return;
      }
      case 'bind':
        expectResult(event, host.bind(needFd().socket, SCRIPT_PORT));
        return;
      case 'listen':
        expectResult(event, host.listen(needFd().socket, intArg(event, 1)));
        return;
      case 'connect': {
        const d = needFd();
        const result = host.connect(d.socket, SCRIPT_PORT);
        if (result.ok || result.errno === 'EINPROGRESS') {
          const localPort = host.localPort(d.socket);
          if (localPort !== undefined) this.activeTuple = { localPort, remotePort: SCRIPT_PORT };
        }
        waiter.collect(host);
        if (!result.ok && result.errno === 'EINPROGRESS' && !d.nonblocking) {
          waiter.block(host, event, () => {
            const status = host.connectStatus(d.socket);
            if (status === 'pending') return undefined;
            if (status === 'established') return { ok: true, value: 0 };
            return { ok: false, errno: status.errno };
          });
          return;
        }
        expectResult(event, result);
        return;
      }
      case 'accept': {
        const d = needFd();
        const attempt = (): CallResult | undefined => {
          const r = host.accept(d.socket);
          if (!r.ok && r.errno === 'EAGAIN' && !d.nonblocking) return undefined;
          if (r.ok) {
            let n = 3;
            while (this.fds.has(n)) n++;
            this.fds.set(n, { socket: r.value, nonblocking: false });
            this.socketUnderTest = r.value;
            return { ok: true, value: n };
          }
          return r;
        };
        waiter.callOrBlock(host, event, attempt);
        return;
      }
      case 'recv':
      case 'recvfrom':
      case 'read':
      case 'readv': {
        const d = needFd();
        const vector = event.name === 'readv';
        const length = vector ? iovecLength(event, 1) : intArg(event, 2);
        const flags = event.name.startsWith('recv') ? orSymbols(event.args[3]) : [];
        const peek = flags.includes('MSG_PEEK');
        const wait = !d.nonblocking && !flags.includes('MSG_DONTWAIT');
        waiter.callOrBlock(host, event, () => {
          const r = host.recv(d.socket, length, peek);
          if (!r.ok && r.errno === 'EAGAIN' && wait) return undefined;
          return r;
        });
        return;
      }
      case 'send':
      case 'sendto':
      case 'write':
      case 'writev': {
        const d = needFd();
        const length = event.name === 'writev' ? iovecLength(event, 1) : intArg(event, 2);
        const flags = event.name.startsWith('send') ? orSymbols(event.args[3]) : [];
        const wait = !d.nonblocking && !flags.includes('MSG_DONTWAIT');
        // A blocking send returns once everything is queued (or an error ends it).
        let queued = 0;
        waiter.callOrBlock(host, event, () => {
          const r = host.send(d.socket, length - queued);
          if (r.ok) queued += r.value;
          if (!wait) return queued > 0 || r.ok ? { ok: true, value: queued } : r;
          if (!r.ok && r.errno !== 'EAGAIN') return queued > 0 ? { ok: true, value: queued } : r;
          return queued < length ? undefined : { ok: true, value: queued };
        });
        return;
      }
      case 'ioctl': {
        const d = needFd();
        if (symbolName(event.args[1]) !== 'FIONREAD') {
          throw new Failure(event.line, `unsupported ioctl ${exprText(event.args[1])}`);
        }
        const want = event.args[2];
        const readable = host.readable(d.socket);
        if (want?.kind === 'list' && want.items[0]?.kind === 'int') {
          if (want.items[0].value !== readable) {
            throw new Failure(
              event.line,
              'FIONREAD differs',
              String(want.items[0].value),
              String(readable),
            );
          }
        }
        expectResult(event, { ok: true, value: 0 });
        return;
      }
      case 'shutdown': {
        const how = symbolName(event.args[1]);
        const map: Record<string, 'read' | 'write' | 'both'> = {
          SHUT_RD: 'read',
          SHUT_WR: 'write',
          SHUT_RDWR: 'both',
        };
        const which = how === undefined ? undefined : map[how];
        if (which === undefined) throw new Failure(event.line, `unknown shutdown mode ${how}`);
        expectResult(event, host.shutdown(needFd().socket, which));
        return;
      }
      case 'close': {
        const d = needFd();
        const result = host.close(d.socket);
        this.fds.delete(fdNumber as number);
        expectResult(event, result);
        return;
      }
      case 'getsockopt':
        this.getsockopt(host, event, needFd());
        return;
      case 'setsockopt': {
        const d = needFd();
        const name = symbolName(event.args[2]) ?? '?';
        const valueExpr = event.args[3];
        const value =
          valueExpr?.kind === 'list' && valueExpr.items[0]?.kind === 'int'
            ? valueExpr.items[0].value
            : valueExpr?.kind === 'int'
              ? valueExpr.value
              : lingerSeconds(valueExpr);
        if (value === undefined) throw new Failure(event.line, `unsupported value for ${name}`);
        expectResult(event, host.setOption(d.socket, name, value));
        return;
      }
      default:
        throw new Failure(event.line, `unsupported system call ${event.name}`);
    }
  }

  private getsockopt(host: TcpHost, event: SyscallEvent, d: Descriptor): void {
    const name = symbolName(event.args[2]) ?? '?';
    const expectedValue = event.args[3];
    if (name === 'SO_ERROR') {
      const errno = host.takeError(d.socket);
      const want = expectedValue?.kind === 'list' ? expectedValue.items[0] : undefined;
      const wantName =
        want?.kind === 'int' && want.value === 0
          ? undefined
          : want?.kind === 'symbol'
            ? want.name
            : '?';
      if (want !== undefined && want.kind !== 'ellipsis' && !sameErrno(wantName, errno)) {
        throw new Failure(event.line, 'SO_ERROR differs', wantName ?? '0', errno ?? '0');
      }
      expectResult(event, { ok: true, value: 0 });
      return;
    }
    const result = host.getOption(d.socket, name);
    if (result.ok && expectedValue?.kind === 'list' && expectedValue.items[0]?.kind === 'int') {
      const want = expectedValue.items[0].value;
      if (want !== result.value) {
        throw new Failure(event.line, `${name} differs`, String(want), String(result.value));
      }
    }
    expectResult(event, result.ok ? { ok: true, value: 0 } : result);
  }
}
