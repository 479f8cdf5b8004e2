// Entry point of the utcp addon. Each link kind registers its functions here.
#include <napi.h>

#include "packet.h"
#include "sys.h"
#include "xdp.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  utcp::InitSys(env, exports);
  utcp::InitXdp(env, exports);
  utcp::InitPacket(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(utcp, Init)
