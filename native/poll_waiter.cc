#include "poll_waiter.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd.h"

namespace dmabuf {

// The native side of one wait. It outlives the JS object when needed: uv handles close
// asynchronously, so this deletes itself in the last close callback.
//
// While pending, the PollWaiter object is held strongly (ObjectWrap::Ref) so GC cannot take it;
// on settle it is released. An async env cleanup hook closes the handles if the environment
// (a worker) goes away while the wait is pending; Node keeps running the loop until the hook is
// removed, which happens in the last close callback, so uv_loop_close() finds no open handle.
struct PollOp {
  napi_env env = nullptr;
  PollWaiter *wrap = nullptr;
  napi_deferred deferred = nullptr;
  napi_async_context asyncContext = nullptr;
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  uv_poll_t poll = {};
  uv_timer_t timer = {};
  int fd = -1;  // our dup of the caller's fd: what is polled
  int watcher =
      -1;  // a private epoll instance watching `fd`, for shared files (see the constructor)
  short events = 0;
  int openHandles = 0;
  bool settled = false;

  // Resolve with `value` (reject with an errno error when err != 0), then release everything.
  // inJs: called from a JS call (constructor, cancel); otherwise from a uv callback, where a
  // callback scope is needed so the promise's reactions (microtasks) run.
  void Settle(int value, int err, const char *syscall, bool inJs);
  // The environment is going away: release without touching JS.
  void Abandon();
  void CloseHandles();

  static void OnPoll(uv_poll_t *handle, int status, int events);
  static void OnTimer(uv_timer_t *handle);
  static void OnClose(uv_handle_t *handle);
  static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void *arg);
};

namespace {

int ToUvEvents(short events) {
  int uvEvents = 0;
  if (events & POLLIN) uvEvents |= UV_READABLE;
  if (events & POLLOUT) uvEvents |= UV_WRITABLE;
  if (events & POLLPRI) uvEvents |= UV_PRIORITIZED;
  // epoll always reports EPOLLERR/EPOLLHUP, but libuv only calls back for the events it was asked
  // for (it folds ERR/HUP into them); UV_DISCONNECT makes a hang-up reach us when nothing else was
  // requested.
  if (uvEvents == 0 || (events & POLLRDHUP)) uvEvents |= UV_DISCONNECT;
  return uvEvents;
}

// The epoll events a private watcher asks for (EPOLLERR and EPOLLHUP are always reported).
uint32_t ToEpollEvents(short events) {
  uint32_t epollEvents = 0;
  if (events & POLLIN) epollEvents |= EPOLLIN;
  if (events & POLLOUT) epollEvents |= EPOLLOUT;
  if (events & POLLPRI) epollEvents |= EPOLLPRI;
  if (events & POLLRDHUP) epollEvents |= EPOLLRDHUP;
  return epollEvents;
}

short FromUvEvents(int uvEvents) {
  short events = 0;
  if (uvEvents & UV_READABLE) events |= POLLIN;
  if (uvEvents & UV_WRITABLE) events |= POLLOUT;
  if (uvEvents & UV_PRIORITIZED) events |= POLLPRI;
  if (uvEvents & UV_DISCONNECT) events |= POLLHUP;
  return events;
}

// poll(2) with a zero timeout: the kernel's exact revents (libuv folds POLLHUP/POLLERR into
// READABLE/WRITABLE, so asking the kernel again is more precise). 0 if not ready, -1 on error.
int PollNow(int fd, short events) {
  struct pollfd pfd = {fd, events, 0};
  int ret;
  do {
    ret = ::poll(&pfd, 1, 0);
  } while (ret == -1 && errno == EINTR);
  if (ret <= 0) return ret;
  return pfd.revents;
}

}  // namespace

