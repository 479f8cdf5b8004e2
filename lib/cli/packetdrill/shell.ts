// The shell commands of the FreeBSD suite the runner understands, each turned into an action
// on the core: `sysctl -w` sets a parameter, `sockstat ... | grep -c STATE | grep N` asserts
// how many connections are in a state, `tcpdrop -s STATE` drops the connections in a state.

export type ShellAction =
  | { kind: 'sysctl'; name: string; value: string }
  | { kind: 'count-state'; state: string; port?: number; expected: number }
  | { kind: 'drop-state'; state: string }
  | { kind: 'unsupported' };

const SOCKSTAT =
  /^sockstat\s+-4\s+(?<args>(?:-[PspN]\s*\S*\s+)*)\|\s*(?:grep\s+packetdril\s*\|\s*)?grep\s+-c\s+(?<state>[A-Z_0-9]+)\s*\|\s*grep\s+(?<count>\d+)$/;

export function shellAction(command: string): ShellAction {
  const text = command.trim().replace(/\s+/g, ' ');

  const sysctl = /^sysctl -w ([A-Za-z0-9_.]+)=(\S+)$/.exec(text);
  if (sysctl) return { kind: 'sysctl', name: sysctl[1], value: sysctl[2] };

  const sockstat = SOCKSTAT.exec(text + '');
  if (sockstat?.groups) {
    const args = sockstat.groups.args;
    if (!/-P tcp/.test(args)) return { kind: 'unsupported' };
    const port = /-p (\d+)/.exec(args);
    const action: ShellAction = {
      kind: 'count-state',
      state: sockstat.groups.state,
      expected: Number(sockstat.groups.count),
    };
    if (port) action.port = Number(port[1]);
    return action;
  }

  const tcpdrop = /^tcpdrop -s ([A-Z_0-9]+)$/.exec(text);
  if (tcpdrop) return { kind: 'drop-state', state: tcpdrop[1] };

  return { kind: 'unsupported' };
}
