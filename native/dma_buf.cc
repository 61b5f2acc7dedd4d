// dma-buf fd ioctls: CPU-access SYNC, SET_NAME, and the sync_file export/import bridge (6.0).
#include <sys/ioctl.h>

#include <array>
#include <cerrno>
#include <mutex>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// Process-wide, so worker threads share them. udmabuf's first SYNC_START builds the buffer's
// sg_table without a lock (begin_cpu_udmabuf: `if (!ubuf->sg) ubuf->sg = get_sg_table(...)`), so
// two threads starting at once can both build one and leak the other: SYNC on one buffer is
// serialised. Striped by a key the caller derives from the buffer (its inode number).
std::array<std::mutex, 64> sync_locks;

// dmaBufSync(fd, flags, lockKey?): flags passed unchecked so tests can see the kernel's EINVAL.
void DmaBufSync(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct dma_buf_sync sync = {};
  sync.flags = U64Arg(info, 1);
  std::unique_lock<std::mutex> lock;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    lock = std::unique_lock<std::mutex>(sync_locks[U64Arg(info, 2) % sync_locks.size()]);
  }
  // SYNC_START waits interruptibly for the buffer's implicit fences, and the uapi says SYNC "can
  // fail with -EAGAIN or -EINTR, in which case it must be restarted".
  if (IoctlRestarting(fd, DMA_BUF_IOCTL_SYNC, &sync) == -1) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_SYNC");
  }
}

// dmaBufSetName(fd, name): the kernel copies at most DMA_BUF_NAME_LEN bytes including the NUL
// (strndup_user), so a name over 31 characters gives EINVAL.
void DmaBufSetName(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  std::string name = StringArg(info, 1);
  if (::ioctl(fd, DMA_BUF_SET_NAME, name.c_str()) == -1) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_SET_NAME");
  }
}

// dmaBufExportSyncFile(fd, flags): a snapshot of the buffer's fences as a sync_file (an already
// signalled stub when there are none). The kernel always makes the new fd O_CLOEXEC.
Napi::Value DmaBufExportSyncFile(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct dma_buf_export_sync_file exp = {};
  exp.flags = U32Arg(info, 1);
  exp.fd = -1;
  if (::ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp) == -1) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  }
  Own(info.Env(), exp.fd);
  return Napi::Number::New(info.Env(), exp.fd);
}

// dmaBufImportSyncFile(fd, flags, syncFileFd): READ adds a read fence, WRITE a write fence.
void DmaBufImportSyncFile(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct dma_buf_import_sync_file imp = {};
  imp.flags = U32Arg(info, 1);
  imp.fd = FdArg(info, 2);
  if (::ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imp) == -1) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  }
}

}  // namespace

void InitDmaBuf(Napi::Env env, Napi::Object exports) {
  exports.Set("dmaBufSync", Napi::Function::New(env, DmaBufSync, "dmaBufSync"));
  exports.Set("dmaBufSetName", Napi::Function::New(env, DmaBufSetName, "dmaBufSetName"));
  exports.Set("dmaBufExportSyncFile",
              Napi::Function::New(env, DmaBufExportSyncFile, "dmaBufExportSyncFile"));
  exports.Set("dmaBufImportSyncFile",
              Napi::Function::New(env, DmaBufImportSyncFile, "dmaBufImportSyncFile"));
}

}  // namespace dmabuf
