// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4; RFC 1982 serial-number comparison).
// Sequence numbers are carried as unsigned 32-bit integers in plain JavaScript numbers.

/** a + n, wrapped to 32 bits unsigned. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance from b to a (a - b) in the range -2^31 .. 2^31-1. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}

export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}

/** left <= s < right, modulo 2^32. */
export function seqInWindow(s: number, left: number, right: number): boolean {
  return seqLeq(left, s) && seqLt(s, right);
}
