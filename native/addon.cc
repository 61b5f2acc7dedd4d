// Module init: per-environment instance data, init(errorClass), constants, and the env cleanup
// hook that unmaps and closes everything the environment still owns (a worker thread exiting).
#include "addon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "errors.h"
#include "fd_kind.h"
#include "mapping.h"
#include "uapi.h"

namespace dmabuf {

void EnvResources::ReleaseAll() {
  // Copy first: MappingState::Unmap does not erase, but be independent of that.
  std::vector<MappingState *> mappings(this->mappings.begin(), this->mappings.end());
  for (MappingState *mapping : mappings) mapping->Unmap();
  // An fd closed behind the addon's back (fs.closeSync on buf.fd) may name someone else's file now.
  for (const auto &[fd, id] : fds)
    if (SameFile(fd, id)) ::close(fd);
  fds.clear();
}

AddonData &Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

bool Own(Napi::Env env, int fd, struct stat *st) {
  struct stat local;
  if (st == nullptr) st = &local;
  // fd was just made or checked open by the caller; an fstat failure leaves an id no file has.
  FileId id{0, 0};
  bool known = ::fstat(fd, st) == 0;
  if (known) id = FileId{st->st_dev, st->st_ino};
  Data(env).resources->fds.insert_or_assign(fd, id);
  return known;
}

bool SameFile(int fd, const FileId &id) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino;
}

void Forget(Napi::Env env, int fd) { Data(env).resources->fds.erase(fd); }

