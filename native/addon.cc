// Entry point of the utcp addon. Each link kind registers its functions here.
#include <napi.h>

#include "checksum.h"
#include "packet.h"
#include "sys.h"
#include "xdp.h"

namespace {

// verifyIpv4Frame(frame) / fillIpv4Frame(frame): the checksum code the burst calls use, for
// tests and benchmarks.
Napi::Value VerifyFrame(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) return Napi::Boolean::New(info.Env(), false);
  Napi::Uint8Array frame = info[0].As<Napi::Uint8Array>();
  bool ok = utcp::VerifyIpv4Frame(frame.Data(), static_cast<uint32_t>(frame.ByteLength()));
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value FillFrame(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) return Napi::Boolean::New(info.Env(), false);
  Napi::Uint8Array frame = info[0].As<Napi::Uint8Array>();
  bool ok = utcp::FillIpv4Frame(frame.Data(), static_cast<uint32_t>(frame.ByteLength()));
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  exports.Set("verifyIpv4Frame", Napi::Function::New(env, VerifyFrame));
  exports.Set("fillIpv4Frame", Napi::Function::New(env, FillFrame));
  utcp::InitSys(env, exports);
  utcp::InitXdp(env, exports);
  utcp::InitPacket(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(utcp, Init)
