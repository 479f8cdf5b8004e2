#include "xdp.h"

#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf.h"
#include "checksum.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace utcp {

namespace {

constexpr const char* kCapSocket = "CAP_NET_RAW";
constexpr const char* kCapBpf = "CAP_BPF (or CAP_SYS_ADMIN)";
constexpr const char* kCapAttach = "CAP_NET_ADMIN";
constexpr const char* kCapNetns = "CAP_SYS_ADMIN to enter the network namespace";
// An Ethernet header is the least a frame holds.
constexpr uint32_t kMinFrame = 14;
// Steering addresses one interface can hold.
constexpr uint32_t kMaxAddresses = 256;

}  // namespace

// ---- ring logic ---------------------------------------------------------------------------

XdpQueue::~XdpQueue() { Close(); }

void XdpQueue::Close() {
  for (XdpRing* ring : {&fill, &completion, &rx, &tx}) {
    if (ring->map != nullptr) munmap(ring->map, ring->mapLength);
    ring->map = nullptr;
  }
  if (fd >= 0) close(fd);
  fd = -1;
}

uint32_t XdpQueue::RxBurst(uint32_t* out, uint32_t max) {
  RxRelease();
  if (max > burstSize) max = burstSize;
  uint32_t n = rx.Available();
  if (n > max) n = max;
  const struct xdp_desc* ring = rx.Descriptors();
  uint32_t at = *rx.consumer;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct xdp_desc& d = ring[(at + i) & rx.mask];
    out[3 * i] = static_cast<uint32_t>(d.addr);
    out[3 * i + 1] = d.len;
    out[3 * i + 2] = verifyChecksums && VerifyIpv4Frame(umem + d.addr, d.len) ? 1 : 0;
    held[i] = d.addr;
    bytes += d.len;
  }
  rx.Consume(n);
  heldCount = n;
  counters.rxFrames += n;
  counters.rxBytes += static_cast<double>(bytes);
  if (n == 0 && (busyPoll || fill.NeedsWakeup())) {
    // af_xdp.rst "XDP_USE_NEED_WAKEUP": a driver that went to sleep is woken by a receive
    // call; in busy-poll mode the same call runs the driver's poll loop in this thread.
    recvfrom(fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    counters.rxWakeups++;
  }
  return n;
}

void XdpQueue::RxRelease() {
  if (heldCount == 0) return;
  // Frames the caller held go back to the fill ring; it always has room for them, as RX
  // frames number no more than the fill ring holds.
  uint64_t* ring = fill.Addresses();
  uint32_t at = *fill.producer;
  const uint64_t chunkMask = ~static_cast<uint64_t>(frameSize - 1);
  for (uint32_t i = 0; i < heldCount; i++) ring[(at + i) & fill.mask] = held[i] & chunkMask;
  fill.Produce(heldCount);
  heldCount = 0;
}

void XdpQueue::ReapCompletions() {
  uint32_t n = completion.Available();
  if (n == 0) return;
  const uint64_t* ring = completion.Addresses();
  uint32_t at = *completion.consumer;
  const uint64_t chunkMask = ~static_cast<uint64_t>(frameSize - 1);
  for (uint32_t i = 0; i < n; i++) {
    txFree[txFreeCount++] = ring[(at + i) & completion.mask] & chunkMask;
  }
  completion.Consume(n);
}

uint32_t XdpQueue::TxAlloc(uint32_t* out, uint32_t count) {
  // Frames reserved earlier and never submitted return first.
  while (reservedCount > 0) txFree[txFreeCount++] = reserved[--reservedCount];
  // Frames a previous kick left in the ring (the device was busy) are pushed on now.
  if (*tx.producer != __atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE)) KickTx();
  ReapCompletions();
  if (count > burstSize) count = burstSize;
  if (count > txFreeCount) count = txFreeCount;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t chunk = txFree[--txFreeCount];
    reserved[i] = chunk;
    out[3 * i] = static_cast<uint32_t>(chunk + headroom);
    out[3 * i + 1] = frameSize - headroom;
    out[3 * i + 2] = 0;
  }
  reservedCount = count;
  return count;
}

