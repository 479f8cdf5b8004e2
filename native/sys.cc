#include "sys.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>

namespace utcp {

namespace {

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EPERM";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENODEV";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case ENOENT: return "ENOENT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EEXIST: return "EEXIST";
    case EAGAIN: return "EAGAIN";
    case ENOSYS: return "ENOSYS";
    case E2BIG: return "E2BIG";
    case EFAULT: return "EFAULT";
    case ENETDOWN: return "ENETDOWN";
    case ERANGE: return "ERANGE";
    case EBADF: return "EBADF";
    default: return "EIO";
  }
}

}  // namespace

void ThrowErrno(Napi::Env env, int err, const std::string& what, const char* capability) {
  std::string message = what + ": " + std::strerror(err);
  if ((err == EPERM || err == EACCES) && capability != nullptr) {
    message += " (needs " + std::string(capability) + ")";
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, what));
  error.ThrowAsJavaScriptException();
}

bool CheckOptions(Napi::Env env, Napi::Value options, std::initializer_list<OptionKind> kinds) {
  if (!options.IsObject()) {
    ThrowErrno(env, EINVAL, "options must be an object", nullptr);
    return false;
  }
  Napi::Object o = options.As<Napi::Object>();
  for (const OptionKind& k : kinds) {
    Napi::Value v = o.Get(k.name);
    bool ok = false;
    switch (k.kind) {
      case 's': ok = v.IsString(); break;
      case 'n': ok = v.IsNumber(); break;
      case 'b':
        ok = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
        break;
      case 'u':
        ok = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array;
        break;
    }
    if (!ok) {
      ThrowErrno(env, EINVAL, std::string("option ") + k.name + " has the wrong type", nullptr);
      return false;
    }
  }
  return true;
}

NetnsScope::NetnsScope(const std::string& path) {
  if (path.empty()) return;
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_ < 0) {
    error_ = errno;
    return;
  }
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    error_ = errno == ENOENT ? ENODEV : errno;
    close(saved_);
    saved_ = -1;
    return;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    error_ = errno;
    close(saved_);
    saved_ = -1;
  }
  close(target);
}

NetnsScope::~NetnsScope() {
  if (saved_ < 0) return;
  // Returning cannot fail for a namespace this thread was in a moment ago.
  setns(saved_, CLONE_NEWNET);
  close(saved_);
}

bool ReadableWatch::Start(Napi::Function callback, Napi::Object receiver) {
  callback_ = Napi::Persistent(callback);
  receiver_ = Napi::Persistent(receiver);
  if (handle_ != nullptr) return true;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return false;
  handle_ = new uv_poll_t;
  if (uv_poll_init(loop, handle_, fd_) != 0) {
    delete handle_;
    handle_ = nullptr;
    return false;
  }
  handle_->data = this;
  uv_poll_start(handle_, UV_READABLE, OnPoll);
  return true;
}

void ReadableWatch::Stop() {
  if (handle_ == nullptr) return;
  uv_poll_stop(handle_);
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  handle_ = nullptr;
  callback_.Reset();
  receiver_.Reset();
}

void ReadableWatch::OnPoll(uv_poll_t* handle, int, int) {
  auto* self = static_cast<ReadableWatch*>(handle->data);
  if (self == nullptr || self->callback_.IsEmpty()) return;
  Napi::HandleScope scope(self->env_);
  self->callback_.MakeCallback(self->receiver_.Value(), {});
}

namespace {

Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns = info[0].As<Napi::String>().Utf8Value();
  std::string ifname = info[1].As<Napi::String>().Utf8Value();
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    ThrowErrno(env, ENODEV, "interface " + ifname, nullptr);
    return env.Undefined();
  }
  NetnsScope scope(netns);
  if (scope.error() != 0) {
    ThrowErrno(env, scope.error(), "setns " + netns, "CAP_SYS_ADMIN");
    return env.Undefined();
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket", nullptr);
    return env.Undefined();
  }
  struct ifreq request;
  std::memset(&request, 0, sizeof request);
  std::memcpy(request.ifr_name, ifname.data(), ifname.size());
  Napi::Object out = Napi::Object::New(env);
  int err = 0;
  if (ioctl(fd, SIOCGIFINDEX, &request) != 0) err = errno;
  if (err == 0) out.Set("ifindex", request.ifr_ifindex);
  if (err == 0 && ioctl(fd, SIOCGIFMTU, &request) != 0) err = errno;
  if (err == 0) out.Set("mtu", request.ifr_mtu);
  if (err == 0 && ioctl(fd, SIOCGIFHWADDR, &request) != 0) err = errno;
  close(fd);
  if (err != 0) {
    ThrowErrno(env, err, "interface " + ifname, nullptr);
    return env.Undefined();
  }
  Napi::Uint8Array mac = Napi::Uint8Array::New(env, 6);
  std::memcpy(mac.Data(), request.ifr_hwaddr.sa_data, 6);
  out.Set("mac", mac);
  return out;
}

}  // namespace

void InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("interfaceInfo", Napi::Function::New(env, InterfaceInfo));
}

}  // namespace utcp
