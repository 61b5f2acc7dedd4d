// P10's meter for processes it does not write (gst-launch-1.0): runs a command, waits for it with
// wait4() and prints the CPU time the kernel charged to it, all its threads together (the rusage
// of a reaped child), as one JSON line on stdout after the child's own output. Reading
// /proc/<pid>/stat instead would race the exit; `times` in a shell rounds to 10 ms.
// SIGTERM, SIGINT and SIGHUP are passed on to the child, and the child dies with this process
// (PR_SET_PDEATHSIG), so a bench that gives up leaves nothing behind.
// usage: cputime <command> [args...]
// prints {"userUs": …, "systemUs": …, "wallNs": …, "status": exit code, or -signal}
#include "common.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static volatile pid_t child = -1;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cputime <command> [args...]\n");
    return 2;
  }
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGHUP, &sa, NULL) != 0) die("sigaction");
  pid_t parent = getpid();
  uint64_t t0 = now_ns();
  child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "cputime: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(child, &status, 0, &ru) < 0)
    if (errno != EINTR) die("wait4");
  uint64_t wall = now_ns() - t0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  fflush(stdout);
  printf("{\"userUs\": %lld, \"systemUs\": %lld, \"wallNs\": %llu, \"status\": %d}\n",
         (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec, (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
         (unsigned long long)wall, code);
  return code < 0 ? 128 - code : code;
}