uint32_t XdpQueue::TxSubmit(const uint32_t* in, uint32_t count) {
  if (count > reservedCount) count = reservedCount;
  struct xdp_desc* ring = tx.Descriptors();
  uint32_t at = *tx.producer;
  uint32_t sent = 0;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t offset = in[3 * i];
    uint32_t length = in[3 * i + 1];
    uint64_t chunk = reserved[i];
    // A caller may move the start into the headroom, but never out of its own frame.
    if (offset < chunk || offset + length > chunk + frameSize || length < kMinFrame ||
        length > maxFrameLength) {
      txFree[txFreeCount++] = chunk;
      counters.txBadDescriptor++;
      continue;
    }
    if (in[3 * i + 2] & 1) FillIpv4Frame(umem + offset, length);
    struct xdp_desc& d = ring[(at + sent) & tx.mask];
    d.addr = offset;
    d.len = length;
    d.options = 0;
    sent++;
    bytes += length;
  }
  // The TX ring holds as many entries as there are TX frames, so it cannot be full here.
  tx.Produce(sent);
  for (uint32_t i = count; i < reservedCount; i++) txFree[txFreeCount++] = reserved[i];
  reservedCount = 0;
  counters.txFrames += sent;
  counters.txBytes += static_cast<double>(bytes);
  if (sent > 0) KickTx();
  return sent;
}

void XdpQueue::KickTx() {
  if (!busyPoll && !tx.NeedsWakeup()) return;
  // In copy mode each send call moves a bounded batch and answers EAGAIN while frames remain
  // (net/xdp/xsk.c, the generic transmit path); keep calling until the ring drains.
  for (int i = 0; i < 64; i++) {
    counters.txWakeups++;
    if (sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) break;
    if (errno != EAGAIN && errno != EBUSY) break;
    if (*tx.producer == __atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE)) break;
  }
}

// ---- the steering program of one interface ------------------------------------------------

