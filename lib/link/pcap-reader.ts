/**
 * Reads classic pcap files (either byte order, microsecond or nanosecond timestamps), for
 * tests and for frames captured elsewhere. It never throws on a damaged file: what cannot be
 * read is reported in `error`, and every whole record before it is returned.
 */
export interface PcapFile {
  linkType: number;
  snapLength: number;
  nanoseconds: boolean;
  records: PcapRecord[];
  /** Why reading stopped early, if it did. */
  error?: 'pcap-too-short' | 'pcap-bad-magic' | 'pcap-truncated-record' | 'pcap-bad-length';
}

export interface PcapRecord {
  /** Microseconds since the epoch (nanosecond files are rounded down). */
  timeUs: number;
  /** The bytes kept, a view into the file's bytes. */
  data: Uint8Array;
  /** The frame's length on the wire, which may exceed `data.length`. */
  originalLength: number;
}

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;

export function readPcap(bytes: Uint8Array): PcapFile {
  const file: PcapFile = { linkType: 0, snapLength: 0, nanoseconds: false, records: [] };
  if (bytes.length < 24) return { ...file, error: 'pcap-too-short' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  const magic = view.getUint32(0, true);
  if (magic === MAGIC_MICROSECONDS || magic === MAGIC_NANOSECONDS) {
    little = true;
  } else {
    const big = view.getUint32(0, false);
    if (big !== MAGIC_MICROSECONDS && big !== MAGIC_NANOSECONDS) {
      return { ...file, error: 'pcap-bad-magic' };
    }
    little = false;
  }
  file.nanoseconds = view.getUint32(0, little) === MAGIC_NANOSECONDS;
  file.snapLength = view.getUint32(16, little);
  // The upper bits of the link type field carry FCS flags (pcap format, section 4).
  file.linkType = view.getUint32(20, little) & 0x0fffffff;

  let at = 24;
  while (at < bytes.length) {
    if (at + 16 > bytes.length) return { ...file, error: 'pcap-truncated-record' };
    const seconds = view.getUint32(at, little);
    const fraction = view.getUint32(at + 4, little);
    const kept = view.getUint32(at + 8, little);
    const originalLength = view.getUint32(at + 12, little);
    if (kept > originalLength && originalLength !== 0) return { ...file, error: 'pcap-bad-length' };
    if (at + 16 + kept > bytes.length) return { ...file, error: 'pcap-truncated-record' };
    const micros = file.nanoseconds ? Math.floor(fraction / 1000) : fraction;
    file.records.push({
      timeUs: seconds * 1e6 + micros,
      data: bytes.subarray(at + 16, at + 16 + kept),
      originalLength,
    });
    at += 16 + kept;
  }
  return file;
}
