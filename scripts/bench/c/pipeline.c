// P11 baseline: scripts/bench/pipeline.mjs's frame pipeline in C, two processes (fork) over a
// SOCK_SEQPACKET socketpair. The producer allocates 4 NV12 1920×1080 heap buffers and maps each
// once (as a FramePool's buffers stay mapped); per frame it SYNCs START/END around writing a 64×64
// luma region and sends a message of the frame message's size with the buffer's fd (SCM_RIGHTS),
// waiting for a release when all 4 are out. The consumer receives, maps the buffer, SYNCs around
// copying the region out, unmaps, closes, and sends a release of the release message's size.
// mirror=1 also makes every other syscall the package made per frame when `strace -f` was run on
// pipeline.mjs in the VM (the runtime's own, futex, mprotect, the loop's eventfd, left out), so
// the ratio is JavaScript against C: non-blocking recvmsg; on EAGAIN the addon's PollWaiter (a
// dup, its fstat, a private epoll, libuv's check that it can be polled, FIONBIO, a zero-timeout
// poll; when waited on, the loop's epoll_ctl and epoll_wait, a poll, epoll_ctl DEL, two closes);
// the producer reading releases ahead as FdChannel does while frames are lent; the consumer's
// checks of each received fd (fstat ×4, fstatfs, F_GETFD, F_GETFL). mirror=0: blocking recvmsg,
// nothing else: the syscalls the work itself needs.
// usage: pipeline <frames> <warm-up frames> <message bytes> <release bytes> <mirror 0|1>
// prints {"nsPerOp": CPU ns per frame of both processes (getrusage), "wallNsPerOp", …}
#include "common.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

enum { COUNT = 4, SIDE = 64, WIDTH = 1920, HEIGHT = 1080, X = 896, Y = 512 };
// NV12 with a 64-byte-aligned stride (1920 already is): luma rows, then half as many chroma rows.
#define FRAME_BYTES ((size_t)WIDTH * HEIGHT * 3 / 2)
#define SQUARE_AT ((size_t)Y * WIDTH + X)

static int mirror;
static int loop_ep = -1;  // the event loop's epoll instance (libuv's), for mirror=1

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u + (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static void sync_buf(int fd, uint64_t flags) {
  struct dma_buf_sync s = {.flags = flags};
  if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) die("DMA_BUF_IOCTL_SYNC");
}

// An armed PollWaiter (mirror=1): a dup of the socket watched through a private epoll, so the
// shared file description never turns non-blocking.
static struct { int armed, dup, watcher; } waiter;

// new PollWaiter(sock, POLLIN | POLLRDHUP): 0 when armed, 1 when the socket was readable at once.
static int arm(int sock) {
  int dup = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  struct stat st;
  if (dup < 0 || fstat(dup, &st) < 0) die("dup/fstat");
  int watcher = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP}, check = {.events = 0, .data.fd = watcher};
  if (watcher < 0 || epoll_ctl(watcher, EPOLL_CTL_ADD, dup, &ev) < 0) die("epoll");
  // uv_poll_init: libuv checks that the loop's epoll takes the fd, then makes it non-blocking.
  if (epoll_ctl(loop_ep, EPOLL_CTL_ADD, watcher, &check) < 0 || epoll_ctl(loop_ep, EPOLL_CTL_DEL, watcher, &check) < 0) die("epoll_ctl");
  int on = 1;
  ioctl(watcher, FIONBIO, &on);
  struct pollfd p = {dup, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) != 0) {
    close(dup);
    close(watcher);
    return 1;
  }
  waiter.armed = 1;
  waiter.dup = dup;
  waiter.watcher = watcher;
  return 0;
}

// The loop waits for the armed waiter: uv_poll_start's epoll_ctl, epoll_wait, OnPoll's poll, close.
static void await_armed(void) {
  struct epoll_event add = {.events = EPOLLIN, .data.fd = waiter.watcher}, got;
  if (epoll_ctl(loop_ep, EPOLL_CTL_ADD, waiter.watcher, &add) < 0) die("epoll_ctl");
  while (epoll_wait(loop_ep, &got, 1, -1) < 1) continue;
  struct pollfd p = {waiter.dup, POLLIN | POLLRDHUP, 0};
  poll(&p, 1, 0);
  epoll_ctl(loop_ep, EPOLL_CTL_DEL, waiter.watcher, NULL);
  close(waiter.dup);
  close(waiter.watcher);
  waiter.armed = 0;
}

// One message into data[cap], its fd (if any) into *fd; -1 with EAGAIN when `wait` is 0 and none is queued.
static ssize_t receive(int sock, char *data, size_t cap, int *fd, int wait) {
  char control[CMSG_SPACE(253 * sizeof(int))];
  for (;;) {
    if (waiter.armed) {
      if (!wait) return -1;
      await_armed();
    }
    struct iovec iov = {data, cap};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | (mirror ? MSG_DONTWAIT | MSG_TRUNC : 0));
    if (n < 0 && errno == EAGAIN && mirror) {
      if (arm(sock) == 0 && !wait) return -1;
      continue;
    }
    if (n < 0) die("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    *fd = c && c->cmsg_type == SCM_RIGHTS ? *(int *)CMSG_DATA(c) : -1;
    return n;
  }
}

