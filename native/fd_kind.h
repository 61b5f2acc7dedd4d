// What an fd is: see fd_kind.cc.
#pragma once

#include <sys/stat.h>

#include <cstdint>

namespace dmabuf {

enum FdKind { kFdOther = 0, kFdDmaBuf = 1, kFdSyncFile = 2 };

// fstatfs f_type of anon-inode files (sync_file, eventfd, …): linux/magic.h ANON_INODE_FS_MAGIC.
constexpr uint32_t kAnonInodeFsMagic = 0x09041934;

// The kind of `fd`, whose fstat is `st`; -errno where the kernel would not say, with `failed`
// naming the call that failed (fstatfs or readlink).
int ClassifyFd(int fd, const struct stat &st, const char **failed);

}  // namespace dmabuf
