// System helpers shared by the link kinds: errors with codes, namespace entry, poll handles.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <initializer_list>
#include <string>

namespace utcp {

// Throws a JavaScript Error whose `code` is the errno name (EPERM, ENODEV, EBUSY, ...). For
// EPERM the message names the capability the failing call needs.
void ThrowErrno(Napi::Env env, int err, const std::string& what, const char* capability);

// Checks that `options` has each named property of the wanted kind: 's' string, 'n' number,
// 'b' Uint8Array, 'u' Uint32Array. Otherwise throws an EINVAL error naming it and returns false.
struct OptionKind {
  const char* name;
  char kind;
};
bool CheckOptions(Napi::Env env, Napi::Value options, std::initializer_list<OptionKind> kinds);

// Enters the network namespace at `path` for the lifetime of the object, on this thread only;
// sockets, maps and links made meanwhile belong to that namespace for good. An empty path
// means the current namespace.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& path);
  ~NetnsScope();
  // 0 on success, else the errno of the failed step.
  int error() const { return error_; }

 private:
  int saved_ = -1;
  int error_ = 0;
};

// A libuv poll handle on a file descriptor that calls a JavaScript function when it becomes
// readable. The handle lives on the event loop of the calling environment and closes itself.
class ReadableWatch {
 public:
  ReadableWatch(Napi::Env env, int fd) : env_(env), fd_(fd) {}
  ~ReadableWatch() { Stop(); }
  // Starts calling `callback` (with `receiver` as this) on readability; replaces any earlier.
  bool Start(Napi::Function callback, Napi::Object receiver);
  void Stop();

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  Napi::Env env_;
  int fd_;
  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference receiver_;
};

}  // namespace utcp

namespace utcp {
// interfaceInfo(netns, ifname) -> { ifindex, mtu, mac: Uint8Array(6) }, ENODEV when missing.
void InitSys(Napi::Env env, Napi::Object exports);
}  // namespace utcp
