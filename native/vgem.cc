// DRM and vgem: the fence source behind dmabuf/testing. vgem exports dumb buffers as dma-bufs
// and attaches fences to them that userspace signals (or that auto-expire after 10 s), which is
// how the kernel selftests and IGT get a real dma-buf with controllable implicit fences.
//
// The DRM core and libdrm's drmIoctl() restart ioctls on EINTR/EAGAIN; so do we.
#include <cerrno>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// drmDriverName(fd): DRM_IOCTL_VERSION. The kernel copies min(name_len, strlen) bytes and sets
// name_len to the full length, so retry with a bigger buffer if the first one was short.
Napi::Value DrmDriverName(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  std::vector<char> name(64);
  for (;;) {
    drm::Version version = {};
    version.name = name.data();
    version.name_len = name.size();
    if (IoctlRestarting(fd, drm::kIoctlVersion, &version) == -1) {
      ThrowErrno(info.Env(), errno, "DRM_IOCTL_VERSION");
    }
    if (version.name_len <= name.size()) {
      return Napi::String::New(info.Env(), name.data(), version.name_len);
    }
    name.resize(version.name_len);
  }
}

// drmCreateDumb(fd, width, height, bpp) -> { handle, pitch, size }
Napi::Value DrmCreateDumb(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::ModeCreateDumb dumb = {};
  dumb.width = U32Arg(info, 1);
  dumb.height = U32Arg(info, 2);
  dumb.bpp = U32Arg(info, 3);
  if (IoctlRestarting(fd, drm::kIoctlModeCreateDumb, &dumb) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_CREATE_DUMB");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", Napi::Number::New(env, dumb.handle));
  result.Set("pitch", Napi::Number::New(env, dumb.pitch));
  result.Set("size", Napi::Number::New(env, static_cast<double>(dumb.size)));
  return result;
}

// drmPrimeHandleToFd(fd, handle, flags): DRM_CLOEXEC is always added.
Napi::Value DrmPrimeHandleToFd(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::PrimeHandle prime = {};
  prime.handle = U32Arg(info, 1);
  prime.flags = U32Arg(info, 2) | drm::kCloexec;
  prime.fd = -1;
  if (IoctlRestarting(fd, drm::kIoctlPrimeHandleToFd, &prime) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_PRIME_HANDLE_TO_FD");
  }
  Own(info.Env(), prime.fd);
  return Napi::Number::New(info.Env(), prime.fd);
}

// drmPrimeFdToHandle(fd, dmaBufFd): importing attaches the dma-buf to the DRM device, which is
// what makes the system heap's SYNC do real work.
Napi::Value DrmPrimeFdToHandle(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::PrimeHandle prime = {};
  prime.fd = FdArg(info, 1);
  if (IoctlRestarting(fd, drm::kIoctlPrimeFdToHandle, &prime) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_PRIME_FD_TO_HANDLE");
  }
  return Napi::Number::New(info.Env(), prime.handle);
}

void DrmGemClose(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::GemClose close = {};
  close.handle = U32Arg(info, 1);
  if (IoctlRestarting(fd, drm::kIoctlGemClose, &close) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_GEM_CLOSE");
  }
}

// vgemFenceAttach(fd, handle, flags) -> fence id. EBUSY when a conflicting unsignalled fence
// exists.
Napi::Value VgemFenceAttach(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::VgemFenceAttach attach = {};
  attach.handle = U32Arg(info, 1);
  attach.flags = U32Arg(info, 2);
  if (IoctlRestarting(fd, drm::kIoctlVgemFenceAttach, &attach) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_VGEM_FENCE_ATTACH");
  }
  return Napi::Number::New(info.Env(), attach.out_fence);
}

// vgemFenceSignal(fd, fence). ETIMEDOUT when the fence already auto-expired (10 s).
void VgemFenceSignal(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::VgemFenceSignal signal = {};
  signal.fence = U32Arg(info, 1);
  if (IoctlRestarting(fd, drm::kIoctlVgemFenceSignal, &signal) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_VGEM_FENCE_SIGNAL");
  }
}

}  // namespace

void InitVgem(Napi::Env env, Napi::Object exports) {
  exports.Set("drmDriverName", Napi::Function::New(env, DrmDriverName, "drmDriverName"));
  exports.Set("drmCreateDumb", Napi::Function::New(env, DrmCreateDumb, "drmCreateDumb"));
  exports.Set("drmPrimeHandleToFd",
              Napi::Function::New(env, DrmPrimeHandleToFd, "drmPrimeHandleToFd"));
  exports.Set("drmPrimeFdToHandle",
              Napi::Function::New(env, DrmPrimeFdToHandle, "drmPrimeFdToHandle"));
  exports.Set("drmGemClose", Napi::Function::New(env, DrmGemClose, "drmGemClose"));
  exports.Set("vgemFenceAttach", Napi::Function::New(env, VgemFenceAttach, "vgemFenceAttach"));
  exports.Set("vgemFenceSignal", Napi::Function::New(env, VgemFenceSignal, "vgemFenceSignal"));
}

}  // namespace dmabuf