void PollOp::Settle(int value, int err, const char *syscall, bool inJs) {
  if (settled) return;
  settled = true;
  // Close (and close the dup) before settling: code after the caller's `await` runs inside the
  // resolve below and must already see the fd gone. The close callbacks that delete this op run
  // in a later loop phase, so the rest of Settle may still use it.
  CloseHandles();
  Napi::Env jsEnv(env);
  {
    Napi::HandleScope scope(jsEnv);
    auto settle = [&] {
      napi_value result;
      bool reject = err != 0;
      try {
        result = reject ? MakeErrnoError(jsEnv, err, syscall) : Napi::Number::New(jsEnv, value);
      } catch (const Napi::Error &error) {
        // The error class's constructor threw: reject with what it threw.
        result = error.Value();
        reject = true;
      }
      if (reject) {
        napi_reject_deferred(env, deferred, result);
      } else {
        napi_resolve_deferred(env, deferred, result);
      }
    };
    if (inJs) {
      settle();
    } else {
      // Nothing may propagate into libuv. During env teardown node-api refuses to run JS and the
      // promise simply stays pending (its deferred goes with the isolate).
      try {
        Napi::CallbackScope callbackScope(env, asyncContext);
        settle();
      } catch (const Napi::Error &) {
      }
    }
    deferred = nullptr;
  }
  napi_async_destroy(env, asyncContext);
  asyncContext = nullptr;
  if (wrap != nullptr) {
    wrap->op_ = nullptr;
    napi_ref ref = *wrap;  // not wrap->Unref(): that throws, and nothing may throw into libuv
    wrap = nullptr;
    uint32_t count;
    napi_reference_unref(env, ref, &count);  // the JS object may now be collected
  }
}

void PollOp::Abandon() {
  if (!settled) {
    settled = true;
    uv_poll_stop(&poll);
    uv_timer_stop(&timer);
    // The promise can no longer settle (no JS runs any more); its deferred goes with the isolate.
    if (wrap != nullptr) {
      wrap->op_ = nullptr;
      wrap = nullptr;
    }
    CloseHandles();
  }
  // Otherwise the handles are already closing; OnClose removes the hook, which ends teardown's
  // wait.
}

void PollOp::CloseHandles() {
  // Both handles were initialised together; each close callback counts down.
  uv_close(reinterpret_cast<uv_handle_t *>(&poll), OnClose);
  uv_close(reinterpret_cast<uv_handle_t *>(&timer), OnClose);
  // uv_close on a poll handle stops it at once (uv__io_stop and an immediate EPOLL_CTL_DEL), and
  // libuv never touches the fd again, so the dup can go now rather than a loop iteration later.
  ::close(fd);
  fd = -1;
  if (watcher != -1) ::close(watcher);
  watcher = -1;
}

void PollOp::OnClose(uv_handle_t *handle) {
  auto *op = static_cast<PollOp *>(handle->data);
  if (--op->openHandles > 0) return;
  napi_remove_async_cleanup_hook(op->cleanupHook);
  delete op;
}

void PollOp::OnPoll(uv_poll_t *handle, int status, int uvEvents) {
  auto *op = static_cast<PollOp *>(handle->data);
  if (status < 0) {
    // libuv reports an error on the fd itself (e.g. EPOLLERR on a broken fd): that is an answer
    // for the caller, not a failure to start, so resolve with POLLERR.
    op->Settle(POLLERR, 0, nullptr, false);
    return;
  }
  int revents = PollNow(op->fd, op->events);
  if (revents == 0) return;  // readiness went away between epoll and now: keep waiting
  op->Settle(revents > 0 ? revents : FromUvEvents(uvEvents), 0, nullptr, false);
}

void PollOp::OnTimer(uv_timer_t *handle) {
  static_cast<PollOp *>(handle->data)->Settle(0, 0, nullptr, false);
}

void PollOp::OnEnvTeardown(napi_async_cleanup_hook_handle, void *arg) {
  static_cast<PollOp *>(arg)->Abandon();
}

Napi::Function PollWaiter::Define(Napi::Env env) {
  return DefineClass(env, "PollWaiter", {InstanceMethod<&PollWaiter::Cancel>("cancel")});
}