namespace {

// Runs when the environment is torn down, before the instance data and the wrapped objects are
// finalized, after the last JS has run: no view can be touched any more, so munmap is safe even
// with views alive; their finalizers later find the state already unmapped.
void CleanupEnv(void *arg) {
  auto *resources = static_cast<std::shared_ptr<EnvResources> *>(arg);
  (*resources)->ReleaseAll();
  delete resources;
}

void Init(const Napi::CallbackInfo &info) {
  if (!info[0].IsFunction()) ThrowTypeError(info.Env(), "argument 0 must be an error factory");
  Data(info.Env()).makeError = Napi::Persistent(info[0].As<Napi::Function>());
}

void SetNumber(Napi::Object object, const char *name, double value) {
  object.Set(name, Napi::Number::New(object.Env(), value));
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  SetNumber(c, "PAGE_SIZE", static_cast<double>(sysconf(_SC_PAGESIZE)));
  SetNumber(c, "O_RDONLY", O_RDONLY);
  SetNumber(c, "O_WRONLY", O_WRONLY);
  SetNumber(c, "O_RDWR", O_RDWR);
  SetNumber(c, "O_CLOEXEC", O_CLOEXEC);
  SetNumber(c, "O_NONBLOCK", O_NONBLOCK);
  SetNumber(c, "FD_CLOEXEC", FD_CLOEXEC);
  SetNumber(c, "PROT_READ", PROT_READ);
  SetNumber(c, "PROT_WRITE", PROT_WRITE);
  SetNumber(c, "MAP_SHARED", MAP_SHARED);
  SetNumber(c, "MAP_PRIVATE", MAP_PRIVATE);
  SetNumber(c, "MFD_CLOEXEC", MFD_CLOEXEC);
  SetNumber(c, "MFD_ALLOW_SEALING", MFD_ALLOW_SEALING);
  SetNumber(c, "F_SEAL_SEAL", F_SEAL_SEAL);
  SetNumber(c, "F_SEAL_SHRINK", F_SEAL_SHRINK);
  SetNumber(c, "F_SEAL_GROW", F_SEAL_GROW);
  SetNumber(c, "F_SEAL_WRITE", F_SEAL_WRITE);
  SetNumber(c, "F_SEAL_FUTURE_WRITE", F_SEAL_FUTURE_WRITE);
  SetNumber(c, "SEEK_SET", SEEK_SET);
  SetNumber(c, "SEEK_CUR", SEEK_CUR);
  SetNumber(c, "SEEK_END", SEEK_END);
  SetNumber(c, "POLLIN", POLLIN);
  SetNumber(c, "POLLOUT", POLLOUT);
  SetNumber(c, "POLLERR", POLLERR);
  SetNumber(c, "POLLHUP", POLLHUP);
  SetNumber(c, "POLLNVAL", POLLNVAL);
  SetNumber(c, "POLLRDHUP", POLLRDHUP);
  SetNumber(c, "MSG_TRUNC", MSG_TRUNC);
  SetNumber(c, "MSG_CTRUNC", MSG_CTRUNC);
  SetNumber(c, "ANON_INODE_FS_MAGIC", kAnonInodeFsMagic);
  SetNumber(c, "DMA_BUF_SYNC_READ", DMA_BUF_SYNC_READ);
  SetNumber(c, "DMA_BUF_SYNC_WRITE", DMA_BUF_SYNC_WRITE);
  SetNumber(c, "DMA_BUF_SYNC_RW", DMA_BUF_SYNC_RW);
  SetNumber(c, "DMA_BUF_SYNC_START", DMA_BUF_SYNC_START);
  SetNumber(c, "DMA_BUF_SYNC_END", DMA_BUF_SYNC_END);
  SetNumber(c, "DMA_BUF_MAGIC", DMA_BUF_MAGIC);
  SetNumber(c, "DMA_BUF_NAME_LEN", DMA_BUF_NAME_LEN);
  SetNumber(c, "UDMABUF_FLAGS_CLOEXEC", UDMABUF_FLAGS_CLOEXEC);
  SetNumber(c, "DRM_CLOEXEC", drm::kCloexec);
  SetNumber(c, "DRM_RDWR", drm::kRdwr);
  SetNumber(c, "VGEM_FENCE_WRITE", drm::kVgemFenceWrite);
  // ioctl numbers as the kernel macros compute them for this target.
  SetNumber(c, "DMA_BUF_IOCTL_SYNC", static_cast<unsigned long>(DMA_BUF_IOCTL_SYNC));
  SetNumber(c, "DMA_BUF_SET_NAME", static_cast<unsigned long>(DMA_BUF_SET_NAME));
  SetNumber(c, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE",
            static_cast<unsigned long>(DMA_BUF_IOCTL_EXPORT_SYNC_FILE));
  SetNumber(c, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE",
            static_cast<unsigned long>(DMA_BUF_IOCTL_IMPORT_SYNC_FILE));
  SetNumber(c, "DMA_HEAP_IOCTL_ALLOC", static_cast<unsigned long>(DMA_HEAP_IOCTL_ALLOC));
  SetNumber(c, "UDMABUF_CREATE", static_cast<unsigned long>(UDMABUF_CREATE));
  SetNumber(c, "UDMABUF_CREATE_LIST", static_cast<unsigned long>(UDMABUF_CREATE_LIST));
  SetNumber(c, "SYNC_IOC_MERGE", static_cast<unsigned long>(SYNC_IOC_MERGE));
  SetNumber(c, "SYNC_IOC_FILE_INFO", static_cast<unsigned long>(SYNC_IOC_FILE_INFO));
  SetNumber(c, "SYNC_IOC_SET_DEADLINE", static_cast<unsigned long>(SYNC_IOC_SET_DEADLINE));
  c.Freeze();
  return c;
}

}  // namespace

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  auto *data = new AddonData();
  env.SetInstanceData(data);
  // The hook holds its own reference: the resources may outlive the instance data (a view
  // finalized late still points at its mapping's state, which points at the resources).
  napi_add_env_cleanup_hook(env, CleanupEnv, new std::shared_ptr<EnvResources>(data->resources));

  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("constants", Constants(env));
  // Calls only tests make (the kernel's own checks, raw struct fields), kept apart from the
  // library's exports so that lib/ cannot come to depend on them.
  Napi::Object testHooks = Napi::Object::New(env);
  InitFd(env, exports, testHooks);
  InitHeap(env, exports, testHooks);
  InitUdmabuf(env, exports);
  InitMapping(env, exports);
  InitDmaBuf(env, exports);
  InitSyncFile(env, exports, testHooks);
  InitPollWaiter(env, exports);
  InitVgem(env, exports);
  InitV4l2(env, exports);
  InitDrmKms(env, exports);
  InitSocket(env, exports);
  InitFdKind(env, exports);
  testHooks.Freeze();
  exports.Set("testHooks", testHooks);
  return exports;
}

}  // namespace dmabuf

namespace {
Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return dmabuf::InitModule(env, exports);
}
}  // namespace

NODE_API_MODULE(dmabuf, InitAddon)
