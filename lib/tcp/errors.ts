// Errors users can switch on by `code`, as from the socket calls of node:net and POSIX.

export type TcpErrorCode =
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'ENOTCONN'
  | 'EISCONN'
  | 'EPIPE'
  | 'EINVAL'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'ECONNABORTED'
  | 'EOPNOTSUPP'
  | 'EMSGSIZE';

export class TcpError extends Error {
  readonly code: TcpErrorCode;
  /** The call that failed ('connect', 'send', ...). */
  readonly syscall: string;

  constructor(code: TcpErrorCode, syscall: string, detail?: string) {
    super(`${syscall} ${code}${detail ? `: ${detail}` : ''}`);
    this.name = 'TcpError';
    this.code = code;
    this.syscall = syscall;
  }
}
