// Unix sockets that carry fds (SCM_RIGHTS): SOCK_SEQPACKET for FdChannel, SOCK_STREAM for
// GStreamer's unixfd protocol (lib/unixfd/), whose framing TypeScript does: a stream has no
// message boundaries, and the fds of a sendmsg arrive with the first byte of its data. Node cannot
// do this itself: libuv reads a stream socket with plain read(), which discards ancillary data, so
// the channel owns its socket here and waits for readiness with a PollWaiter (uv_poll on the env's
// loop). Every socket is close-on-exec, and the ends of a channel stay BLOCKING at the level of
// the open file description: O_NONBLOCK is a property of the description (fcntl(2)), shared with
// every process an end is handed to (a child's fd 3), whose ordinary blocking recv would then fail
// with EAGAIN. The addon never blocks all the same: sendmsg and recvmsg take MSG_DONTWAIT per call,
// and the PollWaiter says when to try again. Only a listening socket, which is never a channel end,
// is non-blocking (accept4 has no per-call flag). Received fds are close-on-exec atomically
// (MSG_CMSG_CLOEXEC). The TS layer validates arguments, types received fds and
// decides what a truncated message means; these functions are one syscall each.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd.h"
#include "fd_kind.h"

namespace dmabuf {

namespace {
// The kernel's limit on fds in one SCM_RIGHTS message (include/net/scm.h).
constexpr size_t kScmMaxFd = 253;
}  // namespace

namespace {

constexpr int kSocketFlags = SOCK_SEQPACKET | SOCK_CLOEXEC;

// The socket type an optional boolean argument asks for: SOCK_STREAM when true.
int SocketFlags(const Napi::CallbackInfo &info, size_t index) {
  bool stream = info.Length() > index && info[index].ToBoolean().Value();
  return stream ? (SOCK_STREAM | SOCK_CLOEXEC) : kSocketFlags;
}

// A sockaddr_un for `name`: a filesystem path, or (abstract) a name in the abstract namespace,
// which starts with a NUL byte and is not NUL-terminated (unix(7)). The TS layer checks the length.
socklen_t MakeAddress(const Napi::CallbackInfo &info, const std::string &name, bool abstract,
                      sockaddr_un *addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  size_t offset = abstract ? 1 : 0;
  if (name.size() + offset + (abstract ? 0 : 1) > sizeof(addr->sun_path)) {
    ThrowRangeError(info.Env(), "socket name too long for sockaddr_un");
  }
  std::memcpy(addr->sun_path + offset, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + name.size() +
                                (abstract ? 0 : 1));
}

Napi::Value NewSocket(const Napi::CallbackInfo &info, UniqueFd &fd) {
  Own(info.Env(), fd.get());
  return Napi::Number::New(info.Env(), fd.release());
}

// socketPair(stream?) → [fd, fd]
Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  int fds[2];
  if (::socketpair(AF_UNIX, SocketFlags(info, 0), 0, fds) == -1)
    ThrowErrno(info.Env(), errno, "socketpair");
  Own(info.Env(), fds[0]);
  Own(info.Env(), fds[1]);
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

// socketListen(name, abstract, mode, backlog, stream?) → fd. For a path, the socket inode gets
// `mode` before bind (bind creates the path with the inode's mode less the umask, so it is never
// more open than asked for, not even for an instant), and the path gets exactly `mode` after.
Napi::Value SocketListen(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0);
  bool abstract = info[1].ToBoolean().Value();
  mode_t mode = static_cast<mode_t>(U32Arg(info, 2)) & 07777;
  int backlog = static_cast<int>(IntArg(info, 3));
  sockaddr_un addr;
  socklen_t len = MakeAddress(info, name, abstract, &addr);
  UniqueFd fd(::socket(AF_UNIX, SocketFlags(info, 4) | SOCK_NONBLOCK, 0));
  if (fd.get() == -1) ThrowErrno(info.Env(), errno, "socket");
  if (!abstract && ::fchmod(fd.get(), mode) == -1) ThrowErrno(info.Env(), errno, "fchmod");
  if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), len) == -1)
    ThrowErrno(info.Env(), errno, "bind");
  if (!abstract && ::chmod(name.c_str(), mode) == -1) {
    int err = errno;
    ::unlink(name.c_str());
    ThrowErrno(info.Env(), err, "chmod");
  }
  if (::listen(fd.get(), backlog) == -1) {
    int err = errno;
    if (!abstract) ::unlink(name.c_str());
    ThrowErrno(info.Env(), err, "listen");
  }
  return NewSocket(info, fd);
}

