#include "bpf.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace utcp {

namespace {

uint64_t Pointer(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// Instruction encoders (linux/bpf.h, "eBPF instruction set" in the kernel documentation).
struct bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn insn;
  std::memset(&insn, 0, sizeof insn);
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}
struct bpf_insn MovReg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
struct bpf_insn MovImm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn AddImm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
}
struct bpf_insn Load(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_LDX | size | BPF_MEM, dst, src, off, 0);
}
struct bpf_insn Store(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_STX | size | BPF_MEM, dst, src, off, 0);
}
struct bpf_insn Call(int32_t helper) { return Insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
struct bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// A small assembler: jumps name a label, resolved once the program is complete.
class Assembler {
 public:
  void Emit(struct bpf_insn insn) { code_.push_back(insn); }
  void LoadMapFd(uint8_t dst, int fd) {
    // ld_imm64 takes two slots; the pseudo source register marks the immediate as a map fd.
    code_.push_back(Insn(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd));
    code_.push_back(Insn(0, 0, 0, 0, 0));
  }
  void JumpImm(uint8_t op, uint8_t dst, int32_t imm, int label) {
    fixups_.push_back({code_.size(), label});
    code_.push_back(Insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
  }
  void JumpReg(uint8_t op, uint8_t dst, uint8_t src, int label) {
    fixups_.push_back({code_.size(), label});
    code_.push_back(Insn(BPF_JMP | op | BPF_X, dst, src, 0, 0));
  }
  void Jump(int label) {
    fixups_.push_back({code_.size(), label});
    code_.push_back(Insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
  }
  void Label(int label) {
    if (labels_.size() <= static_cast<size_t>(label)) labels_.resize(label + 1, 0);
    labels_[label] = code_.size();
  }
  std::vector<struct bpf_insn> Finish() {
    for (const auto& fixup : fixups_) {
      // Offsets count from the instruction after the jump.
      code_[fixup.at].off = static_cast<int16_t>(labels_[fixup.label] - fixup.at - 1);
    }
    return code_;
  }

 private:
  struct Fixup {
    size_t at;
    int label;
  };
  std::vector<struct bpf_insn> code_;
  std::vector<Fixup> fixups_;
  std::vector<size_t> labels_;
};

// struct xdp_md field offsets (linux/bpf.h).
constexpr int16_t kXdpData = 0;
constexpr int16_t kXdpDataEnd = 4;
constexpr int16_t kXdpRxQueueIndex = 16;
// EtherType values as a little-endian 16-bit load sees the big-endian bytes.
constexpr int32_t kEtherTypeIpv4 = 0x0008;
constexpr int32_t kEtherTypeArp = 0x0608;
// Frame offsets: Ethernet header 14 bytes; IPv4 destination at 16 within the IP header; ARP
// target protocol address at 24 within the ARP packet (RFC 826).
constexpr int32_t kEtherTypeAt = 12;
constexpr int32_t kIpv4DestinationAt = 14 + 16;
constexpr int32_t kArpTargetAt = 14 + 24;

}  // namespace

int Bpf(int command, union bpf_attr* attr) {
  long r = syscall(__NR_bpf, command, attr, sizeof(*attr));
  return r < 0 ? -errno : static_cast<int>(r);
}

int BpfMapCreate(uint32_t type, uint32_t keySize, uint32_t valueSize, uint32_t maxEntries,
                 const char* name) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = keySize;
  attr.value_size = valueSize;
  attr.max_entries = maxEntries;
  std::strncpy(attr.map_name, name, BPF_OBJ_NAME_LEN - 1);
  return Bpf(BPF_MAP_CREATE, &attr);
}

int BpfMapUpdate(int mapFd, const void* key, const void* value, uint64_t flags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = mapFd;
  attr.key = Pointer(key);
  attr.value = Pointer(value);
  attr.flags = flags;
  return Bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

int BpfMapDelete(int mapFd, const void* key) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = mapFd;
  attr.key = Pointer(key);
  return Bpf(BPF_MAP_DELETE_ELEM, &attr);
}

int BpfMapNextKey(int mapFd, const void* key, void* nextKey) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = mapFd;
  attr.key = Pointer(key);
  attr.next_key = Pointer(nextKey);
  return Bpf(BPF_MAP_GET_NEXT_KEY, &attr);
}