static void send_msg(int sock, const char *data, size_t len, int fd) {
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {(void *)data, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  if (sendmsg(sock, &m, MSG_NOSIGNAL | (mirror ? MSG_DONTWAIT : 0)) != (ssize_t)len) die("sendmsg");
}

// The consumer: `total` frames; its CPU time over the last `measured` goes to `report`.
static void consume(int sock, long total, long measured, size_t release_bytes, int report) {
  static char data[65536];
  static unsigned char copy[SIDE * SIDE];
  char release[256];
  memset(release, 'r', sizeof release);
  uint64_t t0 = 0;
  for (long i = 0; i < total; i++) {
    if (i == total - measured) t0 = cpu_ns();
    int fd;
    if (receive(sock, data, sizeof data, &fd, 1) <= 0 || fd < 0) die("frame message");
    struct statfs sf;
    struct stat st;
    // What the package asks of a received fd, in its order: what it is, its size and identity, its flags.
    if (mirror && (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0 || fcntl(fd, F_GETFD) < 0 || fstat(fd, &st) < 0 || fstat(fd, &st) < 0 ||
                   fcntl(fd, F_GETFL) < 0))
      die("typing");
    unsigned char *map = mmap(NULL, FRAME_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
    sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    for (int r = 0; r < SIDE; r++) memcpy(copy + r * SIDE, map + SQUARE_AT + (size_t)r * WIDTH, SIDE);
    sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    if (copy[0] != copy[SIDE * SIDE - 1]) die("torn frame");
    munmap(map, FRAME_BYTES);
    if (mirror && fstat(fd, &st) < 0) die("fstat");  // the package checks the fd is still its buffer before closing it
    close(fd);
    release[0] = data[0];  // which frame: the loan number
    send_msg(sock, release, release_bytes, -1);
  }
  uint64_t used = cpu_ns() - t0;
  if (write(report, &used, sizeof used) != sizeof used) die("report");
}

// The producer: `n` frames, then every frame back.
static void produce(int sock, const int *fds, unsigned char **maps, long n, size_t message_bytes) {
  static char data[65536];
  char in[256];
  memset(data, 'f', message_bytes);
  int lent[COUNT] = {0}, out = 0;
  for (long i = 0; i < n || out > 0; i++) {
    // mirror=1: releases are read ahead as they come (FdChannel's read-ahead while frames are
    // lent), waiting only when all 4 are out or at the round's end; mirror=0: only then.
    for (int wait = out == COUNT || i >= n; out > 0; wait = out == COUNT || i >= n) {
      int none;
      if (!mirror && !wait) break;
      if (receive(sock, in, sizeof in, &none, wait) < 0) break;
      lent[(unsigned char)in[0]] = 0;
      out--;
    }
    if (i >= n) continue;
    int slot = 0;
    while (lent[slot]) slot++;
    sync_buf(fds[slot], DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    for (int r = 0; r < SIDE; r++) memset(maps[slot] + SQUARE_AT + (size_t)r * WIDTH, (int)(i & 0xff), SIDE);
    sync_buf(fds[slot], DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    data[0] = (char)slot;
    send_msg(sock, data, message_bytes, fds[slot]);
    lent[slot] = 1;
    out++;
  }
}

int main(int argc, char **argv) {
  long n = arg_or(argc, argv, 1, 2000), warm = arg_or(argc, argv, 2, 200);
  size_t message_bytes = (size_t)arg_or(argc, argv, 3, 180), release_bytes = (size_t)arg_or(argc, argv, 4, 44);
  mirror = (int)arg_or(argc, argv, 5, 1);
  if (message_bytes < 1 || message_bytes > 65536 || release_bytes < 1 || release_bytes > 256) die("message sizes");
  int sv[2], report[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 || pipe(report) != 0) die("socketpair/pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (mirror && (loop_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
  if (child == 0) {
    close(sv[0]);
    consume(sv[1], warm + n, n, release_bytes, report[1]);
    _exit(0);
  }
  close(sv[1]);
  int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) die("open /dev/dma_heap/system");
  int fds[COUNT];
  unsigned char *maps[COUNT];
  for (int i = 0; i < COUNT; i++) {
    fds[i] = heap_alloc(heap, FRAME_BYTES);
    maps[i] = mmap(NULL, FRAME_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
    if (maps[i] == MAP_FAILED) die("mmap");
  }
  produce(sv[0], fds, maps, warm, message_bytes);
  uint64_t c0 = cpu_ns(), t0 = now_ns();
  produce(sv[0], fds, maps, n, message_bytes);
  uint64_t t1 = now_ns(), producer = cpu_ns() - c0, consumer;
  if (read(report[0], &consumer, sizeof consumer) != sizeof consumer) die("consumer report");
  int status;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("consumer failed");
  printf("{\"nsPerOp\": %.1f, \"wallNsPerOp\": %.1f, \"producerNs\": %.1f, \"consumerNs\": %.1f, \"ops\": %ld}\n",
         (double)(producer + consumer) / (double)n, (double)(t1 - t0) / (double)n, (double)producer / (double)n,
         (double)consumer / (double)n, n);
  return 0;
}
