// What an fd is (a dma-buf, a sync_file, or anything else), told from the kernel's own answers
// before any type-specific ioctl reaches it. The one place fds are classified: FdChannel's and
// UnixFdSrc's received fds (recvMsg types them in the same call) and imports (fdKind).
//
// A dma-buf lives on the dma-buf pseudo filesystem (fstatfs f_type DMA_BUF_MAGIC); a sync_file is
// an anonymous inode the kernel names "sync_file" (sync_file_alloc → anon_inode_getfile), which
// /proc/self/fd/<fd> shows as "anon_inode:sync_file". Every anon inode shares one inode, so only
// that name tells a sync_file from an eventfd.
//
// fstatfs is asked once per filesystem (st_dev), not once per fd: the dma-buf and anon-inode
// filesystems are single internal mounts made at boot (dma_buf_init, anon_inode_init) and never
// unmounted, so their device numbers are theirs for the life of the system; a device number
// another filesystem frees and a later mount reuses can therefore never become one of them, and
// a cached "neither" stays true.
#include "fd_kind.h"

#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// A process sees a handful of filesystems; past this many the cache stops growing (and every
// further one costs its fstatfs, as before the cache).
constexpr size_t kMaxCachedFilesystems = 64;

enum class Fs : uint8_t { kDmaBuf, kAnonInode, kOther };

// Process-wide (the filesystems are), so worker threads share it; hence the mutex.
std::mutex cacheLock;
std::unordered_map<dev_t, Fs> fsByDevice;

// -errno on failure (of fstatfs).
int FilesystemOf(int fd, dev_t dev, Fs *out) {
  {
    std::lock_guard<std::mutex> hold(cacheLock);
    auto known = fsByDevice.find(dev);
    if (known != fsByDevice.end()) {
      *out = known->second;
      return 0;
    }
  }
  struct statfs st;
  if (::fstatfs(fd, &st) == -1) return -errno;
  // f_type is a signed long; the magics are 32-bit unsigned.
  uint32_t magic = static_cast<uint32_t>(st.f_type);
  *out = magic == DMA_BUF_MAGIC       ? Fs::kDmaBuf
         : magic == kAnonInodeFsMagic ? Fs::kAnonInode
                                      : Fs::kOther;
  std::lock_guard<std::mutex> hold(cacheLock);
  if (fsByDevice.size() < kMaxCachedFilesystems) fsByDevice.emplace(dev, *out);
  return 0;
}

int AnonInodeKind(int fd) {
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  char target[64];
  ssize_t n = ::readlink(link.c_str(), target, sizeof target);
  if (n == -1) return -errno;
  static constexpr char kSyncFile[] = "anon_inode:sync_file";
  bool syncFile =
      static_cast<size_t>(n) == sizeof kSyncFile - 1 && std::memcmp(target, kSyncFile, n) == 0;
  return syncFile ? kFdSyncFile : kFdOther;
}

// fdKind(fd) → 0 other, 1 dma-buf, 2 sync_file.
Napi::Value FdKindJs(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct stat st;
  if (::fstat(fd, &st) == -1) ThrowErrno(info.Env(), errno, "fstat");
  const char *failed = nullptr;
  int kind = ClassifyFd(fd, st, &failed);
  if (kind < 0) ThrowErrno(info.Env(), -kind, failed);
  return Napi::Number::New(info.Env(), kind);
}

}  // namespace

int ClassifyFd(int fd, const struct stat &st, const char **failed) {
  Fs fs = Fs::kOther;
  int error = FilesystemOf(fd, st.st_dev, &fs);
  if (error < 0) {
    *failed = "fstatfs";
    return error;
  }
  if (fs == Fs::kDmaBuf) return kFdDmaBuf;
  if (fs != Fs::kAnonInode) return kFdOther;
  int kind = AnonInodeKind(fd);
  if (kind < 0) *failed = "readlink";
  return kind;
}

void InitFdKind(Napi::Env env, Napi::Object exports) {
  exports.Set("fdKind", Napi::Function::New(env, FdKindJs, "fdKind"));
}

}  // namespace dmabuf
