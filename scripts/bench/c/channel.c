// P8 baseline: one message of 64 bytes and 3 fds over a SOCK_SEQPACKET socketpair, sendmsg on one
// end, recvmsg (MSG_CMSG_CLOEXEC) on the other, closing the 3 received fds, in a loop.
// usage: channel <count>; prints {"nsPerOp": …, "ops": …}
#include "common.h"  // first: it defines _GNU_SOURCE (memfd_create)

#include <sys/mman.h>
#include <sys/socket.h>

static void round_trip(int tx, int rx, const int *fds) {
  char data[64] = {1};
  char control[CMSG_SPACE(3 * sizeof(int))];
  struct iovec iov = {data, sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
  if (sendmsg(tx, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof data) die("sendmsg");
  char in[65536];
  char inControl[CMSG_SPACE(253 * sizeof(int))];
  struct iovec inIov = {in, sizeof in};
  struct msghdr r = {.msg_iov = &inIov, .msg_iovlen = 1, .msg_control = inControl, .msg_controllen = sizeof inControl};
  if (recvmsg(rx, &r, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof data) die("recvmsg");
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&r); h; h = CMSG_NXTHDR(&r, h)) {
    int n = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < n; i++) close(((int *)CMSG_DATA(h))[i]);
  }
}

int main(int argc, char **argv) {
  long n = arg_or(argc, argv, 1, 10000);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = memfd_create("bench", MFD_CLOEXEC);
    if (fds[i] < 0) die("memfd_create");
  }
  for (long i = 0; i < n / 10 + 1; i++) round_trip(sv[0], sv[1], fds);  // warm-up
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) round_trip(sv[0], sv[1], fds);
  uint64_t t1 = now_ns();
  printf("{\"nsPerOp\": %.1f, \"ops\": %ld}\n", (double)(t1 - t0) / (double)n, n);
  return 0;
}
