/**
 * ICMP (RFC 792) for the host: echo replies, destination-unreachable for protocols and ports
 * nobody serves (RFC 1122 3.2.2.1), rate-limited (RFC 1812 4.3.2.8), and the errors that
 * arrive about our own datagrams, handed to the transport they quote (RFC 5927).
 */
import { read16 } from '../wire/bytes.js';
import { checksum } from '../wire/checksum.js';
import {
  ICMP_DESTINATION_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LENGTH,
  ICMP_TIME_EXCEEDED,
  UNREACHABLE_FRAGMENTATION_NEEDED,
  writeIcmpEcho,
  writeIcmpError,
} from '../wire/icmp.js';
import { parseQuotedIpv4, Ipv4Header, PROTOCOL_ICMP } from '../wire/ipv4.js';
import type { RouteError, Stack } from './stack.js';

export class Icmp {
  /** Echo replies, with their data valid only during the call; unsolicited ones are dropped. */
  onEchoReply:
    ((source: number, id: number, sequence: number, data: Uint8Array) => void) | undefined;
  private tokens: number;
  /** Reused for every quoted header: parsing allocates nothing. */
  private readonly quotedHeader = new Ipv4Header();
  private refilledAt: number;

  constructor(
    private readonly stack: Stack,
    /** ICMP errors sent per second at most. */
    private readonly errorsPerSecond: number,
  ) {
    this.tokens = errorsPerSecond;
    this.refilledAt = stack.clock.now();
  }

  input(source: number, buf: Uint8Array, offset: number, length: number, now: number): void {
    this.stack.counters.icmpInMsgs++;
    if (length < ICMP_HEADER_LENGTH || checksum(buf, offset, length) !== 0) {
      this.stack.counters.icmpInErrors++;
      this.stack.counters.drop(
        length < ICMP_HEADER_LENGTH ? 'icmp-truncated' : 'icmp-bad-checksum',
      );
      return;
    }
    const type = buf[offset];
    const code = buf[offset + 1];
    switch (type) {
      case ICMP_ECHO_REQUEST:
        this.stack.counters.icmpInEchos++;
        this.sendEchoReply(source, buf, offset, length);
        return;
      case ICMP_ECHO_REPLY:
        this.stack.counters.icmpInEchoReps++;
        if (this.onEchoReply === undefined || length < ICMP_HEADER_LENGTH) {
          this.stack.counters.drop('icmp-echo-reply-unsolicited');
          return;
        }
        this.onEchoReply(
          source,
          read16(buf, offset + 4),
          read16(buf, offset + 6),
          buf.subarray(offset + ICMP_HEADER_LENGTH, offset + length),
        );
        return;
      case ICMP_DESTINATION_UNREACHABLE:
      case ICMP_TIME_EXCEEDED:
        if (type === ICMP_DESTINATION_UNREACHABLE) this.stack.counters.icmpInDestUnreachs++;
        else this.stack.counters.icmpInTimeExcds++;
        this.errorIn(type, code, buf, offset, length, now);
        return;
      default:
        this.stack.counters.drop('icmp-unhandled-type', String(type));
    }
  }

