#include "errors.h"

#include <uv.h>

#include <cerrno>
#include <cstring>

#include "addon.h"

namespace dmabuf {

namespace {

std::string Message(int err, const char *syscall) {
  const char *text = err == 524 ? "Operation is not supported" : std::strerror(err);
  return std::string(syscall) + " failed: " + text;
}

}  // namespace

Napi::Value MakeErrnoError(Napi::Env env, int err, const char *syscall) {
  return MakeErrnoError(env, err, syscall, Message(err, syscall));
}

Napi::Value MakeErrnoError(Napi::Env env, int err, const char *syscall,
                           const std::string &message) {
  AddonData &data = Data(env);
  // errno names live in one table, the TypeScript one (errors.ts errnoName): the factory init()
  // registered makes the DmaBufError from the number.
  if (!data.makeError.IsEmpty()) {
    return data.makeError.Call({Napi::Number::New(env, err), Napi::String::New(env, syscall),
                                Napi::String::New(env, message)});
  }
  // init() not called yet: still give the caller something to branch on (libuv's name).
  char name[64];
  uv_err_name_r(-err, name, sizeof name);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code",
            Napi::String::New(env, name[0] == 'E' ? std::string(name) : "E" + std::to_string(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error.Value();
}

void ThrowErrno(Napi::Env env, int err, const char *syscall) {
  throw Napi::Error(env, MakeErrnoError(env, err, syscall));
}

void ThrowErrno(Napi::Env env, int err, const char *syscall, const std::string &message) {
  throw Napi::Error(env, MakeErrnoError(env, err, syscall, message));
}

void ThrowTypeError(Napi::Env env, const std::string &message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowRangeError(Napi::Env env, const std::string &message) {
  throw Napi::RangeError::New(env, message);
}

}  // namespace dmabuf
