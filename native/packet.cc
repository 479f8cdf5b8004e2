#include "packet.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "checksum.h"
#include "sys.h"

namespace utcp {

namespace {

constexpr const char* kCapSocket = "CAP_NET_RAW";
// Frame to send starts here in its TX ring slot; the slot's header takes the first bytes.
constexpr uint32_t kTxDataAt = 256;
constexpr uint32_t kTxHeaderRoom = 64;
// An Ethernet header is the least a frame holds.
constexpr uint32_t kMinFrame = 14;

struct PacketCounters {
  double rxFrames = 0, rxBytes = 0, txFrames = 0, txBytes = 0, txBadDescriptor = 0;
  double txSendErrors = 0;
};

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PacketSocket",
                       {InstanceMethod("rxBurst", &PacketSocket::RxBurst),
                        InstanceMethod("rxRelease", &PacketSocket::RxRelease),
                        InstanceMethod("txAlloc", &PacketSocket::TxAlloc),
                        InstanceMethod("txSubmit", &PacketSocket::TxSubmit),
                        InstanceMethod("onReadable", &PacketSocket::OnReadable),
                        InstanceMethod("setFilter", &PacketSocket::SetFilter),
                        InstanceMethod("stats", &PacketSocket::Stats),
                        InstanceMethod("close", &PacketSocket::Close),
                        InstanceAccessor("memory", &PacketSocket::Memory, nullptr),
                        InstanceAccessor("headroom", &PacketSocket::Headroom, nullptr)});
  }

  // new PacketSocket({ netns, ifname, blockSize, blockCount, frameSize, txFrames,
  //   rxDescriptors, txDescriptors })
  explicit PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
    Napi::Env env = info.Env();
    if (!CheckOptions(env, info[0],
                      {{"netns", 's'}, {"ifname", 's'}, {"blockSize", 'n'}, {"blockCount", 'n'},
                       {"frameSize", 'n'}, {"txFrames", 'n'}, {"rxDescriptors", 'u'},
                       {"txDescriptors", 'u'}, {"maxFrameLength", 'n'}})) {
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string netns = o.Get("netns").As<Napi::String>().Utf8Value();
    std::string ifname = o.Get("ifname").As<Napi::String>().Utf8Value();
    blockSize_ = o.Get("blockSize").As<Napi::Number>().Uint32Value();
    blockCount_ = o.Get("blockCount").As<Napi::Number>().Uint32Value();
    txFrameSize_ = o.Get("frameSize").As<Napi::Number>().Uint32Value();
    txFrameCount_ = o.Get("txFrames").As<Napi::Number>().Uint32Value();
    Napi::Uint32Array rxDescriptors = o.Get("rxDescriptors").As<Napi::Uint32Array>();
    Napi::Uint32Array txDescriptors = o.Get("txDescriptors").As<Napi::Uint32Array>();
    verifyChecksums_ = o.Get("verifyChecksums").ToBoolean().Value();
    maxFrameLength_ = o.Get("maxFrameLength").As<Napi::Number>().Uint32Value();
    rxRef_ = Napi::Persistent(rxDescriptors);
    txRef_ = Napi::Persistent(txDescriptors);
    rxOut_ = rxDescriptors.Data();
    txIn_ = txDescriptors.Data();
    burstSize_ = static_cast<uint32_t>(
        std::min(rxDescriptors.ElementLength(), txDescriptors.ElementLength()) / 3);
    long page = sysconf(_SC_PAGESIZE);
    if (blockSize_ == 0 || blockSize_ % page != 0 || blockCount_ == 0 || txFrameCount_ == 0 ||
        txFrameSize_ % page != 0 || txFrameSize_ <= kTxDataAt || txFrameSize_ > 65536 ||
        burstSize_ == 0) {
      ThrowErrno(env, EINVAL, "ring layout (page multiples)", nullptr);
      return;
    }

    NetnsScope scope(netns);
    if (scope.error() != 0) {
      ThrowErrno(env, scope.error(), "setns " + netns, "CAP_SYS_ADMIN");
      return;
    }
    int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (ifindex == 0) {
      ThrowErrno(env, ENODEV, "interface " + ifname, nullptr);
      return;
    }
    // Protocol 0 receives nothing until bind names the interface and ETH_P_ALL.
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      ThrowErrno(env, errno, "socket(AF_PACKET)", kCapSocket);
      return;
    }
    int version = TPACKET_V3, one = 1;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
      {
      Fail(env, errno, "setsockopt(PACKET_VERSION)");
      return;
    }
    }
    // Our own frames are not received back; bad frames to send are skipped, not fatal.
    setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    setsockopt(fd_, SOL_PACKET, PACKET_LOSS, &one, sizeof one);
    setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    if (setsockopt(fd_, SOL_PACKET, PACKET_TX_HAS_OFF, &one, sizeof one) != 0) {
      {
      Fail(env, errno, "setsockopt(PACKET_TX_HAS_OFF)");
      return;
    }
    }

    struct tpacket_req3 rx;
    std::memset(&rx, 0, sizeof rx);
    rx.tp_block_size = blockSize_;
    rx.tp_block_nr = blockCount_;
    rx.tp_frame_size = 2048;
    rx.tp_frame_nr = blockSize_ / 2048 * blockCount_;
    // A block reaches user space when full or after this many milliseconds.
    rx.tp_retire_blk_tov = 1;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) != 0) {
      {
      Fail(env, errno, "setsockopt(PACKET_RX_RING)");
      return;
    }
    }
    struct tpacket_req3 tx;
    std::memset(&tx, 0, sizeof tx);
    tx.tp_block_size = txFrameSize_;
    tx.tp_block_nr = txFrameCount_;
    tx.tp_frame_size = txFrameSize_;
    tx.tp_frame_nr = txFrameCount_;
    if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) != 0) {
      {
      Fail(env, errno, "setsockopt(PACKET_TX_RING)");
      return;
    }
    }
    rxLength_ = size_t{blockSize_} * blockCount_;
    mapLength_ = rxLength_ + size_t{txFrameSize_} * txFrameCount_;
    void* map =
        mmap(nullptr, mapLength_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (map == MAP_FAILED) {
      Fail(env, errno, "mmap(PACKET rings)");
      return;
    }
    map_ = static_cast<uint8_t*>(map);

    struct sockaddr_ll address;
    std::memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = ifindex;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      {
      Fail(env, errno, "bind(AF_PACKET " + ifname + ")");
      return;
    }
    }
    held_.reserve(blockCount_);
    watch_ = std::make_unique<ReadableWatch>(env, fd_);

    // JavaScript sees the rings as the link's memory. On close the rings are swapped for
    // anonymous pages, so a view kept past close reads zeros instead of faulting.
    memory_ = Napi::Persistent(Napi::ArrayBuffer::New(
        env, map_, mapLength_,
        [](Napi::Env, void* data, size_t* length) {
          munmap(data, *length);
          delete length;
        },
        new size_t(mapLength_)));
  }

  ~PacketSocket() override { Release(); }

 private:
  void Fail(Napi::Env env, int err, const std::string& what) {
    Release();
    ThrowErrno(env, err, what, kCapSocket);
  }

  void Release() {
    watch_.reset();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (map_ != nullptr && memory_.IsEmpty()) munmap(map_, mapLength_);
    if (map_ != nullptr && !memory_.IsEmpty()) {
      mmap(map_, mapLength_, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
           -1, 0);
    }
    map_ = nullptr;
  }

  struct tpacket_block_desc* Block(uint32_t index) const {
    return reinterpret_cast<struct tpacket_block_desc*>(map_ + size_t{index} * blockSize_);
  }
  struct tpacket3_hdr* TxSlot(uint32_t index) const {
    return reinterpret_cast<struct tpacket3_hdr*>(map_ + rxLength_ +
                                                  size_t{index} * txFrameSize_);
  }

  // Blocks whose every frame was lent out go back to the kernel.
  void ReleaseBlocks() {
    for (uint32_t index : held_) {
      __atomic_store_n(&Block(index)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    }
    held_.clear();
  }

  Napi::Value RxBurst(const Napi::CallbackInfo& info) {
    uint32_t max = info[0].As<Napi::Number>().Uint32Value();
    if (map_ == nullptr) return Napi::Number::New(info.Env(), 0);
    ReleaseBlocks();
    if (max > burstSize_) max = burstSize_;
    uint32_t n = 0;
    uint64_t bytes = 0;
    while (n < max) {
      if (remaining_ == 0) {
        struct tpacket_block_desc* block = Block(block_);
        if ((__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) ==
            0) {
          break;
        }
        remaining_ = block->hdr.bh1.num_pkts;
        next_ = reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt;
        if (remaining_ == 0) {
          held_.push_back(block_);
          block_ = (block_ + 1) % blockCount_;
          continue;
        }
      }
      auto* frame = reinterpret_cast<struct tpacket3_hdr*>(next_);
      rxOut_[3 * n] = static_cast<uint32_t>(next_ - map_) + frame->tp_mac;
      rxOut_[3 * n + 1] = frame->tp_snaplen;
      uint8_t* data = next_ + frame->tp_mac;
      rxOut_[3 * n + 2] = verifyChecksums_ && VerifyIpv4Frame(data, frame->tp_snaplen) ? 1 : 0;
      bytes += frame->tp_snaplen;
      n++;
      if (--remaining_ == 0) {
        held_.push_back(block_);
        block_ = (block_ + 1) % blockCount_;
      } else {
        next_ += frame->tp_next_offset;
      }
    }
    counters_.rxFrames += n;
    counters_.rxBytes += static_cast<double>(bytes);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value RxRelease(const Napi::CallbackInfo& info) {
    if (map_ != nullptr) ReleaseBlocks();
    return info.Env().Undefined();
  }

  Napi::Value TxAlloc(const Napi::CallbackInfo& info) {
    uint32_t count = info[0].As<Napi::Number>().Uint32Value();
    if (map_ == nullptr) return Napi::Number::New(info.Env(), 0);
    if (count > burstSize_) count = burstSize_;
    // Slots are used in ring order, as the kernel sends them in ring order.
    uint32_t n = 0;
    while (n < count) {
      uint32_t slot = (txNext_ + n) % txFrameCount_;
      if (__atomic_load_n(&TxSlot(slot)->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
        break;
      }
      uint32_t at = static_cast<uint32_t>(rxLength_ + size_t{slot} * txFrameSize_);
      txIn_[3 * n] = at + kTxDataAt;
      txIn_[3 * n + 1] = txFrameSize_ - kTxDataAt;
      txIn_[3 * n + 2] = 0;
      n++;
    }
    reserved_ = n;
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value TxSubmit(const Napi::CallbackInfo& info) {
    uint32_t count = info[0].As<Napi::Number>().Uint32Value();
    if (map_ == nullptr) return Napi::Number::New(info.Env(), 0);
    if (count > reserved_) count = reserved_;
    uint32_t sent = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
      uint32_t slot = (txNext_ + i) % txFrameCount_;
      size_t start = rxLength_ + size_t{slot} * txFrameSize_;
      size_t offset = txIn_[3 * i];
      uint32_t length = txIn_[3 * i + 1];
      if (offset < start + kTxHeaderRoom || offset + length > start + txFrameSize_ ||
          length < kMinFrame || length > maxFrameLength_) {
        counters_.txBadDescriptor++;
        continue;
      }
      if (txIn_[3 * i + 2] & 1) FillIpv4Frame(map_ + offset, length);
      // The kernel sends slots in ring order and stops at the first one not requested, so a
      // refused frame leaves no hole: later frames move down a slot (a copy only on this
      // error path).
      uint32_t target = (txNext_ + sent) % txFrameCount_;
      size_t targetStart = rxLength_ + size_t{target} * txFrameSize_;
      if (target != slot) {
        std::memmove(map_ + targetStart + (offset - start), map_ + offset, length);
      }
      struct tpacket3_hdr* header = TxSlot(target);
      header->tp_len = length;
      header->tp_snaplen = length;
      header->tp_mac = static_cast<uint16_t>(offset - start);
      header->tp_next_offset = 0;
      __atomic_store_n(&header->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
      bytes += length;
      sent++;
    }
    txNext_ = (txNext_ + sent) % txFrameCount_;
    reserved_ = 0;
    if (sent > 0 && sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && errno != EAGAIN) {
      counters_.txSendErrors++;
    }
    counters_.txFrames += sent;
    counters_.txBytes += static_cast<double>(bytes);
    return Napi::Number::New(info.Env(), sent);
  }

  Napi::Value OnReadable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!watch_) return env.Undefined();
    if (info[0].IsFunction()) {
      if (!watch_->Start(info[0].As<Napi::Function>(), info.This().As<Napi::Object>())) {
        ThrowErrno(env, EIO, "uv_poll_start", nullptr);
      }
    } else {
      watch_->Stop();
    }
    return env.Undefined();
  }

  // setFilter(program: Uint8Array of struct sock_filter | null): classic BPF on the socket.
  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return env.Undefined();
    int r;
    if (info[0].IsTypedArray() &&
        info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array code = info[0].As<Napi::Uint8Array>();
      struct sock_fprog program;
      program.len = static_cast<unsigned short>(code.ByteLength() / sizeof(struct sock_filter));
      program.filter = reinterpret_cast<struct sock_filter*>(code.Data());
      r = setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
    } else {
      int unused = 0;
      r = setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
      if (r != 0 && errno == ENOENT) r = 0;
    }
    if (r != 0) ThrowErrno(env, errno, "setsockopt(SO_ATTACH_FILTER)", "CAP_NET_RAW");
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    s.Set("rxFrames", counters_.rxFrames);
    s.Set("rxBytes", counters_.rxBytes);
    s.Set("txFrames", counters_.txFrames);
    s.Set("txBytes", counters_.txBytes);
    s.Set("txBadDescriptor", counters_.txBadDescriptor);
    s.Set("txSendErrors", counters_.txSendErrors);
    struct tpacket_stats_v3 k;
    socklen_t length = sizeof k;
    // Reading the kernel counters resets them, so they are accumulated here.
    if (fd_ >= 0 && getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &k, &length) == 0) {
      kernelDrops_ += k.tp_drops;
      freezes_ += k.tp_freeze_q_cnt;
    }
    s.Set("rxRingFull", kernelDrops_);
    s.Set("queueFreezes", freezes_);
    return s;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    if (memory_.IsEmpty()) return info.Env().Null();
    return memory_.Value();
  }
  Napi::Value Headroom(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), kTxDataAt - kTxHeaderRoom);
  }

  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t mapLength_ = 0, rxLength_ = 0;
  uint32_t blockSize_ = 0, blockCount_ = 0, txFrameSize_ = 0, txFrameCount_ = 0;
  uint32_t burstSize_ = 0;
  bool verifyChecksums_ = true;
  uint32_t maxFrameLength_ = 0;
  uint32_t block_ = 0, remaining_ = 0;
  uint8_t* next_ = nullptr;
  std::vector<uint32_t> held_;
  uint32_t txNext_ = 0, reserved_ = 0;
  double kernelDrops_ = 0, freezes_ = 0;
  PacketCounters counters_;
  uint32_t* rxOut_ = nullptr;
  uint32_t* txIn_ = nullptr;
  std::unique_ptr<ReadableWatch> watch_;
  Napi::Reference<Napi::ArrayBuffer> memory_;
  Napi::Reference<Napi::Uint32Array> rxRef_, txRef_;
};

}  // namespace

void InitPacket(Napi::Env env, Napi::Object exports) {
  exports.Set("PacketSocket", PacketSocket::Define(env));
}

}  // namespace utcp
