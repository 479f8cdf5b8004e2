import { describe, expect, it } from 'vitest';
import { parseScript } from '../../lib/cli/packetdrill/parse.js';
import { applySysctl, profile } from '../../lib/cli/packetdrill/profile.js';
import { SKIP_REASONS, skipFromScript, skipFromText } from '../../lib/cli/packetdrill/skip.js';
import { type TcpParams } from '../../lib/tcp/params.js';

const freebsd = profile('freebsd');
const skipOf = (text: string) =>
  skipFromText(text) ?? skipFromScript(parseScript(text, { defines: freebsd.defines }), freebsd);

describe('skip detection', () => {
  it('skips IPv6, MD5 and UDP encapsulation from the options', () => {
    expect(skipOf('--ip_version=ipv6\n+0 close(3) = 0')).toEqual({ reason: 'ipv6' });
    expect(skipOf('--tcp_md5_secret=secret\n+0 close(3) = 0')?.reason).toBe('tcp-md5');
    expect(skipOf('--udp_encapsulation=tcp\n+0 close(3) = 0')?.reason).toBe('udp-encapsulation');
  });

  it('names the FreeBSD-only socket option and its line', () => {
    const skip = skipOf(
      '+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n' +
        '+0 setsockopt(3, IPPROTO_TCP, TCP_NOOPT, [1], 4) = 0',
    );
    expect(skip).toEqual({ reason: 'freebsd-only-socket-option', detail: 'TCP_NOOPT', line: 2 });
    expect(skipOf('+0 setsockopt(3, IPPROTO_TCP, TCP_RACK_PACE_ALWAYS, [1], 4) = 0')?.detail).toBe(
      'TCP_RACK_PACE_ALWAYS',
    );
    expect(skipOf('+0 setsockopt(3, IPPROTO_IP, IP_TTL, [4], 4) = 0')?.reason).toBe(
      'ip-layer-option',
    );
  });

  it('evaluates tcp_info assertions but skips other Python', () => {
    expect(skipOf('+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%')).toBeUndefined();
    expect(
      skipOf('+0 %{ assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK) }%'),
    ).toBeUndefined();
    expect(skipOf('+0 %{ assert tcpi_rtt > 1000 }%')?.reason).toBe('python-block');
  });

  it('runs sysctl, sockstat and tcpdrop lines, skips other commands', () => {
    expect(skipOf('+0 `sysctl -w net.inet.tcp.sack.enable=0`')).toBeUndefined();
    expect(
      skipOf('+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0`'),
    ).toBeUndefined();
    expect(skipOf('+0 `tcpdrop -s TIME_WAIT`')).toBeUndefined();
    expect(skipOf('+0 `ifconfig tun0 mtu 1000`')?.reason).toBe('shell-command');
    expect(skipOf('+0 `kldload tcpmd5; setkey -F`')?.reason).toBe('tcp-md5');
  });

  it('skips a sysctl set to a value the core cannot follow, not one it mirrors', () => {
    expect(skipOf('+0 `sysctl -w net.inet.tcp.blackhole=0`')).toBeUndefined();
    expect(skipOf('+0 `sysctl -w net.inet.tcp.blackhole=2`')).toMatchObject({
      reason: 'freebsd-only-sysctl',
      detail: 'net.inet.tcp.blackhole=2',
    });
    expect(skipOf('+0 `sysctl -w net.inet.tcp.no_such_thing=1`')?.reason).toBe(
      'freebsd-only-sysctl',
    );
  });

  it('keeps the list of reasons closed', () => {
    expect(Object.keys(SKIP_REASONS).sort()).toEqual(
      [
        'fast-open',
        'freebsd-only-socket-option',
        'freebsd-only-sysctl',
        'ip-layer-option',
        'ipv6',
        'python-block',
        'shell-command',
        'tcp-md5',
        'udp-encapsulation',
      ].sort(),
    );
  });
});

describe('FreeBSD sysctls', () => {
  it('map onto core parameters', () => {
    const p: Partial<TcpParams> = {};
    expect(applySysctl('net.inet.tcp.rfc1323', '0', p).kind).toBe('applied');
    expect(p).toMatchObject({ windowScaling: false, timestamps: false });
    applySysctl('net.inet.tcp.rfc1323', '3', p);
    expect(p).toMatchObject({ windowScaling: false, timestamps: true });
    applySysctl('net.inet.tcp.ecn.enable', '1', p);
    expect(p.ecn).toBe('on');
    applySysctl('net.inet.tcp.rexmit_initial', '3000', p);
    expect(p.rtoInitial).toBe(3_000_000);
    applySysctl('net.inet.tcp.keepinit', '75000', p);
    expect(p.connectionTimeout).toBe(75_000_000);
    applySysctl('net.inet.tcp.delacktime', '40', p);
    expect(p.delayedAckTime).toBe(40_000);
  });

  it('derive the window scale from kern.ipc.maxsockbuf as FreeBSD does', () => {
    const p: Partial<TcpParams> = {};
    applySysctl('kern.ipc.maxsockbuf', '2097152', p);
    expect(p.windowScale).toBe(6);
    applySysctl('kern.ipc.maxsockbuf', '73728', p);
    expect(p.windowScale).toBe(1);
  });

  it('reject values that make no sense', () => {
    expect(applySysctl('net.inet.tcp.ecn.enable', '7', {}).kind).toBe('unsupported');
    expect(applySysctl('net.inet.tcp.recvspace', 'lots', {}).kind).toBe('unsupported');
  });
});
