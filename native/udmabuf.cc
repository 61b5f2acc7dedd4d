// memfd and udmabuf: a sealed shmem file turned into a dma-buf by /dev/udmabuf.
//
// udmabuf requires the memfd to be shmem or hugetlbfs (EBADFD otherwise), sealed with
// F_SEAL_SHRINK (so the pinned pages cannot be truncated away) and not sealed against writes
// (F_SEAL_WRITE/F_SEAL_FUTURE_WRITE give EINVAL); offset and size must be page-aligned. The TS
// layer arranges all of that; these functions pass the caller's values through.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// memfdCreate(name, flags): memfd_create(name, flags | MFD_CLOEXEC)
Napi::Value MemfdCreate(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0);
  unsigned flags = U32Arg(info, 1);
  int fd = ::memfd_create(name.c_str(), flags | MFD_CLOEXEC);
  if (fd == -1) ThrowErrno(info.Env(), errno, "memfd_create");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

void Ftruncate(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  off_t size = static_cast<off_t>(SizeArg(info, 1));
  int ret;
  do {
    ret = ::ftruncate(fd, size);
  } while (ret == -1 && errno == EINTR);
  if (ret == -1) ThrowErrno(info.Env(), errno, "ftruncate");
}

void AddSeals(const Napi::CallbackInfo &info) {
  if (::fcntl(FdArg(info, 0), F_ADD_SEALS, static_cast<int>(U32Arg(info, 1))) == -1) {
    ThrowErrno(info.Env(), errno, "fcntl");
  }
}

Napi::Value GetSeals(const Napi::CallbackInfo &info) {
  int seals = ::fcntl(FdArg(info, 0), F_GET_SEALS);
  if (seals == -1) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), seals);
}

// udmabufCreate(devFd, memfd, offset, size, flags): the ioctl's return value is the new dma-buf fd.
Napi::Value UdmabufCreate(const Napi::CallbackInfo &info) {
  int devFd = FdArg(info, 0);
  struct udmabuf_create create = {};
  create.memfd = static_cast<__u32>(FdArg(info, 1));
  create.offset = SizeArg(info, 2);
  create.size = SizeArg(info, 3);
  // Passed as given: unknown bits are silently ignored by the kernel; UDMABUF_FLAGS_CLOEXEC is
  // what makes the new fd O_CLOEXEC, and the TS layer always sets it.
  create.flags = U32Arg(info, 4);
  int fd = ::ioctl(devFd, UDMABUF_CREATE, &create);
  if (fd == -1) ThrowErrno(info.Env(), errno, "UDMABUF_CREATE");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

// udmabufCreateList(devFd, flags, [{ memfd, offset, size }, ...])
Napi::Value UdmabufCreateList(const Napi::CallbackInfo &info) {
  int devFd = FdArg(info, 0);
  uint32_t flags = U32Arg(info, 1);
  if (!info[2].IsArray()) ThrowTypeError(info.Env(), "argument 2 must be an array");
  Napi::Array items = info[2].As<Napi::Array>();
  uint32_t count = items.Length();

  // struct udmabuf_create_list ends in a flexible array; UDMABUF_CREATE_LIST's size field encodes
  // only the 8-byte header and the kernel copies `count` items after it. count == 0 is passed
  // through (the kernel answers EINVAL); the TS layer validates.
  std::vector<uint8_t> storage(sizeof(struct udmabuf_create_list) +
                               static_cast<size_t>(count) * sizeof(struct udmabuf_create_item));
  auto *list = reinterpret_cast<struct udmabuf_create_list *>(storage.data());
  list->flags = flags;
  list->count = count;
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value value = items.Get(i);
    if (!value.IsObject()) ThrowTypeError(info.Env(), "argument 2 must be an array of objects");
    Napi::Object item = value.As<Napi::Object>();
    int64_t memfd = IntProp(item, "memfd", "item");
    list->list[i].memfd = static_cast<__u32>(memfd);
    list->list[i].offset = SizeProp(item, "offset", "item");
    list->list[i].size = SizeProp(item, "size", "item");
  }
  int fd = ::ioctl(devFd, UDMABUF_CREATE_LIST, list);
  if (fd == -1) ThrowErrno(info.Env(), errno, "UDMABUF_CREATE_LIST");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitUdmabuf(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("addSeals", Napi::Function::New(env, AddSeals, "addSeals"));
  exports.Set("getSeals", Napi::Function::New(env, GetSeals, "getSeals"));
  exports.Set("udmabufCreate", Napi::Function::New(env, UdmabufCreate, "udmabufCreate"));
  exports.Set("udmabufCreateList",
              Napi::Function::New(env, UdmabufCreateList, "udmabufCreateList"));
}

}  // namespace dmabuf
