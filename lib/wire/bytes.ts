/** Big-endian reads and writes on plain byte arrays; no DataView, so nothing is allocated. */

export function read16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

export function read32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
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
