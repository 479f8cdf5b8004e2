/**
 * Big-endian reads and writes on plain byte arrays; no DataView, so nothing is allocated.
 *
 * Parsers read 32-bit and 48-bit fields as `read16(...) * 0x10000 + read16(...)` written out in
 * place rather than through a helper returning the whole value: a value past 2^31 returned by
 * a call the optimiser did not inline is boxed on the heap, one allocation per frame, while the
 * 16-bit halves never are. Writers split such values into halves where they read them from
 * their record, for the same reason.
 */

export function read16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

export function write16(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 8;
  buf[at + 1] = value;
}

export function write32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/** Whether `[offset, offset + length)` is a range inside `buf` of at least `minimum` bytes. */
export function inBounds(buf: Uint8Array, offset: number, length: number, minimum: number) {
  return offset >= 0 && length >= minimum && offset + length <= buf.length;
}