std::vector<struct bpf_insn> SteeringProgram(int socketsMapFd, int addressesMapFd,
                                             int configMapFd) {
  enum { kRedirect, kIpv4, kArp, kLookup, kPass };
  Assembler a;
  a.Emit(MovReg(BPF_REG_6, BPF_REG_1));

  // config[0] == 1: take every frame.
  a.Emit(MovImm(BPF_REG_1, 0));
  a.Emit(Store(BPF_W, BPF_REG_10, BPF_REG_1, -4));
  a.Emit(MovReg(BPF_REG_2, BPF_REG_10));
  a.Emit(AddImm(BPF_REG_2, -4));
  a.LoadMapFd(BPF_REG_1, configMapFd);
  a.Emit(Call(BPF_FUNC_map_lookup_elem));
  a.JumpImm(BPF_JEQ, BPF_REG_0, 0, kPass);
  a.Emit(Load(BPF_W, BPF_REG_1, BPF_REG_0, 0));
  a.JumpImm(BPF_JEQ, BPF_REG_1, 1, kRedirect);

  // Otherwise look at the EtherType; the verifier needs the bounds checked before each read.
  a.Emit(Load(BPF_W, BPF_REG_2, BPF_REG_6, kXdpData));
  a.Emit(Load(BPF_W, BPF_REG_3, BPF_REG_6, kXdpDataEnd));
  a.Emit(MovReg(BPF_REG_4, BPF_REG_2));
  a.Emit(AddImm(BPF_REG_4, kIpv4DestinationAt + 4));
  a.JumpReg(BPF_JGT, BPF_REG_4, BPF_REG_3, kPass);
  a.Emit(Load(BPF_H, BPF_REG_5, BPF_REG_2, kEtherTypeAt));
  a.JumpImm(BPF_JEQ, BPF_REG_5, kEtherTypeIpv4, kIpv4);
  a.JumpImm(BPF_JEQ, BPF_REG_5, kEtherTypeArp, kArp);
  a.Jump(kPass);

  a.Label(kArp);
  a.Emit(MovReg(BPF_REG_4, BPF_REG_2));
  a.Emit(AddImm(BPF_REG_4, kArpTargetAt + 4));
  a.JumpReg(BPF_JGT, BPF_REG_4, BPF_REG_3, kPass);
  a.Emit(Load(BPF_W, BPF_REG_5, BPF_REG_2, kArpTargetAt));
  a.Jump(kLookup);

  a.Label(kIpv4);
  a.Emit(Load(BPF_W, BPF_REG_5, BPF_REG_2, kIpv4DestinationAt));

  a.Label(kLookup);
  a.Emit(Store(BPF_W, BPF_REG_10, BPF_REG_5, -8));
  a.Emit(MovReg(BPF_REG_2, BPF_REG_10));
  a.Emit(AddImm(BPF_REG_2, -8));
  a.LoadMapFd(BPF_REG_1, addressesMapFd);
  a.Emit(Call(BPF_FUNC_map_lookup_elem));
  a.JumpImm(BPF_JEQ, BPF_REG_0, 0, kPass);

  // bpf_redirect_map's low flag bits are the action when the queue has no socket.
  a.Label(kRedirect);
  a.Emit(Load(BPF_W, BPF_REG_2, BPF_REG_6, kXdpRxQueueIndex));
  a.LoadMapFd(BPF_REG_1, socketsMapFd);
  a.Emit(MovImm(BPF_REG_3, XDP_PASS));
  a.Emit(Call(BPF_FUNC_redirect_map));
  a.Emit(Exit());

  a.Label(kPass);
  a.Emit(MovImm(BPF_REG_0, XDP_PASS));
  a.Emit(Exit());
  return a.Finish();
}

int BpfLoadXdp(const std::vector<struct bpf_insn>& program, std::string* log) {
  static char license[] = "Dual BSD/GPL";
  std::vector<char> buffer(16384, 0);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.expected_attach_type = BPF_XDP;
  attr.insns = Pointer(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = Pointer(license);
  std::strncpy(attr.prog_name, "utcp_steer", BPF_OBJ_NAME_LEN - 1);
  int fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd == -EACCES || fd == -EINVAL) {
    // Load again with the verifier log so the failure explains itself.
    attr.log_buf = Pointer(buffer.data());
    attr.log_size = static_cast<uint32_t>(buffer.size());
    attr.log_level = 1;
    fd = Bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0 && log != nullptr) *log = buffer.data();
  }
  return fd;
}

int BpfLinkXdp(int programFd, int ifindex, uint32_t xdpFlags) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.link_create.prog_fd = programFd;
  attr.link_create.target_ifindex = ifindex;
  attr.link_create.attach_type = BPF_XDP;
  attr.link_create.flags = xdpFlags;
  return Bpf(BPF_LINK_CREATE, &attr);
}

}  // namespace utcp
