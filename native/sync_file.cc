// sync_file fd ioctls: FILE_INFO (two passes), MERGE, SET_DEADLINE (6.8). Their testHooks twins
// (`…Raw`) also set the struct fields the kernel checks (flags, pad, num_fences, the user pointer),
// and testHooks.monotonicNs reads the clock deadlines are measured against.
#include <sys/ioctl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// The kernel fills these char[32] fields NUL-terminated, but do not rely on it.
Napi::String FixedString(Napi::Env env, const char *chars, size_t size) {
  return Napi::String::New(env, chars, strnlen(chars, size));
}

// A raw struct field a test sets: a safe integer that fits in 32 bits (IntProp refuses 1.5 and
// NaN, which Int64Value would pass as 1 and 0), or the fallback when absent.
uint32_t OptionalU32(Napi::Object raw, const char *key, uint32_t fallback) {
  if (raw.Get(key).IsUndefined()) return fallback;
  int64_t value = IntProp(raw, key, "raw");
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<uint32_t>::max()) {
    ThrowRangeError(raw.Env(), std::string("raw.") + key + " does not fit in 32 bits");
  }
  return static_cast<uint32_t>(value);
}

// syncFileStatus(fd): SYNC_IOC_FILE_INFO with num_fences = 0 asks only for the count and the
// status (sync_file_ioctl_fence_info: dma_fence_get_status(), 1 signalled, 0 active, < 0 the
// error): one ioctl and no fence array, for a wait that only needs to know how it ended.
Napi::Value SyncFileStatus(const Napi::CallbackInfo &info) {
  struct sync_file_info fileInfo = {};
  if (::ioctl(FdArg(info, 0), SYNC_IOC_FILE_INFO, &fileInfo) == -1)
    ThrowErrno(info.Env(), errno, "SYNC_IOC_FILE_INFO");
  return Napi::Number::New(info.Env(), fileInfo.status);
}

