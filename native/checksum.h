// Internet checksums of IPv4 frames, computed inside the burst calls (RFC 1071, RFC 791,
// RFC 9293 3.1, RFC 768, RFC 792). Sums run over native-order words and are folded at the
// end; RFC 1071 section 2(B) shows the result is the same bytes in either order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace utcp {

// True when the frame is an unfragmented IPv4 packet (Ethernet II) whose header checksum and
// TCP, UDP or ICMP checksum are both correct. False for anything else, including frames the
// stack must look at itself (fragments, other protocols, bad checksums).
bool VerifyIpv4Frame(const uint8_t* frame, uint32_t length);

// Writes the IPv4 header checksum and the TCP, UDP or ICMP checksum of an Ethernet II frame.
// Returns false (frame unchanged) when the frame is not a well-formed unfragmented IPv4 packet.
bool FillIpv4Frame(uint8_t* frame, uint32_t length);

}  // namespace utcp
