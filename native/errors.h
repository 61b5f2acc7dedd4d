// errno -> JS error, constructed with the class handed to init():
//   new ErrorClass(code, message, { errno, syscall })
// code is the errno name ('EINVAL', 'EBADFD', 'ENOTSUPP' for the kernel-internal 524), message is
// "<syscall> failed: <strerror>". Callers branch on code, never on the message.
#pragma once

#include <napi.h>

#include <string>

namespace dmabuf {

// The error object (not thrown), for promise rejections.
Napi::Value MakeErrnoError(Napi::Env env, int err, const char *syscall);
// The same with a message of the caller's (where strerror alone would not say what happened).
Napi::Value MakeErrnoError(Napi::Env env, int err, const char *syscall, const std::string &message);

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall);
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall,
                             const std::string &message);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string &message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string &message);

}  // namespace dmabuf
