// Small fd helpers shared by the translation units.
#pragma once

#include <unistd.h>

namespace dmabuf {

// Owns an fd until released; closes it otherwise (error paths).
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// ioctl(2) restarted on EINTR and EAGAIN, as the dma-buf and DRM uapi documents ask
// ("can fail with -EAGAIN or -EINTR, in which case it must be restarted"). Returns the ioctl's
// result, or -1 with errno set.
int IoctlRestarting(int fd, unsigned long request, void *arg);

}  // namespace dmabuf
