/**
 * The Internet checksum (RFC 1071): the one's-complement sum of 16-bit big-endian words,
 * complemented. IPv4 headers, ICMP messages and TCP/UDP segments (with a pseudo-header,
 * RFC 9293 3.1 and RFC 8200 8.1) all use it.
 *
 * Sums are kept as plain numbers and folded only when needed: a double holds the sum of 2^21
 * 32-bit words exactly, so the inner loops need no carry handling.
 */

/** Fold a running sum to 16 bits with end-around carries, without complementing it. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) {
    // Division and subtraction rather than `%`, which costs a library call on doubles.
    const high = Math.floor(sum / 0x10000);
    sum = sum - high * 0x10000 + high;
  }
  return sum;
}

/** The sum byte by byte, for short ranges and odd alignments. Not folded. */
function sumBytes(buf: Uint8Array, offset: number, length: number, initial: number): number {
  let sum = initial;
  let i = offset;
  const end = offset + length;
  const end8 = end - 7;

  while (i < end8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
    i += 8;
  }
  while (i + 1 < end) {
    sum += (buf[i] << 8) | buf[i + 1];
    i += 2;
  }
  if (i < end) sum += buf[i] << 8;
  return sum;
}

// Word views over the last two memories summed (a link's RX and TX arenas), so the long-range
// path allocates nothing in steady state.
let wordsBufferA: ArrayBufferLike | undefined;
let wordsA: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let wordsBufferB: ArrayBufferLike | undefined;
let wordsB: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOf(memory: ArrayBufferLike): Uint32Array {
  if (memory === wordsBufferA) return wordsA;
  if (memory === wordsBufferB) return wordsB;
  wordsBufferB = wordsBufferA;
  wordsB = wordsA;
  wordsBufferA = memory;
  wordsA = new Uint32Array(memory, 0, memory.byteLength >>> 2);
  return wordsA;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * One's-complement running sum of the 16-bit big-endian words of `length` bytes at `offset`,
 * added to `initial`; an odd last byte is padded with a zero byte (RFC 1071 4.1). The result is
 * folded to 16 bits, so it can be passed on as `initial` of a further call.
 */
export function sumWords(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let address = buf.byteOffset + offset;
  if (length < 64 || (address & 1) !== 0) return foldSum(sumBytes(buf, offset, length, initial));

  // Long ranges are summed four bytes at a time in machine order. On a little-endian machine
  // the sum comes out with its bytes swapped, which one swap of the folded result undoes
  // (RFC 1071 2(B): the sum does not depend on byte order).
  let sum = initial;
  let start = offset;
  if ((address & 2) !== 0) {
    sum += (buf[start] << 8) | buf[start + 1];
    start += 2;
    address += 2;
  }
  const words = wordsOf(buf.buffer);
  const count = (offset + length - start) >>> 2;
  let j = address >>> 2;
  const end = j + count;
  const end4 = end - 3;
  let swapped = 0;
  while (j < end4) {
    swapped += words[j] + words[j + 1] + words[j + 2] + words[j + 3];
    j += 4;
  }
  while (j < end) swapped += words[j++];
  swapped = foldSum(swapped);
  sum += LITTLE_ENDIAN ? ((swapped & 0xff) << 8) | (swapped >>> 8) : swapped;

  const tail = start + count * 4;
  return foldSum(sumBytes(buf, tail, offset + length - tail, sum));
}

/** Fold to 16 bits and complement: the value to put in a checksum field. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** The checksum over `length` bytes at `offset`, ready for the checksum field. */
export function checksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return finishChecksum(sumWords(buf, offset, length, initial));
}

/**
 * Sum of the TCP/UDP pseudo-header. Addresses are read as bytes: 4 each for family 4
 * (RFC 9293 3.1: source, destination, zero, protocol, TCP length), 16 each for family 6
 * (RFC 8200 8.1: source, destination, 32-bit upper-layer length, zeros, next header).
 */
export function pseudoHeaderSum(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  family: 4 | 6,
  protocol: number,
  length: number,
): number {
  const addressLength = family === 4 ? 4 : 16;
  let sum = sumWords(src, srcOffset, addressLength);
  sum = sumWords(dst, dstOffset, addressLength, sum);
  if (family === 4) return foldSum(sum + (protocol & 0xff) + (length & 0xffff));
  return foldSum(sum + (protocol & 0xff) + Math.floor(length / 0x10000) + (length & 0xffff));
}

/** The IPv4 pseudo-header sum with addresses as unsigned 32-bit numbers (as in IPv4 records). */
export function ipv4PseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
): number {
  return foldSum(
    (src >>> 16) +
      (src & 0xffff) +
      (dst >>> 16) +
      (dst & 0xffff) +
      (protocol & 0xff) +
      (length & 0xffff),
  );
}