// socketAccept(fd) → the connection's fd, or -1 when none is pending (EAGAIN).
Napi::Value SocketAccept(const Napi::CallbackInfo &info) {
  int fd;
  do {
    // The accepted end is blocking (no SOCK_NONBLOCK): see the top of this file.
    fd = ::accept4(FdArg(info, 0), nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), errno, "accept4");
  }
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

// socketConnect(name, abstract, stream?) → fd. A Unix connect completes at once or fails (EAGAIN:
// the listener's backlog is full); a blocking one would wait for room in the backlog, so the socket
// is non-blocking until connected, then blocking like every channel end (nobody else has it yet).
Napi::Value SocketConnect(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0);
  bool abstract = info[1].ToBoolean().Value();
  sockaddr_un addr;
  socklen_t len = MakeAddress(info, name, abstract, &addr);
  UniqueFd fd(::socket(AF_UNIX, SocketFlags(info, 2) | SOCK_NONBLOCK, 0));
  if (fd.get() == -1) ThrowErrno(info.Env(), errno, "socket");
  int ret;
  do {
    ret = ::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), len);
  } while (ret == -1 && errno == EINTR);
  if (ret == -1) ThrowErrno(info.Env(), errno, "connect");
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags == -1 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) == -1)
    ThrowErrno(info.Env(), errno, "fcntl");
  return NewSocket(info, fd);
}

// sendMsg(fd, data: Uint8Array, fds: number[]) → bytes sent, or -1 when the socket is full
// (EAGAIN: wait for POLLOUT). A SOCK_SEQPACKET message goes whole or not at all; on a
// SOCK_STREAM socket a part may go (the count says how much) and the fds go with the first byte.
Napi::Value SendMsg(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  if (!info[1].IsTypedArray()) ThrowTypeError(info.Env(), "data must be a Uint8Array");
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  if (!info[2].IsArray()) ThrowTypeError(info.Env(), "fds must be an array");
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<int> fds(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) ThrowTypeError(info.Env(), "fds must be numbers");
    fds[i] = v.As<Napi::Number>().Int32Value();
  }
  iovec iov = {data.Data(), data.ByteLength()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent == -1 && errno == EINTR);
  if (sent == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), errno, "sendmsg");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(sent));
}

