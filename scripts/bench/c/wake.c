// P5 baseline: how long after a vgem fence is signalled (VGEM_FENCE_SIGNAL from a second
// thread) a poll(POLLIN) on a sync_file exported from the fenced dma-buf returns.
// usage: wake <iterations> <delay_us>; prints {"nsPerOp": median, "meanNs": …, "ops": …}
#include "common.h"
#include <dirent.h>
#include <poll.h>
#include <pthread.h>

// DRM / vgem, with the kernel's layout (see native/uapi.h).
struct drm_version {
  int version_major, version_minor, version_patchlevel;
  size_t name_len;
  char *name;
  size_t date_len;
  char *date;
  size_t desc_len;
  char *desc;
};
struct drm_mode_create_dumb { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct drm_prime_handle { uint32_t handle, flags; int32_t fd; };
struct drm_vgem_fence_attach { uint32_t handle, flags, out_fence, pad; };
struct drm_vgem_fence_signal { uint32_t fence, flags; };
#define DRM_IOCTL_VERSION _IOWR('d', 0x00, struct drm_version)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD _IOWR('d', 0x2d, struct drm_prime_handle)
#define DRM_IOCTL_MODE_CREATE_DUMB _IOWR('d', 0xB2, struct drm_mode_create_dumb)
#define DRM_IOCTL_VGEM_FENCE_ATTACH _IOWR('d', 0x40 + 0x1, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL _IOW('d', 0x40 + 0x2, struct drm_vgem_fence_signal)
#define VGEM_FENCE_WRITE 0x1

static int open_vgem(void) {
  const char *names[] = {"card0", "card1", "card2", "card3", "renderD128", "renderD129"};
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
    char path[64], name[32] = {0};
    snprintf(path, sizeof path, "/dev/dri/%s", names[i]);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct drm_version v = {.name_len = sizeof name - 1, .name = name};
    if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0) return fd;
    close(fd);
  }
  errno = ENODEV;
  die("no vgem device in /dev/dri");
  return -1;
}

struct signal_job { int card; uint32_t fence; long delay_us; uint64_t signalled_at; };

static void *signaller(void *arg) {
  struct signal_job *job = arg;
  usleep((useconds_t)job->delay_us);  // let the main thread park in poll()
  struct drm_vgem_fence_signal s = {.fence = job->fence};
  job->signalled_at = now_ns();
  if (ioctl(job->card, DRM_IOCTL_VGEM_FENCE_SIGNAL, &s) < 0) die("VGEM_FENCE_SIGNAL");
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = arg_or(argc, argv, 1, 50), delay_us = arg_or(argc, argv, 2, 2000);
  int card = open_vgem();
  struct drm_mode_create_dumb dumb = {.height = 1, .width = 4096, .bpp = 8};
  if (ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) < 0) die("MODE_CREATE_DUMB");
  struct drm_prime_handle prime = {.handle = dumb.handle, .flags = O_CLOEXEC | O_RDWR};
  if (ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) < 0) die("PRIME_HANDLE_TO_FD");
  uint64_t *samples = calloc((size_t)n + 2, sizeof *samples);
  long warm = 2;
  for (long i = 0; i < n + warm; i++) {
    struct drm_vgem_fence_attach attach = {.handle = dumb.handle, .flags = VGEM_FENCE_WRITE};
    if (ioctl(card, DRM_IOCTL_VGEM_FENCE_ATTACH, &attach) < 0) die("VGEM_FENCE_ATTACH");
    struct dma_buf_export_sync_file exp = {.flags = DMA_BUF_SYNC_READ, .fd = -1};
    if (ioctl(prime.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp) < 0) die("EXPORT_SYNC_FILE");
    struct signal_job job = {.card = card, .fence = attach.out_fence, .delay_us = delay_us};
    pthread_t thread;
    if (pthread_create(&thread, NULL, signaller, &job) != 0) die("pthread_create");
    struct pollfd p = {.fd = exp.fd, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR) {}
    uint64_t woke = now_ns();
    if (r < 0) die("poll");
    pthread_join(thread, NULL);
    close(exp.fd);
    if (i >= warm) samples[i - warm] = woke - job.signalled_at;
  }
  double mean = 0;
  for (long i = 0; i < n; i++) mean += (double)samples[i];
  mean /= (double)n;
  qsort(samples, (size_t)n, sizeof *samples, cmp_u64);
  double median = n % 2 ? (double)samples[n / 2] : ((double)samples[n / 2 - 1] + (double)samples[n / 2]) / 2;
  printf("{\"nsPerOp\": %.1f, \"meanNs\": %.1f, \"ops\": %ld}\n", median, mean, n);
  close(prime.fd);
  close(card);
  return 0;
}