class XdpProgram : public Napi::ObjectWrap<XdpProgram> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "XdpProgram",
                       {InstanceMethod("setSocket", &XdpProgram::SetSocket),
                        InstanceMethod("setSteering", &XdpProgram::SetSteering),
                        InstanceMethod("close", &XdpProgram::Close),
                        InstanceAccessor("attachMode", &XdpProgram::AttachMode, nullptr),
                        InstanceAccessor("ifindex", &XdpProgram::Ifindex, nullptr)});
  }

  // new XdpProgram(netnsPath, ifname, queueCount, forceGeneric)
  explicit XdpProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XdpProgram>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsString() || !info[2].IsNumber()) {
      ThrowErrno(env, EINVAL, "XdpProgram(netns, ifname, queueCount, generic)", nullptr);
      return;
    }
    std::string netns = info[0].As<Napi::String>().Utf8Value();
    std::string ifname = info[1].As<Napi::String>().Utf8Value();
    uint32_t queues = info[2].As<Napi::Number>().Uint32Value();
    bool forceGeneric = info[3].ToBoolean().Value();

    NetnsScope scope(netns);
    if (scope.error() != 0) {
      ThrowErrno(env, scope.error(), "setns " + netns, kCapNetns);
      return;
    }
    ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (ifindex_ == 0) {
      ThrowErrno(env, ENODEV, "interface " + ifname, nullptr);
      return;
    }

    sockets_ = BpfMapCreate(BPF_MAP_TYPE_XSKMAP, 4, 4, queues, "utcp_xsks");
    if (sockets_ < 0) {
      Fail(env, -sockets_, "bpf map create", kCapBpf);
      return;
    }
    addresses_ = BpfMapCreate(BPF_MAP_TYPE_HASH, 4, 4, kMaxAddresses, "utcp_addrs");
    if (addresses_ < 0) {
      Fail(env, -addresses_, "bpf map create", kCapBpf);
      return;
    }
    config_ = BpfMapCreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, "utcp_config");
    if (config_ < 0) {
      Fail(env, -config_, "bpf map create", kCapBpf);
      return;
    }

    std::string log;
    program_ = BpfLoadXdp(SteeringProgram(sockets_, addresses_, config_), &log);
    if (program_ < 0) {
      Fail(env, -program_, "bpf prog load " + log, kCapBpf);
      return;
    }

    // Driver (native) mode first; generic mode when the driver has no XDP support.
    if (!forceGeneric) {
      link_ = BpfLinkXdp(program_, ifindex_, XDP_FLAGS_DRV_MODE);
      attachMode_ = "native";
    }
    if (forceGeneric || link_ == -EOPNOTSUPP || link_ == -EINVAL) {
      link_ = BpfLinkXdp(program_, ifindex_, XDP_FLAGS_SKB_MODE);
      attachMode_ = "generic";
    }
    if (link_ == -ERANGE) {
      // veth and most drivers refuse XDP when a frame would not fit one page.
      Fail(env, ERANGE, "XDP on " + ifname + ": MTU too large for XDP without multi-buffer",
           nullptr);
      return;
    }
    if (link_ < 0) {
      Fail(env, -link_, "bpf link create (XDP on " + ifname + ")", kCapAttach);
      return;
    }
  }

  ~XdpProgram() override { Release(); }

 private:
  void Fail(Napi::Env env, int err, const std::string& what, const char* capability) {
    Release();
    ThrowErrno(env, err, what, capability);
  }

  void Release() {
    for (int* fd : {&link_, &program_, &config_, &addresses_, &sockets_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  // setSocket(queue, fd | -1)
  Napi::Value SetSocket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t queue = info[0].As<Napi::Number>().Uint32Value();
    int32_t fd = info[1].As<Napi::Number>().Int32Value();
    int r = fd >= 0 ? BpfMapUpdate(sockets_, &queue, &fd, BPF_ANY)
                    : BpfMapDelete(sockets_, &queue);
    if (r < 0 && !(fd < 0 && r == -ENOENT)) {
      ThrowErrno(env, -r, "bpf map update (sockets)", kCapBpf);
    }
    return env.Undefined();
  }

  // setSteering(all, addresses: Uint8Array of 4-byte IPv4 addresses in network order)
  Napi::Value SetSteering(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowErrno(env, EINVAL, "setSteering(all, addresses: Uint8Array)", nullptr);
      return env.Undefined();
    }
    uint32_t all = info[0].ToBoolean().Value() ? 1 : 0;
    Napi::Uint8Array list = info[1].As<Napi::Uint8Array>();
    uint32_t count = static_cast<uint32_t>(list.ByteLength() / 4);
    if (count > kMaxAddresses) {
      ThrowErrno(env, E2BIG, "steering takes at most 256 addresses", nullptr);
      return env.Undefined();
    }
    // Remove what is there, then add the new set; a frame in between goes to the kernel.
    uint32_t key = 0, next = 0;
    while (BpfMapNextKey(addresses_, nullptr, &next) == 0) BpfMapDelete(addresses_, &next);
    uint32_t one = 1;
    for (uint32_t i = 0; i < count; i++) {
      std::memcpy(&key, list.Data() + 4 * i, 4);
      int r = BpfMapUpdate(addresses_, &key, &one, BPF_ANY);
      if (r < 0) {
        ThrowErrno(env, -r, "bpf map update (addresses)", kCapBpf);
        return env.Undefined();
      }
    }
    key = 0;
    int r = BpfMapUpdate(config_, &key, &all, BPF_ANY);
    if (r < 0) ThrowErrno(env, -r, "bpf map update (config)", kCapBpf);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
  Napi::Value AttachMode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), attachMode_);
  }
  Napi::Value Ifindex(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ifindex_);
  }

  int ifindex_ = 0;
  int sockets_ = -1, addresses_ = -1, config_ = -1, program_ = -1, link_ = -1;
  std::string attachMode_;
};

// ---- one AF_XDP socket ----------------------------------------------------------------------