// recvMsg(fd, data: Uint8Array, meta: Int32Array, stream?) → -1 when nothing is queued (EAGAIN),
// else the message's length, with its bytes in `data` (as many as fit) and in `meta`: [0] the
// MSG_TRUNC/MSG_CTRUNC flags, [1] the number of fds n, [2 .. 2+n) the fds, [2+n .. 2+2n) their
// kinds (fd_kind.cc; -errno where the kernel would not say). `meta`'s length sets the room for fds,
// (length - 2) / 2. The length is the whole message's (MSG_TRUNC makes recvmsg return it even when
// cut). Results go into the caller's typed arrays, reused from call to call, because building a
// result object per message through Node-API (its property keys internalized each time, a new
// ArrayBuffer) cost more than the recvmsg itself. Every fd that arrived is owned by this env until
// the TS layer wraps or closes it. On a stream (`stream` true) MSG_TRUNC is not passed: a stream
// has no message to cut, and at most data's length is read, the rest staying queued; a read stops
// where a sendmsg with fds begins (unix_stream_read_generic), so the fds that come belong to the
// first byte of that sendmsg.
Napi::Value RecvMsg(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowTypeError(env, "data must be a Uint8Array");
  if (!info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowTypeError(env, "meta must be an Int32Array");
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  Napi::Int32Array meta = info[2].As<Napi::Int32Array>();
  bool stream = info.Length() > 3 && info[3].ToBoolean().Value();
  if (meta.ElementLength() < 2)
    ThrowRangeError(env, "meta must have room for the flags and the count");
  // A message never carries more than SCM_MAX_FD (253) fds (net/core/scm.c).
  size_t maxFds = (meta.ElementLength() - 2) / 2;
  if (maxFds > kScmMaxFd) ThrowRangeError(env, "meta has room for more than SCM_MAX_FD (253) fds");
  iovec iov = {data.Data(), data.ByteLength()};
  // Room for SCM_MAX_FD fds, on the stack: CMSG_SPACE(253 * 4) is about 1 KiB.
  alignas(cmsghdr) char control[CMSG_SPACE(kScmMaxFd * sizeof(int))];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (maxFds > 0) {
    msg.msg_control = control;
    // CMSG_LEN, not CMSG_SPACE: the kernel passes (msg_controllen - sizeof(cmsghdr)) / sizeof(int)
    // fds (scm_max_fds in net/core/scm.c), and CMSG_SPACE's padding would fit one more than asked
    // for on an odd count.
    msg.msg_controllen = CMSG_LEN(maxFds * sizeof(int));
  }
  ssize_t length;
  do {
    length = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | (stream ? 0 : MSG_TRUNC));
  } while (length == -1 && errno == EINTR);
  if (length == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    ThrowErrno(env, errno, "recvmsg");
  }
  // Own what arrived before anything can throw, so env cleanup closes it if JS never does; type
  // each fd (fd_kind.cc) from the fstat that owning it takes.
  int32_t *out = meta.Data();
  size_t count = 0;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (count == maxFds) {  // never expected (see msg_controllen), but no fd is left behind
        ::close(got);
        msg.msg_flags |= MSG_CTRUNC;
        continue;
      }
      struct stat st;
      const char *failed = nullptr;
      out[2 + count] = got;
      out[2 + maxFds + count] = Own(env, got, &st) ? ClassifyFd(got, st, &failed) : -EBADF;
      count++;
    }
  }
  // The kinds were written after room for maxFds fds; move them up behind the count that came.
  if (count < maxFds) std::memmove(out + 2 + count, out + 2 + maxFds, count * sizeof(int32_t));
  out[0] = msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
  out[1] = static_cast<int32_t>(count);
  return Napi::Number::New(env, static_cast<double>(length));
}

// peerCredentials(fd) → { pid, uid, gid } of the process that connected (or made the pair).
Napi::Value PeerCredentials(const Napi::CallbackInfo &info) {
  ucred cred = {};
  socklen_t len = sizeof(cred);
  if (::getsockopt(FdArg(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("pid", static_cast<double>(cred.pid));
  result.Set("uid", static_cast<double>(cred.uid));
  result.Set("gid", static_cast<double>(cred.gid));
  return result;
}

// unlinkPath(path): removes a listening socket's path (ENOENT is fine: already gone).
void UnlinkPath(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0);
  if (::unlink(path.c_str()) == -1 && errno != ENOENT) ThrowErrno(info.Env(), errno, "unlink");
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("socketListen", Napi::Function::New(env, SocketListen, "socketListen"));
  exports.Set("socketAccept", Napi::Function::New(env, SocketAccept, "socketAccept"));
  exports.Set("socketConnect", Napi::Function::New(env, SocketConnect, "socketConnect"));
  exports.Set("sendMsg", Napi::Function::New(env, SendMsg, "sendMsg"));
  exports.Set("recvMsg", Napi::Function::New(env, RecvMsg, "recvMsg"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("unlinkPath", Napi::Function::New(env, UnlinkPath, "unlinkPath"));
}

}  // namespace dmabuf
