#include "checksum.h"

#include <cstring>

namespace utcp {

namespace {

constexpr uint32_t kEthernetHeader = 14;
constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;

uint64_t Add(const uint8_t* p, size_t n, uint64_t sum) {
  // Four independent sums of 32-bit halves let the loads overlap; none can overflow 64 bits
  // for any frame a link carries.
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  while (n >= 32) {
    uint64_t a, b, c, d;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    std::memcpy(&c, p + 16, 8);
    std::memcpy(&d, p + 24, 8);
    s0 += (a & 0xffffffff) + (a >> 32);
    s1 += (b & 0xffffffff) + (b >> 32);
    s2 += (c & 0xffffffff) + (c >> 32);
    s3 += (d & 0xffffffff) + (d >> 32);
    p += 32;
    n -= 32;
  }
  sum += s0 + s1 + s2 + s3;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    sum += (w & 0xffffffff) + (w >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // The odd byte is padded with a zero byte after it (RFC 1071 4.1).
    uint8_t pad[2] = {p[0], 0};
    uint16_t w;
    std::memcpy(&w, pad, 2);
    sum += w;
  }
  return sum;
}

uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

struct Ipv4 {
  const uint8_t* header;
  uint32_t headerLength;
  uint32_t payloadLength;
  uint8_t protocol;
};

// Checks what both directions need: Ethernet II carrying IPv4, lengths that agree with the
// frame, no fragmentation (a fragment's transport checksum covers other frames too).
bool Parse(const uint8_t* frame, uint32_t length, Ipv4* out) {
  if (length < kEthernetHeader + 20) return false;
  if (frame[12] != 0x08 || frame[13] != 0x00) return false;
  const uint8_t* ip = frame + kEthernetHeader;
  if ((ip[0] >> 4) != 4) return false;
  uint32_t headerLength = (ip[0] & 0x0f) * 4u;
  uint32_t totalLength = (uint32_t{ip[2]} << 8) | ip[3];
  if (headerLength < 20 || totalLength < headerLength) return false;
  if (kEthernetHeader + totalLength > length) return false;
  // More-fragments flag or a fragment offset (RFC 791 3.1).
  if ((((uint32_t{ip[6]} << 8) | ip[7]) & 0x3fff) != 0) return false;
  out->header = ip;
  out->headerLength = headerLength;
  out->payloadLength = totalLength - headerLength;
  out->protocol = ip[9];
  return true;
}

// Sum of the TCP/UDP pseudo-header (RFC 9293 3.1): addresses, zero, protocol, length.
uint64_t PseudoHeader(const Ipv4& ip) {
  uint64_t sum = Add(ip.header + 12, 8, 0);
  uint8_t rest[4] = {0, ip.protocol, static_cast<uint8_t>(ip.payloadLength >> 8),
                     static_cast<uint8_t>(ip.payloadLength)};
  return Add(rest, 4, sum);
}

// Offset of the checksum field in the transport header, or 0 for protocols not handled.
uint32_t ChecksumAt(uint8_t protocol, uint32_t payloadLength) {
  switch (protocol) {
    case kTcp: return payloadLength >= 20 ? 16 : 0;
    case kUdp: return payloadLength >= 8 ? 6 : 0;
    case kIcmp: return payloadLength >= 4 ? 2 : 0;
    default: return 0;
  }
}

}  // namespace

bool VerifyIpv4Frame(const uint8_t* frame, uint32_t length) {
  Ipv4 ip;
  if (!Parse(frame, length, &ip)) return false;
  if (Fold(Add(ip.header, ip.headerLength, 0)) != 0xffff) return false;
  uint32_t at = ChecksumAt(ip.protocol, ip.payloadLength);
  if (at == 0) return false;
  const uint8_t* payload = ip.header + ip.headerLength;
  // A UDP checksum of zero means the sender computed none (RFC 768).
  if (ip.protocol == kUdp && payload[6] == 0 && payload[7] == 0) return true;
  uint64_t sum = ip.protocol == kIcmp ? 0 : PseudoHeader(ip);
  return Fold(Add(payload, ip.payloadLength, sum)) == 0xffff;
}

bool FillIpv4Frame(uint8_t* frame, uint32_t length) {
  Ipv4 ip;
  if (!Parse(frame, length, &ip)) return false;
  auto* header = const_cast<uint8_t*>(ip.header);
  header[10] = header[11] = 0;
  uint16_t check = static_cast<uint16_t>(~Fold(Add(header, ip.headerLength, 0)));
  std::memcpy(header + 10, &check, 2);
  uint32_t at = ChecksumAt(ip.protocol, ip.payloadLength);
  if (at == 0) return true;
  uint8_t* payload = header + ip.headerLength;
  payload[at] = payload[at + 1] = 0;
  uint64_t sum = ip.protocol == kIcmp ? 0 : PseudoHeader(ip);
  check = static_cast<uint16_t>(~Fold(Add(payload, ip.payloadLength, sum)));
  // UDP sends an all-ones checksum for a computed zero, as zero means "none" (RFC 768).
  if (check == 0 && ip.protocol == kUdp) check = 0xffff;
  std::memcpy(payload + at, &check, 2);
  return true;
}

}  // namespace utcp
