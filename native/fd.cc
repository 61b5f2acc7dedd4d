// Plain fd operations: open/close/dup/adopt, fstat/fstatfs, raw ioctl (doctor's probes) and a
// synchronous poll; and, for tests only (testHooks), fcntl(F_GETFD) and lseek.
#include "fd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace dmabuf {

int IoctlRestarting(int fd, unsigned long request, void *arg) {
  int ret;
  do {
    ret = ::ioctl(fd, request, arg);
  } while (ret == -1 && (errno == EINTR || errno == EAGAIN));
  return ret;
}

namespace {

int64_t MonotonicMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

Napi::Value Open(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0);
  int flags = static_cast<int>(U32Arg(info, 1));
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  } while (fd == -1 && errno == EINTR);
  if (fd == -1) ThrowErrno(info.Env(), errno, "open");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

void Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  auto &fds = Data(env).resources->fds;
  auto owned = fds.find(fd);
  if (owned != fds.end()) {
    FileId id = owned->second;
    fds.erase(owned);
    // Closed behind the addon's back, and perhaps reused: closing the number now would close
    // another file (a finalizer running late would close a stranger's fd). Leave it alone.
    if (!SameFile(fd, id)) {
      ThrowErrno(
          env, EBADF, "close",
          "close failed: fd " + std::to_string(fd) +
              " was closed behind the object that owned it (fs.closeSync on its fd?) and now "
              "names another file or none; that file was left open");
    }
  }
  // Linux releases the fd even when close() reports EINTR or EIO, so it is forgotten whatever
  // happens; retrying could close an fd another thread has just been given.
  if (::close(fd) == -1 && errno != EINTR) ThrowErrno(env, errno, "close");
}

Napi::Value Dup(const Napi::CallbackInfo &info) {
  int fd = ::fcntl(FdArg(info, 0), F_DUPFD_CLOEXEC, 0);
  if (fd == -1) ThrowErrno(info.Env(), errno, "fcntl");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

void Adopt(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  // Refuse a number that is not an open fd, so env cleanup never closes a stranger's fd later.
  if (::fcntl(fd, F_GETFD) == -1) ThrowErrno(info.Env(), errno, "fcntl");
  Own(info.Env(), fd);
}

// The caller takes an owned fd away (it will close it itself): env cleanup must not close it.
void Disown(const Napi::CallbackInfo &info) { Forget(info.Env(), FdArg(info, 0)); }

Napi::Value Fstat(const Napi::CallbackInfo &info) {
  struct stat st;
  if (::fstat(FdArg(info, 0), &st) == -1) ThrowErrno(info.Env(), errno, "fstat");
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  result.Set("mode", Napi::Number::New(env, st.st_mode));
  result.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  result.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  result.Set("rdev", Napi::Number::New(env, static_cast<double>(st.st_rdev)));
  return result;
}

Napi::Value FstatfsType(const Napi::CallbackInfo &info) {
  struct statfs st;
  if (::fstatfs(FdArg(info, 0), &st) == -1) ThrowErrno(info.Env(), errno, "fstatfs");
  // f_type is a signed long; magics such as DMA_BUF_MAGIC are 32-bit unsigned.
  return Napi::Number::New(info.Env(), static_cast<uint32_t>(st.f_type));
}

// fcntl(F_GETFL): the open file's status flags, whose low bits are the access mode.
Napi::Value StatusFlags(const Napi::CallbackInfo &info) {
  int flags = ::fcntl(FdArg(info, 0), F_GETFL);
  if (flags == -1) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), flags);
}

Napi::Value GetFdFlags(const Napi::CallbackInfo &info) {
  int flags = ::fcntl(FdArg(info, 0), F_GETFD);
  if (flags == -1) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), flags);
}

Napi::Value Lseek(const Napi::CallbackInfo &info) {
  off_t result = ::lseek(FdArg(info, 0), static_cast<off_t>(IntArg(info, 1)),
                         static_cast<int>(IntArg(info, 2)));
  if (result == -1) ThrowErrno(info.Env(), errno, "lseek");
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

Napi::Value IoctlRaw(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  unsigned long request = static_cast<unsigned long>(U64Arg(info, 1));
  void *arg = nullptr;
  size_t length = 0;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    if (!info[2].IsTypedArray() ||
        info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowTypeError(info.Env(), "argument 2 must be a Uint8Array or null");
    }
    arg = info[2].As<Napi::Uint8Array>().Data();
    length = info[2].As<Napi::Uint8Array>().ByteLength();
  }
  // The kernel copies _IOC_SIZE(request) bytes in or out of arg: a shorter buffer would be
  // overrun (asm-generic/ioctl.h encodes the size in every _IOR/_IOW/_IOWR request). NULL is
  // passed as is: the kernel answers EFAULT, which tests rely on.
  if (arg != nullptr && _IOC_DIR(request) != _IOC_NONE && length < _IOC_SIZE(request)) {
    ThrowRangeError(info.Env(), "argument 2 is shorter than the request's _IOC_SIZE");
  }
  // Deliberately not restarted: tests see exactly what the kernel answered.
  int ret = ::ioctl(fd, request, arg);
  if (ret == -1) ThrowErrno(info.Env(), errno, "ioctl");
  return Napi::Number::New(info.Env(), ret);
}

Napi::Value Poll(const Napi::CallbackInfo &info) {
  struct pollfd pfd = {FdArg(info, 0), static_cast<short>(U32Arg(info, 1)), 0};
  int64_t timeoutMs = IntArg(info, 2);
  int64_t deadline = timeoutMs < 0 ? -1 : MonotonicMs() + timeoutMs;
  for (;;) {
    int wait = -1;
    if (deadline >= 0) {
      int64_t left = deadline - MonotonicMs();
      wait = left <= 0 ? 0 : (left > INT32_MAX ? INT32_MAX : static_cast<int>(left));
    }
    int ret = ::poll(&pfd, 1, wait);
    if (ret >= 0) {
      // A wait capped at INT32_MAX ms that ran out early is not the caller's timeout.
      if (ret == 0 && deadline >= 0 && MonotonicMs() < deadline) continue;
      return Napi::Number::New(info.Env(), ret == 0 ? 0 : pfd.revents);
    }
    // A signal interrupted the wait: wait again for the time that is left, not the whole timeout.
    if (errno != EINTR) ThrowErrno(info.Env(), errno, "poll");
  }
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports, Napi::Object testHooks) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("adopt", Napi::Function::New(env, Adopt, "adopt"));
  exports.Set("disown", Napi::Function::New(env, Disown, "disown"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("fstatfsType", Napi::Function::New(env, FstatfsType, "fstatfsType"));
  exports.Set("statusFlags", Napi::Function::New(env, StatusFlags, "statusFlags"));
  exports.Set("ioctlRaw", Napi::Function::New(env, IoctlRaw, "ioctlRaw"));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
  // Tests check close-on-exec and what the kernel answers to lseek on a dma-buf or sync_file;
  // the library needs neither. (read and write: node's fs.readSync/writeSync take any fd.)
  testHooks.Set("getFdFlags", Napi::Function::New(env, GetFdFlags, "getFdFlags"));
  testHooks.Set("lseek", Napi::Function::New(env, Lseek, "lseek"));
}

}  // namespace dmabuf
