// The eleven states of RFC 9293 3.3.2, as small integers so a state is a plain field.

export const CLOSED = 0;
export const LISTEN = 1;
export const SYN_SENT = 2;
export const SYN_RECEIVED = 3;
export const ESTABLISHED = 4;
export const FIN_WAIT_1 = 5;
export const FIN_WAIT_2 = 6;
export const CLOSE_WAIT = 7;
export const CLOSING = 8;
export const LAST_ACK = 9;
export const TIME_WAIT = 10;

export type TcpState = number;

export const STATE_NAMES: readonly string[] = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECEIVED',
  'ESTABLISHED',
  'FIN_WAIT_1',
  'FIN_WAIT_2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
];

export function stateName(state: TcpState): string {
  return STATE_NAMES[state] ?? `UNKNOWN(${state})`;
}

/** States past the handshake (RFC 9293 3.10.7.4 "otherwise"). */
export function isSynchronised(state: TcpState): boolean {
  return state >= ESTABLISHED;
}

/** States in which we have sent a FIN. */
export function finSent(state: TcpState): boolean {
  return (
    state === FIN_WAIT_1 ||
    state === FIN_WAIT_2 ||
    state === CLOSING ||
    state === LAST_ACK ||
    state === TIME_WAIT
  );
}

/** States in which the peer's FIN has been received. */
export function finReceived(state: TcpState): boolean {
  return state === CLOSE_WAIT || state === CLOSING || state === LAST_ACK || state === TIME_WAIT;
}
