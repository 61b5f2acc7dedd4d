#include "errors.h"

#include <uv.h>

#include <cerrno>
#include <cstring>

#include "addon.h"

namespace dmabuf {

namespace {

struct ErrnoEntry {
  int number;
  const char *name;
};

// The errnos the kernel objects here actually return. Two are not in libuv's table: EBADFD (77,
// udmabuf's "not a memfd") and ENOTSUPP (524, kernel-internal but it leaks to userspace from some
// drivers).
constexpr ErrnoEntry kErrnoNames[] = {
    {EPERM, "EPERM"},           {ENOENT, "ENOENT"},
    {EINTR, "EINTR"},           {EIO, "EIO"},
    {ENXIO, "ENXIO"},           {E2BIG, "E2BIG"},
    {EBADF, "EBADF"},           {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},         {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},         {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},         {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},       {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},         {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},         {ENOTTY, "ENOTTY"},
    {EFBIG, "EFBIG"},           {ENOSPC, "ENOSPC"},
    {ESPIPE, "ESPIPE"},         {EROFS, "EROFS"},
    {EPIPE, "EPIPE"},           {ERANGE, "ERANGE"},
    {EDEADLK, "EDEADLK"},       {ENOSYS, "ENOSYS"},
    {EOVERFLOW, "EOVERFLOW"},   {EBADFD, "EBADFD"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {ETIMEDOUT, "ETIMEDOUT"},
    {ECANCELED, "ECANCELED"},   {EPROTO, "EPROTO"},
    {ENODATA, "ENODATA"},       {ENOLINK, "ENOLINK"},
    {524, "ENOTSUPP"},
};

std::string Message(int err, const char *syscall) {
  const char *text = err == 524 ? "Operation is not supported" : std::strerror(err);
  return std::string(syscall) + " failed: " + text;
}

}  // namespace

std::string ErrnoName(int err) {
  for (const ErrnoEntry &entry : kErrnoNames) {
    if (entry.number == err) return entry.name;
  }
  char buf[64];
  uv_err_name_r(-err, buf, sizeof buf);
  // Unknown codes come back as "Unknown system error <n>".
  if (buf[0] == 'E') return buf;
  return "E" + std::to_string(err);
}

Napi::Value MakeErrnoError(Napi::Env env, int err, const char *syscall) {
  std::string code = ErrnoName(err);
  std::string message = Message(err, syscall);
  AddonData &data = Data(env);
  if (!data.errorClass.IsEmpty()) {
    Napi::Object details = Napi::Object::New(env);
    details.Set("errno", Napi::Number::New(env, err));
    details.Set("syscall", Napi::String::New(env, syscall));
    return data.errorClass.New(
        {Napi::String::New(env, code), Napi::String::New(env, message), details});
  }
  // init() not called yet: still give the caller something to branch on.
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error.Value();
}

void ThrowErrno(Napi::Env env, int err, const char *syscall) {
  throw Napi::Error(env, MakeErrnoError(env, err, syscall));
}

void ThrowTypeError(Napi::Env env, const std::string &message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowRangeError(Napi::Env env, const std::string &message) {
  throw Napi::RangeError::New(env, message);
}

}  // namespace dmabuf
