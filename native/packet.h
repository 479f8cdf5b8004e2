// AF_PACKET link: a TPACKET_V3 receive ring and a transmit ring, mapped once and lent to
// JavaScript as the link's memory (kernel documentation, Documentation/networking/packet_mmap).
#pragma once

#include <napi.h>

namespace utcp {

void InitPacket(Napi::Env env, Napi::Object exports);

}  // namespace utcp
