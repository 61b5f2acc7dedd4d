// dma-heap: DMA_HEAP_IOCTL_ALLOC on an open /dev/dma_heap/<name>.
//
// The heap device may be opened O_RDONLY: dma_heap_ioctl() never checks the file mode, so write
// access is not needed (libdmabufheap and libcamera open it read-only).
#include <sys/ioctl.h>

#include <cerrno>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "uapi.h"

namespace dmabuf {

namespace {

// heapAlloc(heapFd, len, fdFlags, heapFlags); as testHooks.heapAllocRaw (kTestHook) it takes
// inputFd as well.
template <bool kTestHook>
Napi::Value HeapAlloc(const Napi::CallbackInfo &info) {
  int heapFd = FdArg(info, 0);
  struct dma_heap_allocation_data data = {};
  data.len = SizeArg(info, 1);
  // Passed as given: the kernel refuses bits outside O_CLOEXEC|O_ACCMODE with EINVAL, and the TS
  // layer always asks for O_RDWR|O_CLOEXEC.
  data.fd_flags = U32Arg(info, 2);
  data.heap_flags = U64Arg(info, 3);
  // The kernel requires fd == 0 on input (EINVAL otherwise); tests set it to see that check.
  data.fd = kTestHook ? U32Arg(info, 4) : 0;
  // dma_heap_ioctl() dispatches on _IOC_NR only and zero-pads or truncates other struct sizes, so
  // the number must be exactly _IOWR('H', 0, struct dma_heap_allocation_data) for the fd to be
  // copied back. Not restarted: EINTR here means a fatal signal is pending.
  if (::ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, &data) == -1) {
    ThrowErrno(info.Env(), errno, "DMA_HEAP_IOCTL_ALLOC");
  }
  int fd = static_cast<int>(data.fd);
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitHeap(Napi::Env env, Napi::Object exports, Napi::Object testHooks) {
  exports.Set("heapAlloc", Napi::Function::New(env, HeapAlloc<false>, "heapAlloc"));
  testHooks.Set("heapAllocRaw", Napi::Function::New(env, HeapAlloc<true>, "heapAllocRaw"));
}

}  // namespace dmabuf
