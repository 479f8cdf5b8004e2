// The runner's own semantics, on small scripts written for the purpose.
import { describe, expect, it } from 'vitest';
import { createCoreHost } from '../../lib/cli/packetdrill/core-host.js';
import { profile } from '../../lib/cli/packetdrill/profile.js';
import { runScript } from '../../lib/cli/packetdrill/runner.js';

const run = (lines: string[]) =>
  runScript(['--tolerance_usecs=10000', ...lines].join('\n'), profile('freebsd'), createCoreHost);

const LISTEN = [
  '+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
  '+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0',
  '+0 bind(3, ..., ...) = 0',
  '+0 listen(3, 1) = 0',
];
const HANDSHAKE = [
  '+0 < S 0:0(0) win 32768 <mss 1460,sackOK,eol,eol>',
  '+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>',
  '+0.1 < . 1:1(0) ack 1 win 32768',
];

describe('packetdrill runner', () => {
  it('lets a call written a...b block in the background and checks when it returns', () => {
    expect(run([...LISTEN, '+0...0.1 accept(3, ..., ...) = 4', ...HANDSHAKE])).toEqual({
      status: 'PASS',
    });
    const late = run([...LISTEN, '+0...0.05 accept(3, ..., ...) = 4', ...HANDSHAKE]);
    expect(late).toMatchObject({ status: 'FAIL', line: 6 });
    expect(late.reason).toMatch(/returned at the wrong time/);
  });

  it('fails a blocking call that nothing will ever satisfy', () => {
    const r = run([
      ...LISTEN,
      ...HANDSHAKE,
      '+0 accept(3, ..., ...) = 4',
      '+0 recv(4, ..., 10, 0) = 10',
    ]);
    expect(r).toMatchObject({ status: 'FAIL', line: 10 });
    expect(r.reason).toMatch(/blocked/);
  });

  it('returns EAGAIN on a non-blocking socket', () => {
    const r = run([
      ...LISTEN,
      '+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0',
      '+0 accept(3, ..., ...) = -1 EAGAIN (Resource temporarily unavailable)',
      '+0 fcntl(3, F_GETFL) = 0x6 (flags O_RDWR | O_NONBLOCK)',
    ]);
    expect(r).toEqual({ status: 'PASS' });
  });

  it('reports an unexpected segment against the next expected one', () => {
    const r = run([...LISTEN, '+0 < S 0:0(0) win 32768 <mss 1460>', '+0 > R 0:0(0) win 0']);
    expect(r).toMatchObject({ status: 'FAIL', line: 7 });
    expect(r.expected).toBe('R 0:0(0) win 0');
    expect(r.actual).toMatch(/^S\. 0:0\(0\) ack 1 win 65535 <mss 1460> at 0s/);
  });

  it('fails an expected segment that never comes, naming the deadline', () => {
    const r = run([...LISTEN, '+1 > S 0:0(0) win 65535']);
    expect(r).toMatchObject({ status: 'FAIL', line: 6, actual: 'nothing sent by 1.01s' });
  });

  it('counts connections by state for sockstat and drops them for tcpdrop', () => {
    const r = run([
      ...LISTEN,
      '+0 < S 0:0(0) win 32768 <mss 1460,sackOK,eol,eol>',
      '+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>',
      '+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 1`',
      '+0 `sockstat -4 -P tcp -p 8080 -s | grep -c LISTEN | grep 1`',
      '+0 `tcpdrop -s SYN_RECEIVED`',
      '+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0`',
      '+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 1`',
    ]);
    expect(r).toMatchObject({ status: 'FAIL', line: 12, expected: '1' });
    expect(r.actual).toMatch(/^0 /);
  });

  it('evaluates tcp_info state assertions against the socket under test', () => {
    const ok = run([...LISTEN, '+0 %{ assert tcpi_state == TCPI_LISTEN }%']);
    expect(ok).toEqual({ status: 'PASS' });
    const bad = run([...LISTEN, '+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%']);
    expect(bad).toMatchObject({ status: 'FAIL', line: 6 });
  });

  it('checks an EBADF and errno spellings', () => {
    expect(run(['+0 close(7) = -1 EBADF (Bad file descriptor)'])).toEqual({ status: 'PASS' });
    expect(run(['+0 close(7) = 0'])).toMatchObject({ status: 'FAIL', line: 2, actual: '-1 EBADF' });
  });
});

describe('packetdrill runner: SO_LINGER', () => {
  it('aborts with a RST on close when the linger time is zero', () => {
    const r = run([
      ...LISTEN,
      ...HANDSHAKE,
      '+0 accept(3, ..., ...) = 4',
      '+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0',
      '+0 close(4) = 0',
      '+0 > R. 1:1(0) ack 1',
    ]);
    expect(r).toEqual({ status: 'PASS' });
  });
});

describe('packetdrill runner: data calls', () => {
  const ACCEPTED = [...LISTEN, ...HANDSHAKE, '+0 accept(3, ..., ...) = 4'];

  it('reads with recvfrom, readv and FIONREAD, and MSG_DONTWAIT does not block', () => {
    const r = run([
      ...ACCEPTED,
      '+0 recv(4, ..., 10, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)',
      '+0 < P. 1:31(30) ack 1 win 32768',
      '+0 ioctl(4, FIONREAD, [30]) = 0',
      '+0 recvfrom(4, ..., 10, 0, ..., ...) = 10',
      '+0 readv(4, [{..., 5}, {iov_base=..., iov_len=5}], 2) = 10',
      '+0 ioctl(4, FIONREAD, [10]) = 0',
      '+0 read(4, ..., 100) = 10',
    ]);
    expect(r).toEqual({ status: 'PASS' });
  });

  it('writes with sendto and writev', () => {
    const r = run([
      ...ACCEPTED,
      '+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0',
      '+0 writev(4, [{..., 10}, {..., 20}], 2) = 30',
      '+0 > P. 1:31(30) ack 1 win 65535',
      '+0 < . 1:1(0) ack 31 win 32768',
      '+0 sendto(4, ..., 5, 0, ..., ...) = 5',
      '+0 > P. 31:36(5) ack 1 win 65535',
      '+0 ioctl(4, FIONREAD, [1]) = 0',
    ]);
    expect(r).toMatchObject({ status: 'FAIL', line: 16, expected: '1', actual: '0' });
  });
});
