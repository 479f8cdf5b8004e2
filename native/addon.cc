// Entry point of the utcp addon. Each link kind registers its functions here.
#include <napi.h>

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(utcp, Init)