  // RFC 792 / RFC 1122 3.2.2: the error quotes our IP header and at least 8 bytes beyond.
  private errorIn(
    type: number,
    code: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    now: number,
  ): void {
    const quoted = offset + ICMP_HEADER_LENGTH;
    const quotedLength = length - ICMP_HEADER_LENGTH;
    const header = this.quotedHeader;
    const reason = parseQuotedIpv4(buf, quoted, quotedLength, header);
    if (reason !== undefined) {
      // RFC 791 3.1: IHL is at least 5 words; below that the quote is no header of ours.
      const ihl = buf[quoted] & 0x0f;
      if (reason === 'ipv4-bad-header-length' && ihl < 5) {
        this.stack.counters.drop('icmp-error-bad-quoted-header', `IHL ${ihl}`);
      } else {
        this.stack.counters.drop('icmp-error-truncated-quote', reason);
      }
      return;
    }
    const headerLength = header.headerLength;
    const quotedSource = header.src;
    const quotedDestination = header.dst;
    if (quotedSource !== this.stack.address) {
      this.stack.counters.drop('icmp-error-not-ours');
      return;
    }
    const fragmentationNeeded =
      type === ICMP_DESTINATION_UNREACHABLE && code === UNREACHABLE_FRAGMENTATION_NEEDED;
    // RFC 1191 4: the next-hop MTU sits in the low 16 bits of the second word.
    const mtu = fragmentationNeeded ? read16(buf, offset + 6) : 0;
    const transport = this.stack.transport(header.protocol);
    if (transport === undefined) {
      this.stack.counters.drop('icmp-error-unknown-protocol');
      return;
    }
    const start = quoted + headerLength;
    const adopted = transport.icmpError(
      type,
      code,
      mtu,
      quotedSource,
      quotedDestination,
      buf.subarray(start, quoted + quotedLength),
      now,
    );
    // Learnt only when the transport believed the error (a spoofed one quoting nothing in
    // flight changes nothing), and as the transport adopted it, floor included.
    if (fragmentationNeeded && adopted > 0)
      this.stack.learnPathMtu(quotedDestination, adopted, now);
  }

  private sendEchoReply(
    destination: number,
    buf: Uint8Array,
    offset: number,
    length: number,
  ): void {
    const error = this.stack.sendIPv4(destination, PROTOCOL_ICMP, length, (out, at) => {
      out.set(buf.subarray(offset + ICMP_HEADER_LENGTH, offset + length), at + ICMP_HEADER_LENGTH);
      writeIcmpEcho(
        out,
        at,
        ICMP_ECHO_REPLY,
        read16(buf, offset + 4),
        read16(buf, offset + 6),
        length - ICMP_HEADER_LENGTH,
        buf[offset + 1],
      );
    });
    if (error === undefined) {
      this.stack.counters.icmpOutMsgs++;
      this.stack.counters.icmpOutEchoReps++;
    } else {
      this.stack.counters.icmpOutErrors++;
    }
  }

  /** Sends an ICMP echo request (RFC 792); replies go to `onEchoReply`. */
  sendEcho(
    destination: number,
    id: number,
    sequence: number,
    data: Uint8Array,
  ): RouteError | undefined {
    const length = ICMP_HEADER_LENGTH + data.length;
    const error = this.stack.sendIPv4(destination, PROTOCOL_ICMP, length, (out, at) => {
      out.set(data, at + ICMP_HEADER_LENGTH);
      writeIcmpEcho(out, at, ICMP_ECHO_REQUEST, id, sequence, data.length);
    });
    if (error === undefined) {
      this.stack.counters.icmpOutMsgs++;
      this.stack.counters.icmpOutEchos++;
    } else {
      this.stack.counters.icmpOutErrors++;
    }
    return error;
  }

  /** Sends destination-unreachable quoting the offending datagram's header and 8 bytes. */
  sendUnreachable(
    code: number,
    destination: number,
    buf: Uint8Array,
    offset: number,
    length: number,
  ): void {
    if (!this.takeToken()) {
      this.stack.counters.drop('icmp-rate-limited');
      return;
    }
    const headerLength = (buf[offset] & 0x0f) * 4;
    const quoteLength = Math.min(length, headerLength + 8);
    const error = this.stack.sendIPv4(
      destination,
      PROTOCOL_ICMP,
      ICMP_HEADER_LENGTH + quoteLength,
      (out, at) => {
        writeIcmpError(out, at, ICMP_DESTINATION_UNREACHABLE, code, 0, buf, offset, quoteLength);
      },
    );
    if (error === undefined) {
      this.stack.counters.icmpOutMsgs++;
      this.stack.counters.icmpOutDestUnreachs++;
    } else {
      this.stack.counters.icmpOutErrors++;
    }
  }

  private takeToken(): boolean {
    const now = this.stack.clock.now();
    const refill = Math.floor(((now - this.refilledAt) * this.errorsPerSecond) / 1_000_000);
    if (refill > 0) {
      this.tokens = Math.min(this.errorsPerSecond, this.tokens + refill);
      this.refilledAt = now;
    }
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }
}