class XdpSocket : public Napi::ObjectWrap<XdpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineClass(
        env, "XdpSocket",
        {InstanceMethod("rxBurst", &XdpSocket::RxBurst),
         InstanceMethod("rxRelease", &XdpSocket::RxRelease),
         InstanceMethod("txAlloc", &XdpSocket::TxAlloc),
         InstanceMethod("txSubmit", &XdpSocket::TxSubmit),
         InstanceMethod("txSubmitAlloc", &XdpSocket::TxSubmitAlloc),
         InstanceMethod("onReadable", &XdpSocket::OnReadable),
         InstanceMethod("stats", &XdpSocket::Stats),
         InstanceMethod("close", &XdpSocket::Close),
         InstanceMethod("benchLoop", &XdpSocket::BenchLoop),
         InstanceAccessor("fd", &XdpSocket::Fd, nullptr),
         InstanceAccessor("bindMode", &XdpSocket::BindMode, nullptr)});
    // Kept per environment (main thread and each worker load the addon separately).
    env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(f)));
    return f;
  }

  // new XdpSocket({ netns, ifname, queue, memory, frameSize, firstFrame, frameCount, ringSize,
  //   headroom, rxDescriptors, txDescriptors, shareWith?, mode: 'auto'|'copy'|'zerocopy',
  //   busyPoll })
  explicit XdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XdpSocket>(info) {
    Napi::Env env = info.Env();
    if (!CheckOptions(env, info[0],
                      {{"netns", 's'}, {"ifname", 's'}, {"queue", 'n'}, {"memory", 'b'},
                       {"frameSize", 'n'}, {"firstFrame", 'n'}, {"frameCount", 'n'},
                       {"ringSize", 'n'}, {"headroom", 'n'}, {"rxDescriptors", 'u'},
                       {"txDescriptors", 'u'}, {"mode", 's'}, {"maxFrameLength", 'n'}})) {
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string netns = o.Get("netns").As<Napi::String>().Utf8Value();
    std::string ifname = o.Get("ifname").As<Napi::String>().Utf8Value();
    uint32_t queueId = o.Get("queue").As<Napi::Number>().Uint32Value();
    Napi::Uint8Array memory = o.Get("memory").As<Napi::Uint8Array>();
    uint32_t frameSize = o.Get("frameSize").As<Napi::Number>().Uint32Value();
    uint32_t firstFrame = o.Get("firstFrame").As<Napi::Number>().Uint32Value();
    uint32_t frameCount = o.Get("frameCount").As<Napi::Number>().Uint32Value();
    uint32_t ringSize = o.Get("ringSize").As<Napi::Number>().Uint32Value();
    Napi::Uint32Array rxDescriptors = o.Get("rxDescriptors").As<Napi::Uint32Array>();
    Napi::Uint32Array txDescriptors = o.Get("txDescriptors").As<Napi::Uint32Array>();
    std::string mode = o.Get("mode").As<Napi::String>().Utf8Value();
    Napi::Value shareWith = o.Get("shareWith");
    q_.busyPoll = o.Get("busyPoll").ToBoolean().Value();
    q_.verifyChecksums = o.Get("verifyChecksums").ToBoolean().Value();
    q_.frameSize = frameSize;
    q_.headroom = o.Get("headroom").As<Napi::Number>().Uint32Value();
    q_.maxFrameLength = o.Get("maxFrameLength").As<Napi::Number>().Uint32Value();
    q_.burstSize = static_cast<uint32_t>(
        std::min(rxDescriptors.ElementLength(), txDescriptors.ElementLength()) / 3);

    memoryRef_ = Napi::Persistent(memory);
    rxRef_ = Napi::Persistent(rxDescriptors);
    txRef_ = Napi::Persistent(txDescriptors);
    rxOut_ = rxDescriptors.Data();
    txIn_ = txDescriptors.Data();
    uint8_t* base = memory.Data();
    q_.umem = base;
    uint64_t length = memory.ByteLength();
    if (q_.burstSize == 0 || ringSize == 0 || frameSize < 2048 || frameCount < 2 ||
        reinterpret_cast<uintptr_t>(base) % 4096 != 0 || length % frameSize != 0 ||
        (frameSize & (frameSize - 1)) != 0 || (ringSize & (ringSize - 1)) != 0 ||
        uint64_t{firstFrame + frameCount} * frameSize > length || length > (1ull << 32)) {
      {
      ThrowErrno(env, EINVAL, "UMEM layout (page-aligned, power-of-two sizes)", nullptr);
      return;
    }
    }
    uint32_t rxFrames = std::min(ringSize, frameCount / 2);
    uint32_t txFrames = std::min(ringSize, frameCount - rxFrames);

    NetnsScope scope(netns);
    if (scope.error() != 0) {
      ThrowErrno(env, scope.error(), "setns " + netns, kCapNetns);
      return;
    }
    int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (ifindex == 0) {
      ThrowErrno(env, ENODEV, "interface " + ifname, nullptr);
      return;
    }
    q_.fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (q_.fd < 0) {
      ThrowErrno(env, errno, "socket(AF_XDP)", kCapSocket);
      return;
    }

    XdpSocket* owner = nullptr;
    if (shareWith.IsObject()) {
      Napi::Function socketClass = env.GetInstanceData<Napi::FunctionReference>()->Value();
      if (!shareWith.As<Napi::Object>().InstanceOf(socketClass)) {
        ThrowErrno(env, EINVAL, "shareWith must be an XdpSocket", nullptr);
        return;
      }
      owner = XdpSocket::Unwrap(shareWith.As<Napi::Object>());
    }
    if (owner == nullptr) {
      struct xdp_umem_reg reg;
      std::memset(&reg, 0, sizeof reg);
      reg.addr = reinterpret_cast<uint64_t>(base);
      reg.len = length;
      reg.chunk_size = frameSize;
      reg.headroom = 0;
      if (setsockopt(q_.fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) != 0) {
        {
      Fail(env, errno, "setsockopt(XDP_UMEM_REG)", "CAP_IPC_LOCK or RLIMIT_MEMLOCK");
      return;
    }
      }
    } else {
      ownerRef_ = Napi::Persistent(shareWith.As<Napi::Object>());
    }
    for (int option : {XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING, XDP_TX_RING}) {
      if (setsockopt(q_.fd, SOL_XDP, option, &ringSize, sizeof ringSize) != 0) {
        {
      Fail(env, errno, "setsockopt(XDP ring size)", kCapSocket);
      return;
    }
      }
    }
    struct xdp_mmap_offsets off;
    socklen_t offLength = sizeof off;
    if (getsockopt(q_.fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &offLength) != 0) {
      {
      Fail(env, errno, "getsockopt(XDP_MMAP_OFFSETS)", nullptr);
      return;
    }
    }
    if (!MapRing(&q_.fill, off.fr, ringSize, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING) ||
        !MapRing(&q_.completion, off.cr, ringSize, sizeof(uint64_t),
                 XDP_UMEM_PGOFF_COMPLETION_RING) ||
        !MapRing(&q_.rx, off.rx, ringSize, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING) ||
        !MapRing(&q_.tx, off.tx, ringSize, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING)) {
      {
      Fail(env, errno, "mmap(XDP ring)", nullptr);
      return;
    }
    }

    // Frames [firstFrame, firstFrame + rxFrames) start in the fill ring; the rest are for TX.
    q_.held.assign(q_.burstSize, 0);
    q_.reserved.assign(q_.burstSize, 0);
    q_.txFree.assign(txFrames, 0);
    uint64_t* fill = q_.fill.Addresses();
    for (uint32_t i = 0; i < rxFrames; i++) fill[i] = uint64_t{firstFrame + i} * frameSize;
    q_.fill.Produce(rxFrames);
    for (uint32_t i = 0; i < txFrames; i++) {
      q_.txFree[i] = uint64_t{firstFrame + rxFrames + txFrames - 1 - i} * frameSize;
    }
    q_.txFreeCount = txFrames;

    struct sockaddr_xdp address;
    std::memset(&address, 0, sizeof address);
    address.sxdp_family = AF_XDP;
    address.sxdp_ifindex = ifindex;
    address.sxdp_queue_id = queueId;
    int err = 0;
    if (owner != nullptr) {
      // A socket sharing a UMEM inherits the owner's bind mode and wake-up setting.
      address.sxdp_flags = XDP_SHARED_UMEM;
      address.sxdp_shared_umem_fd = owner->q_.fd;
      err = bind(q_.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
    } else {
      if (mode != "copy") {
        address.sxdp_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY;
        err = bind(q_.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
      }
      if (mode == "copy" || (mode == "auto" && (err == EOPNOTSUPP || err == EINVAL))) {
        address.sxdp_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
        err = bind(q_.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
      }
    }
    if (err != 0) {
      {
      Fail(env, err, "bind(AF_XDP " + ifname + " queue " + std::to_string(queueId) + ")",
                  kCapSocket);
      return;
    }
    }
    struct xdp_options options;
    socklen_t optionsLength = sizeof options;
    if (getsockopt(q_.fd, SOL_XDP, XDP_OPTIONS, &options, &optionsLength) == 0) {
      bindMode_ = (options.flags & XDP_OPTIONS_ZEROCOPY) ? "zerocopy" : "copy";
    }
    if (q_.busyPoll) {
      int one = 1, usec = 20, budget = static_cast<int>(q_.burstSize);
      setsockopt(q_.fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one);
      setsockopt(q_.fd, SOL_SOCKET, SO_BUSY_POLL, &usec, sizeof usec);
      setsockopt(q_.fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget);
    }
    watch_ = std::make_unique<ReadableWatch>(env, q_.fd);
  }

  ~XdpSocket() override {
    watch_.reset();
    q_.Close();
  }

 private:
  void Fail(Napi::Env env, int err, const std::string& what, const char* capability) {
    q_.Close();
    ThrowErrno(env, err, what, capability);
  }

  bool MapRing(XdpRing* ring, const struct xdp_ring_offset& off, uint32_t size, size_t entry,
               uint64_t pageOffset) {
    ring->mapLength = off.desc + size * entry;
    void* map = mmap(nullptr, ring->mapLength, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     q_.fd, static_cast<off_t>(pageOffset));
    if (map == MAP_FAILED) return false;
    auto* bytes = static_cast<uint8_t*>(map);
    ring->map = map;
    ring->producer = reinterpret_cast<uint32_t*>(bytes + off.producer);
    ring->consumer = reinterpret_cast<uint32_t*>(bytes + off.consumer);
    ring->flags = reinterpret_cast<uint32_t*>(bytes + off.flags);
    ring->entries = bytes + off.desc;
    ring->size = size;
    ring->mask = size - 1;
    return true;
  }

  bool Open(Napi::Env env) {
    if (q_.fd >= 0) return true;
    ThrowErrno(env, EBADF, "AF_XDP socket is closed", nullptr);
    return false;
  }

  Napi::Value RxBurst(const Napi::CallbackInfo& info) {
    if (q_.fd < 0) return Napi::Number::New(info.Env(), 0);
    uint32_t max = info[0].As<Napi::Number>().Uint32Value();
    return Napi::Number::New(info.Env(), q_.RxBurst(rxOut_, max));
  }
  Napi::Value RxRelease(const Napi::CallbackInfo& info) {
    if (q_.fd >= 0) q_.RxRelease();
    return info.Env().Undefined();
  }
  Napi::Value TxAlloc(const Napi::CallbackInfo& info) {
    if (q_.fd < 0) return Napi::Number::New(info.Env(), 0);
    uint32_t count = info[0].As<Napi::Number>().Uint32Value();
    return Napi::Number::New(info.Env(), q_.TxAlloc(txIn_, count));
  }
  Napi::Value TxSubmit(const Napi::CallbackInfo& info) {
    if (q_.fd < 0) return Napi::Number::New(info.Env(), 0);
    uint32_t count = info[0].As<Napi::Number>().Uint32Value();
    return Napi::Number::New(info.Env(), q_.TxSubmit(txIn_, count));
  }

  // txSubmitAlloc(count, next) -> sent + 65536 * reserved: sends a burst and reserves the
  // next one in the same call, so a steady sender crosses into native code once per burst.
  Napi::Value TxSubmitAlloc(const Napi::CallbackInfo& info) {
    if (q_.fd < 0) return Napi::Number::New(info.Env(), 0);
    uint32_t count = info[0].As<Napi::Number>().Uint32Value();
    uint32_t next = info[1].As<Napi::Number>().Uint32Value();
    uint32_t sent = q_.TxSubmit(txIn_, count);
    uint32_t reserved = q_.TxAlloc(txIn_, next);
    return Napi::Number::New(info.Env(), sent + 65536.0 * reserved);
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

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    const XdpCounters& c = q_.counters;
    s.Set("rxFrames", c.rxFrames);
    s.Set("rxBytes", c.rxBytes);
    s.Set("txFrames", c.txFrames);
    s.Set("txBytes", c.txBytes);
    s.Set("rxWakeups", c.rxWakeups);
    s.Set("txWakeups", c.txWakeups);
    s.Set("txBadDescriptor", c.txBadDescriptor);
    struct xdp_statistics k;
    socklen_t length = sizeof k;
    if (q_.fd >= 0 && getsockopt(q_.fd, SOL_XDP, XDP_STATISTICS, &k, &length) == 0) {
      s.Set("rxDropped", static_cast<double>(k.rx_dropped));
      s.Set("rxInvalidDescriptors", static_cast<double>(k.rx_invalid_descs));
      s.Set("txInvalidDescriptors", static_cast<double>(k.tx_invalid_descs));
      s.Set("rxRingFull", static_cast<double>(k.rx_ring_full));
      s.Set("rxFillRingEmpty", static_cast<double>(k.rx_fill_ring_empty_descs));
      s.Set("txRingEmpty", static_cast<double>(k.tx_ring_empty_descs));
    }
    return s;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    watch_.reset();
    q_.Close();
    memoryRef_.Reset();
    ownerRef_.Reset();
    return info.Env().Undefined();
  }

  // benchLoop(direction: 'tx' | 'rx', seconds, batch, frameLength) -> frames moved.
  // The benchmark's reference: the same ring calls as rxBurst/txAlloc/txSubmit, driven from
  // C with no JavaScript in the loop.
  Napi::Value BenchLoop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return env.Undefined();
    bool transmit = info[0].As<Napi::String>().Utf8Value() == "tx";
    double seconds = info[1].As<Napi::Number>().DoubleValue();
    uint32_t batch = info[2].As<Napi::Number>().Uint32Value();
    uint32_t frameLength = info[3].As<Napi::Number>().Uint32Value();
    std::vector<uint32_t> descriptors(3 * q_.burstSize);
    uint32_t* d = descriptors.data();
    double frames = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint64_t round = 0;; round++) {
      if ((round & 63) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9;
        if (elapsed >= seconds) break;
      }
      if (transmit) {
        uint32_t n = q_.TxAlloc(d, batch);
        for (uint32_t i = 0; i < n; i++) d[3 * i + 1] = frameLength;
        frames += q_.TxSubmit(d, n);
      } else {
        uint32_t n = q_.RxBurst(d, batch);
        uint32_t bytes = 0;
        for (uint32_t i = 0; i < n; i++) bytes += d[3 * i + 1];
        frames += n;
        sink_ += bytes;
      }
    }
    q_.RxRelease();
    return Napi::Number::New(env, frames);
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), q_.fd); }
  Napi::Value BindMode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), bindMode_);
  }

  XdpQueue q_;
  uint32_t* rxOut_ = nullptr;
  uint32_t* txIn_ = nullptr;
  uint64_t sink_ = 0;
  std::string bindMode_ = "unknown";
  std::unique_ptr<ReadableWatch> watch_;
  Napi::Reference<Napi::Uint8Array> memoryRef_;
  Napi::Reference<Napi::Uint32Array> rxRef_, txRef_;
  Napi::ObjectReference ownerRef_;
};


// pageOffset(bytes: Uint8Array) -> bytes to skip so that the rest starts on a page.
Napi::Value PageOffset(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) {
    ThrowErrno(info.Env(), EINVAL, "pageOffset(bytes: Uint8Array)", nullptr);
    return info.Env().Undefined();
  }
  auto address = reinterpret_cast<uintptr_t>(info[0].As<Napi::Uint8Array>().Data());
  long page = sysconf(_SC_PAGESIZE);
  return Napi::Number::New(info.Env(), static_cast<double>((page - address % page) % page));
}

void InitXdp(Napi::Env env, Napi::Object exports) {
  exports.Set("XdpProgram", XdpProgram::Define(env));
  exports.Set("XdpSocket", XdpSocket::Define(env));
  exports.Set("pageOffset", Napi::Function::New(env, PageOffset));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
}

}  // namespace utcp