// new PollWaiter(fd, events, timeoutMs)
PollWaiter::PollWaiter(const Napi::CallbackInfo &info) : Napi::ObjectWrap<PollWaiter>(info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  short events = static_cast<short>(U32Arg(info, 1));
  int64_t timeoutMs = IntArg(info, 2);

  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_promise(env, &deferred, &promise));
  info.This().As<Napi::Object>().DefineProperty(
      Napi::PropertyDescriptor::Value("promise", Napi::Value(env, promise), napi_enumerable));

  auto rejectNow = [&](int err, const char *syscall) {
    napi_value error = MakeErrnoError(env, err, syscall);
    napi_reject_deferred(env, deferred, error);
  };

  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (dup.get() == -1) {
    rejectNow(errno, "fcntl");
    return;
  }

  uv_loop_t *loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));

  // uv_poll_init sets O_NONBLOCK on the open file description it is given (uv__nonblock), and a
  // description is shared by every fd that refers to it, in every process (fcntl(2)). For a socket
  // or a pipe that matters: a channel end handed to a child is the same description, and the
  // child's ordinary blocking recv would fail with EAGAIN if the flag were set even for an instant.
  // So those are watched through a private epoll instance (epoll_ctl changes no flag of the file
  // it watches; an epoll fd is itself pollable and readable while a watched fd is ready), and
  // libuv gets the epoll fd. Other files (dma-bufs, sync_files: nobody reads them with a blocking
  // call) are polled directly, their previous mode restored after uv_poll_init.
  struct stat st;
  bool shared = ::fstat(dup.get(), &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));
  UniqueFd watcher(shared ? ::epoll_create1(EPOLL_CLOEXEC) : -1);
  if (shared) {
    if (watcher.get() == -1) {
      rejectNow(errno, "epoll_create1");
      return;
    }
    struct epoll_event ev = {};
    ev.events = ToEpollEvents(events);
    if (::epoll_ctl(watcher.get(), EPOLL_CTL_ADD, dup.get(), &ev) == -1) {
      rejectNow(errno, "epoll_ctl");
      return;
    }
  }
  int polled = shared ? watcher.get() : dup.get();
  int statusFlags = shared ? -1 : ::fcntl(polled, F_GETFL);
  auto *op = new PollOp();
  int err = uv_poll_init(loop, &op->poll, polled);
  if (err != 0) {
    // e.g. UV_EPERM for a regular file: epoll refuses fds without a poll operation.
    delete op;
    rejectNow(-err, "uv_poll_init");
    return;
  }
  if (statusFlags != -1 && !(statusFlags & O_NONBLOCK)) ::fcntl(polled, F_SETFL, statusFlags);
  uv_timer_init(loop, &op->timer);
  op->openHandles = 2;
  op->poll.data = op;
  op->timer.data = op;
  op->env = env;
  op->fd = dup.release();
  op->watcher = watcher.release();
  op->events = events;
  op->deferred = deferred;
  napi_async_init(env, info.This(), Napi::String::New(env, "dmabuf.PollWaiter"), &op->asyncContext);
  napi_add_async_cleanup_hook(env, PollOp::OnEnvTeardown, op, &op->cleanupHook);
  op->wrap = this;
  op_ = op;
  Ref();

  // Already ready (or a zero timeout): answer now, as poll(2) with that timeout would.
  int revents = PollNow(op->fd, events);
  if (revents != 0 || timeoutMs == 0) {
    op->Settle(revents > 0 ? revents : (revents < 0 ? POLLERR : 0), 0, nullptr, true);
    return;
  }
  // The epoll fd is readable whenever the watched fd has any of its events (or ERR/HUP).
  err = uv_poll_start(&op->poll, shared ? UV_READABLE : ToUvEvents(events), PollOp::OnPoll);
  if (err != 0) {
    op->Settle(0, -err, "uv_poll_start", true);
    return;
  }
  if (timeoutMs > 0) {
    // uv timers count from the loop's cached time, which is as old as the start of this loop
    // iteration (a busy iteration makes it milliseconds stale); without the update the wait
    // could end that much before timeoutMs.
    uv_update_time(loop);
    uv_timer_start(&op->timer, PollOp::OnTimer, static_cast<uint64_t>(timeoutMs), 0);
  }
}

PollWaiter::~PollWaiter() {
  if (op_ != nullptr) op_->wrap = nullptr;
}

void PollWaiter::Cancel(const Napi::CallbackInfo &) {
  if (op_ != nullptr) op_->Settle(-1, 0, nullptr, true);
}

void InitPollWaiter(Napi::Env env, Napi::Object exports) {
  exports.Set("PollWaiter", PollWaiter::Define(env));
}

}  // namespace dmabuf
