// Per-environment state shared by the translation units, and their registration functions.
#pragma once

#include <napi.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace dmabuf {

class MappingState;

// Which open file an fd number names (fstat's st_dev and st_ino): a number is reused as soon as it
// is closed, so the number alone cannot say that it still names the file the addon opened.
struct FileId {
  dev_t dev;
  ino_t ino;
};

// What an environment owns in the kernel: the fds the addon created or adopted, each with the
// file it named then, and the live mappings. Shared (not owned by AddonData alone) because a
// mapping can outlive both its Mapping object and the instance data when views are finalized
// late during teardown.
struct EnvResources {
  std::unordered_map<int, FileId> fds;
  std::unordered_set<MappingState *> mappings;

  // Env cleanup hook: unmap every live mapping and close every owned fd that still names its file.
  void ReleaseAll();
};

struct AddonData {
  Napi::FunctionReference makeError;  // set by init(): (errno, syscall, message) => Error
  std::shared_ptr<EnvResources> resources = std::make_shared<EnvResources>();
};

AddonData &Data(Napi::Env env);

// Record an fd the addon created (or was handed), and the file it names, so env cleanup closes it.
// The fstat it takes for that is left in `st` where given (false: fstat failed).
bool Own(Napi::Env env, int fd, struct stat *st = nullptr);
// Whether `fd` still names the file it named when `id` was taken (false once it was closed, or
// closed and reused for another file).
bool SameFile(int fd, const FileId &id);
// Forget an fd (it was closed).
void Forget(Napi::Env env, int fd);

// Registration, one per translation unit. Those with exports only tests need put them on
// `testHooks` (the addon's `testHooks` object; lib/ never uses it).
Napi::Object InitModule(Napi::Env env, Napi::Object exports);
void InitFd(Napi::Env env, Napi::Object exports, Napi::Object testHooks);
void InitHeap(Napi::Env env, Napi::Object exports, Napi::Object testHooks);
void InitUdmabuf(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitDmaBuf(Napi::Env env, Napi::Object exports);
void InitSyncFile(Napi::Env env, Napi::Object exports, Napi::Object testHooks);
void InitPollWaiter(Napi::Env env, Napi::Object exports);
void InitVgem(Napi::Env env, Napi::Object exports);
void InitV4l2(Napi::Env env, Napi::Object exports);
void InitDrmKms(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitFdKind(Napi::Env env, Napi::Object exports);

}  // namespace dmabuf
