// P1 baseline: SYNC START/END (READ|WRITE) pairs on one mmapped system-heap buffer.
// usage: sync <bytes> <pairs>; prints {"nsPerOp": …, "ops": …}
#include "common.h"
#include <sys/mman.h>

static void sync_ioctl(int fd, uint64_t flags) {
  struct dma_buf_sync s = {.flags = flags};
  while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) {
    if (errno != EINTR && errno != EAGAIN) die("DMA_BUF_IOCTL_SYNC");
  }
}

int main(int argc, char **argv) {
  long size = arg_or(argc, argv, 1, 1 << 20), n = arg_or(argc, argv, 2, 10000);
  int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) die("open /dev/dma_heap/system");
  int fd = heap_alloc(heap, (uint64_t)size);
  void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) die("mmap");
  for (long i = 0; i < n / 10 + 1; i++) {  // warm-up
    sync_ioctl(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
    sync_ioctl(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
  }
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    sync_ioctl(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
    sync_ioctl(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
  }
  uint64_t t1 = now_ns();
  printf("{\"nsPerOp\": %.1f, \"ops\": %ld}\n", (double)(t1 - t0) / (double)n, n);
  munmap(map, (size_t)size);
  close(fd);
  close(heap);
  return 0;
}