// syncFileInfo(fd); testHooks.syncFileInfoRaw(fd, raw) (kTestHook) with the overrides in `raw`.
template <bool kTestHook>
Napi::Value SyncFileInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  uint32_t flags = 0, pad = 0;
  bool overrideCount = false, badPointer = false;
  uint32_t numFencesOverride = 0;
  if (kTestHook) {
    if (!info[1].IsObject()) ThrowTypeError(env, "argument 1 must be an object");
    Napi::Object raw = info[1].As<Napi::Object>();
    flags = OptionalU32(raw, "flags", 0);
    pad = OptionalU32(raw, "pad", 0);
    overrideCount = !raw.Get("numFences").IsUndefined();
    numFencesOverride = OptionalU32(raw, "numFences", 0);
    badPointer = raw.Get("badPointer").ToBoolean().Value();
  }

  // Pass 1: num_fences == 0 asks only for the count (and the status).
  struct sync_file_info fileInfo = {};
  fileInfo.flags = flags;
  fileInfo.pad = pad;
  if (::ioctl(fd, SYNC_IOC_FILE_INFO, &fileInfo) == -1)
    ThrowErrno(env, errno, "SYNC_IOC_FILE_INFO");
  uint32_t count = fileInfo.num_fences;

  // Pass 2: a buffer of `count` entries. A sync_file's fences are fixed when it is created, so the
  // count cannot grow between the passes. An overriding num_fences larger than the count is safe:
  // the kernel writes only the real count; a smaller one makes it answer EINVAL.
  std::vector<struct sync_fence_info> fences(count);
  bool filled = false;
  if (count > 0 || overrideCount || badPointer) {
    struct sync_file_info second = {};
    second.flags = flags;
    second.pad = pad;
    second.num_fences = overrideCount ? numFencesOverride : count;
    // The kernel fills the array only when num_fences is non-zero on input.
    filled = !badPointer && second.num_fences != 0;
    // An unmapped user address (page 0 is never mapped) makes copy_to_user fail with EFAULT.
    second.sync_fence_info = badPointer ? 8 : reinterpret_cast<uintptr_t>(fences.data());
    if (::ioctl(fd, SYNC_IOC_FILE_INFO, &second) == -1)
      ThrowErrno(env, errno, "SYNC_IOC_FILE_INFO");
    fileInfo = second;
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("name", FixedString(env, fileInfo.name, sizeof fileInfo.name));
  result.Set("status", Napi::Number::New(env, fileInfo.status));
  result.Set("flags", Napi::Number::New(env, fileInfo.flags));
  size_t listed = filled ? std::min<size_t>(fileInfo.num_fences, count) : 0;
  Napi::Array list = Napi::Array::New(env, listed);
  for (size_t i = 0; i < listed; i++) {
    const struct sync_fence_info &fence = fences[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("objName", FixedString(env, fence.obj_name, sizeof fence.obj_name));
    entry.Set("driverName", FixedString(env, fence.driver_name, sizeof fence.driver_name));
    entry.Set("status", Napi::Number::New(env, fence.status));
    entry.Set("flags", Napi::Number::New(env, fence.flags));
    // Only meaningful once the fence has signalled.
    entry.Set("timestampNs", Napi::BigInt::New(env, static_cast<uint64_t>(fence.timestamp_ns)));
    list.Set(static_cast<uint32_t>(i), entry);
  }
  result.Set("fences", list);
  return result;
}

// syncFileMerge(fd, fd2, name): a new sync_file that signals when both have.
// testHooks.syncFileMergeRaw(fd, fd2, name, raw) (kTestHook) sets the struct's flags and pad.
template <bool kTestHook>
Napi::Value SyncFileMerge(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct sync_merge_data merge = {};
  merge.fd2 = FdArg(info, 1);
  std::string name = StringArg(info, 2);
  // The kernel force-terminates name[31]; truncate here so the copy stays in bounds.
  std::memcpy(merge.name, name.data(), std::min(name.size(), sizeof merge.name - 1));
  merge.fence = -1;
  if (kTestHook) {
    if (!info[3].IsObject()) ThrowTypeError(env, "argument 3 must be an object");
    Napi::Object raw = info[3].As<Napi::Object>();
    merge.flags = OptionalU32(raw, "flags", 0);
    merge.pad = OptionalU32(raw, "pad", 0);
  }
  // ENOENT when fd2 is not a sync_file; EINVAL for non-zero flags/pad. The new fd is O_CLOEXEC.
  if (::ioctl(fd, SYNC_IOC_MERGE, &merge) == -1) ThrowErrno(env, errno, "SYNC_IOC_MERGE");
  Own(env, merge.fence);
  return Napi::Number::New(env, merge.fence);
}

// syncFileSetDeadline(fd, deadlineNs): a hint only (dma_fence_set_deadline); ENOTTY before 6.8.
// testHooks.syncFileSetDeadlineRaw(fd, deadlineNs, pad) (kTestHook) sets the struct's pad.
template <bool kTestHook>
void SyncFileSetDeadline(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct sync_set_deadline deadline = {};
  deadline.deadline_ns = U64Arg(info, 1);
  deadline.pad = kTestHook ? U64Arg(info, 2) : 0;
  if (::ioctl(fd, SYNC_IOC_SET_DEADLINE, &deadline) == -1) {
    ThrowErrno(info.Env(), errno, "SYNC_IOC_SET_DEADLINE");
  }
}

// Deadlines are absolute CLOCK_MONOTONIC times.
Napi::Value MonotonicNs(const Napi::CallbackInfo &info) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t ns =
      static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
  return Napi::BigInt::New(info.Env(), ns);
}

}  // namespace

void InitSyncFile(Napi::Env env, Napi::Object exports, Napi::Object testHooks) {
  exports.Set("syncFileInfo", Napi::Function::New(env, SyncFileInfo<false>, "syncFileInfo"));
  exports.Set("syncFileStatus", Napi::Function::New(env, SyncFileStatus, "syncFileStatus"));
  exports.Set("syncFileMerge", Napi::Function::New(env, SyncFileMerge<false>, "syncFileMerge"));
  exports.Set("syncFileSetDeadline",
              Napi::Function::New(env, SyncFileSetDeadline<false>, "syncFileSetDeadline"));
  testHooks.Set("syncFileInfoRaw", Napi::Function::New(env, SyncFileInfo<true>, "syncFileInfoRaw"));
  testHooks.Set("syncFileMergeRaw",
                Napi::Function::New(env, SyncFileMerge<true>, "syncFileMergeRaw"));
  testHooks.Set("syncFileSetDeadlineRaw",
                Napi::Function::New(env, SyncFileSetDeadline<true>, "syncFileSetDeadlineRaw"));
  // The library reads the same clock with process.hrtime.bigint(); tests check that it is one.
  testHooks.Set("monotonicNs", Napi::Function::New(env, MonotonicNs, "monotonicNs"));
}

}  // namespace dmabuf
