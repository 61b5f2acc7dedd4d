// P7 baseline: DMA_HEAP_IOCTL_ALLOC of a small buffer + close, in a loop.
// usage: alloc <bytes> <count>; prints {"nsPerOp": …, "ops": …}
#include "common.h"

int main(int argc, char **argv) {
  long size = arg_or(argc, argv, 1, 4096), n = arg_or(argc, argv, 2, 10000);
  int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) die("open /dev/dma_heap/system");
  for (long i = 0; i < n / 10 + 1; i++) close(heap_alloc(heap, (uint64_t)size));  // warm-up
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) close(heap_alloc(heap, (uint64_t)size));
  uint64_t t1 = now_ns();
  printf("{\"nsPerOp\": %.1f, \"ops\": %ld}\n", (double)(t1 - t0) / (double)n, n);
  close(heap);
  return 0;
}
