/**
 * The contract every link implements: in-memory pairs, AF_XDP, AF_PACKET and the impairment
 * wrapper. Frames live in one byte arena per link (`memory`); a frame is named by its offset
 * and length in that arena, never by an object, so a burst moves no allocation.
 *
 * Receive: `rxBurst(max)` writes up to `max` descriptors into `rxDescriptors`, three words
 * each (offset, length, flags), and returns how many. Those frames stay valid until the next
 * `rxBurst` call or `rxRelease()`, whichever comes first; then the link may reuse them.
 *
 * Transmit: `txAlloc(n)` reserves up to `n` free frame buffers and writes, for each, its
 * offset and capacity into `txDescriptors` (three words each: offset, length, flags; length
 * holds the capacity on return). The caller writes each frame at `memory[offset ...]`, sets
 * its length in the descriptor, and `txSubmit(k)` sends the first `k` as one burst. Reserved
 * buffers past `k` go back to the link. Each offset already leaves `headroom` bytes before it.
 *
 * A submitted frame is sent only if it is at least 14 bytes (an Ethernet header), at most
 * `mtu + 18` (header plus one 802.1Q tag), and lies inside its buffer (the offset may move back
 * into the headroom); any other is not sent and is counted in `stats().drops`. `txSubmit`
 * returns how many were sent.
 */
export interface Link {
  readonly name: string;
  /** Largest IP packet the link carries (Ethernet payload), in bytes. */
  readonly mtu: number;
  /** Six bytes. */
  readonly mac: Uint8Array;
  /** The arena every frame of this link lives in. */
  readonly memory: Uint8Array;
  /** Size of one frame buffer in `memory`. */
  readonly frameSize: number;
  /** Bytes free before each TX offset, for headers a wrapper may prepend. */
  readonly headroom: number;
  /** Receive descriptors: offset, length, flags per frame. */
  readonly rxDescriptors: Uint32Array;
  /** Transmit descriptors: offset, length (capacity on alloc), flags per frame. */
  readonly txDescriptors: Uint32Array;
  /** Largest burst either direction takes. */
  readonly burstSize: number;
  /**
   * Whether `txSubmit` honours TX_FLAG_FILL_CHECKSUMS (IPv4 header and TCP, UDP or ICMP
   * checksums written in the burst call); absent means it does not.
   */
  readonly fillsChecksums?: boolean;

  rxBurst(max: number): number;
  rxRelease(): void;
  txAlloc(count: number): number;
  txSubmit(count: number): number;
  /** Called when frames may be waiting; `null` removes it. Never spins. */
  onReadable(callback: (() => void) | null): void;
  setSteering(steering: Steering): void;
  stats(): LinkStats;
  close(): Promise<void>;
}

/** Receive descriptor flags. */
export const RX_FLAG_CHECKSUM_VERIFIED = 1;
/** Transmit descriptor flags. */
export const TX_FLAG_FILL_CHECKSUMS = 1;

export type Steering =
  /** The link takes every frame arriving on the interface. */
  | { mode: 'all' }
  /** Only frames for these IPv4 addresses, and ARP for them; the rest go to the kernel. */
  | { mode: 'addresses'; ipv4: readonly string[] };

export interface LinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames lost before the stack saw them (ring full, no buffer), by reason. */
  drops: Record<string, number>;
  /** Anything link-specific (bind mode, queue, wake-ups). */
  [extra: string]: number | string | Record<string, number>;
}

export const DESCRIPTOR_WORDS = 3;
