// The bpf() syscall and the XDP program that steers frames to AF_XDP sockets, assembled here
// by hand from the instruction set in linux/bpf.h (no compiler, no libbpf).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace utcp {

int Bpf(int command, union bpf_attr* attr);

// Returns a map fd or -errno.
int BpfMapCreate(uint32_t type, uint32_t keySize, uint32_t valueSize, uint32_t maxEntries,
                 const char* name);
int BpfMapUpdate(int mapFd, const void* key, const void* value, uint64_t flags);
int BpfMapDelete(int mapFd, const void* key);
// Fills `nextKey` with the key after `key` (the first key when `key` is null).
int BpfMapNextKey(int mapFd, const void* key, void* nextKey);

// Steering program for one interface:
//   config[0] == 1 -> every frame goes to the socket of its RX queue;
//   otherwise an IPv4 frame whose destination is in `addresses`, or an ARP frame whose target
//   protocol address is, goes there; everything else is XDP_PASS (to the kernel).
// A frame whose queue has no socket in `sockets` is passed to the kernel too.
std::vector<struct bpf_insn> SteeringProgram(int socketsMapFd, int addressesMapFd,
                                             int configMapFd);

// Loads an XDP program; returns its fd or -errno, with the verifier log in `log` on failure.
int BpfLoadXdp(const std::vector<struct bpf_insn>& program, std::string* log);

// Attaches through a BPF link (goes away when the last fd to it closes); fd or -errno.
int BpfLinkXdp(int programFd, int ifindex, uint32_t xdpFlags);

}  // namespace utcp
