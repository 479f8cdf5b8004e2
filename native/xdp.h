// AF_XDP: the steering program of one interface and the sockets, one per (interface, queue),
// that share a UMEM living in JavaScript memory.
#pragma once

#include <napi.h>

#include <linux/if_xdp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sys.h"

namespace utcp {

void InitXdp(Napi::Env env, Napi::Object exports);

// A single-producer or single-consumer view of one mmapped ring (kernel documentation,
// Documentation/networking/af_xdp.rst, "Rings").
struct XdpRing {
  uint32_t* producer = nullptr;
  uint32_t* consumer = nullptr;
  uint32_t* flags = nullptr;
  void* entries = nullptr;
  uint32_t size = 0;
  uint32_t mask = 0;
  void* map = nullptr;
  size_t mapLength = 0;

  bool NeedsWakeup() const {
    return (__atomic_load_n(flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP) != 0;
  }
  // Entries the consumer may take now.
  uint32_t Available() const {
    return __atomic_load_n(producer, __ATOMIC_ACQUIRE) - *consumer;
  }
  // Entries the producer may fill now.
  uint32_t Free() const {
    return size - (*producer - __atomic_load_n(consumer, __ATOMIC_ACQUIRE));
  }
  void Produce(uint32_t count) { __atomic_store_n(producer, *producer + count, __ATOMIC_RELEASE); }
  void Consume(uint32_t count) { __atomic_store_n(consumer, *consumer + count, __ATOMIC_RELEASE); }
  uint64_t* Addresses() const { return static_cast<uint64_t*>(entries); }
  struct xdp_desc* Descriptors() const { return static_cast<struct xdp_desc*>(entries); }
};

// Counters kept by the burst calls, readable by `stats()`.
struct XdpCounters {
  double rxFrames = 0, rxBytes = 0, txFrames = 0, txBytes = 0;
  double txBadDescriptor = 0, rxWakeups = 0, txWakeups = 0, txRingFull = 0;
};

// The ring logic without N-API, so the addon's burst calls and the benchmark's C loop run the
// very same code on the same rings.
class XdpQueue {
 public:
  ~XdpQueue();
  // Descriptors are three words each: offset in the UMEM, length, flags.
  uint32_t RxBurst(uint32_t* out, uint32_t max);
  void RxRelease();
  uint32_t TxAlloc(uint32_t* out, uint32_t count);
  uint32_t TxSubmit(const uint32_t* in, uint32_t count);
  void Close();

  int fd = -1;
  bool busyPoll = false;
  // Verify IPv4/TCP/UDP/ICMP checksums of received frames and flag the good ones.
  bool verifyChecksums = true;
  uint8_t* umem = nullptr;
  uint32_t frameSize = 0;
  uint32_t headroom = 0;
  uint32_t maxFrameLength = 0;
  uint32_t burstSize = 0;
  XdpRing fill, completion, rx, tx;
  std::vector<uint64_t> held;      // RX frames lent to the caller
  uint32_t heldCount = 0;
  std::vector<uint64_t> txFree;    // TX frames owned by user space and unused
  uint32_t txFreeCount = 0;
  std::vector<uint64_t> reserved;  // TX frames handed out by TxAlloc
  uint32_t reservedCount = 0;
  XdpCounters counters;

 private:
  void ReapCompletions();
  void KickTx();
};

}  // namespace utcp
