/*
 * Exports CUDA device memory as a real dma-buf (cuMemGetHandleForAddressRange with
 * CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, CUDA 11.7+ with the open kernel module) and runs a command
 * with the fd number in DMABUF_FD, the fd left inheritable. libcuda is loaded with dlopen, so no
 * CUDA headers or toolkit are needed to build this.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef unsigned long long CUdeviceptr;
#define CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD 1

static void *sym(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (!f) {
    fprintf(stderr, "cuda-export: %s missing from libcuda\n", name);
    exit(2);
  }
  return f;
}

#define CHECK(call)                                                  \
  do {                                                               \
    CUresult r_ = (call);                                            \
    if (r_ != 0) {                                                   \
      fprintf(stderr, "cuda-export: %s failed: %d\n", #call, r_);    \
      return 2;                                                      \
    }                                                                \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cuda-export <command> [args...]\n");
    return 2;
  }
  void *lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "cuda-export: %s\n", dlerror());
    return 2;
  }
  CUresult (*cuInit)(unsigned) = sym(lib, "cuInit");
  CUresult (*cuDeviceGet)(CUdevice *, int) = sym(lib, "cuDeviceGet");
  CUresult (*cuCtxCreate)(CUcontext *, unsigned, CUdevice) = sym(lib, "cuCtxCreate_v2");
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = sym(lib, "cuMemAlloc_v2");
  CUresult (*cuGetHandle)(void *, CUdeviceptr, size_t, int, unsigned long long) =
      sym(lib, "cuMemGetHandleForAddressRange");

  const size_t size = 2 << 20;
  CUdevice dev;
  CUcontext ctx;
  CUdeviceptr ptr;
  int fd = -1;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&dev, 0));
  CHECK(cuCtxCreate(&ctx, 0, dev));
  CHECK(cuMemAlloc(&ptr, size));
  CHECK(cuGetHandle(&fd, ptr, size, CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0));
  /* The child must inherit it: clear FD_CLOEXEC. */
  fcntl(fd, F_SETFD, 0);
  char value[16];
  snprintf(value, sizeof value, "%d", fd);
  setenv("DMABUF_FD", value, 1);
  snprintf(value, sizeof value, "%zu", size);
  setenv("DMABUF_SIZE", value, 1);
  execvp(argv[1], argv + 1);
  perror("cuda-export: exec");
  return 2;
}
