// PollWaiter: a promise that settles when an fd becomes ready, without blocking any thread.
//
// Built on uv_poll (epoll) on the calling environment's own loop, never uv_default_loop(), so it
// works in worker threads. The fd is duplicated (F_DUPFD_CLOEXEC) because libuv refuses a second
// uv_poll handle on the same fd number (UV_EEXIST) and because the caller may close its fd while
// the wait is pending. Sockets and pipes are watched through a private epoll instance, so that
// libuv never sets O_NONBLOCK on a description another process may be reading with blocking calls.
#pragma once

#include <napi.h>

namespace dmabuf {

struct PollOp;

class PollWaiter : public Napi::ObjectWrap<PollWaiter> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit PollWaiter(const Napi::CallbackInfo &info);
  ~PollWaiter() override;

 private:
  friend struct PollOp;
  void Cancel(const Napi::CallbackInfo &info);

  PollOp *op_ = nullptr;  // null once settled
};

}  // namespace dmabuf
