#include "mapping.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace dmabuf {

MappingState::MappingState(void *address, size_t length, std::shared_ptr<EnvResources> resources)
    : address_(address), length_(length), resources_(std::move(resources)) {
  resources_->mappings.insert(this);
}

MappingState::~MappingState() {
  Unmap();
  resources_->mappings.erase(this);
}

int MappingState::Unmap() {
  if (address_ == nullptr) return 0;
  void *address = address_;
  address_ = nullptr;
  return ::munmap(address, length_) == -1 ? errno : 0;
}

namespace {

// The finalizer hint of each view: one more holder of the mapping. Runs on the JS thread when the
// view's backing store goes (GC, or env teardown).
void ReleaseView(Napi::Env, void *, std::shared_ptr<MappingState> *holder) { delete holder; }

}  // namespace

Napi::Function Mapping::Define(Napi::Env env) {
  return DefineClass(env, "Mapping",
                     {
                         InstanceAccessor<&Mapping::Length>("length"),
                         InstanceAccessor<&Mapping::Mapped>("mapped"),
                         InstanceMethod<&Mapping::View>("view"),
                         InstanceMethod<&Mapping::Detach>("detach"),
                         InstanceMethod<&Mapping::Unmap>("unmap"),
                     });
}

// new Mapping(fd, length, prot, offset, flags = MAP_SHARED)
Mapping::Mapping(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Mapping>(info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int64_t length = IntArg(info, 1);
  int prot = static_cast<int>(U32Arg(info, 2));
  int64_t offset = IntArg(info, 3);
  int flags = HasArg(info, 4) ? static_cast<int>(U32Arg(info, 4)) : MAP_SHARED;
  // mmap(2) itself answers EINVAL for length 0; a negative length must never reach it as a huge
  // size_t. Same error either way, without the syscall.
  if (length <= 0) ThrowErrno(env, EINVAL, "mmap");
  void *address =
      ::mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
  if (address == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  length_ = static_cast<size_t>(length);
  state_ = std::make_shared<MappingState>(address, length_, Data(env).resources);
}

Napi::Value Mapping::Length(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(length_));
}

Napi::Value Mapping::Mapped(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), state_ && state_->mapped());
}

// view(offset, length): an external ArrayBuffer over [offset, offset + length).
Napi::Value Mapping::View(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint64_t offset = SizeArg(info, 0);
  uint64_t length = SizeArg(info, 1);
  if (!state_ || !state_->mapped()) ThrowErrno(env, EINVAL, "view");
  if (offset > length_ || length > length_ - offset) ThrowErrno(env, EINVAL, "view");
  auto *holder = new std::shared_ptr<MappingState>(state_);
  Napi::ArrayBuffer view;
  try {
    view = Napi::ArrayBuffer::New(env, static_cast<uint8_t *>(state_->address()) + offset,
                                  static_cast<size_t>(length), ReleaseView, holder);
  } catch (...) {
    // napi_create_external_arraybuffer did not take the hint.
    delete holder;
    throw;
  }
  if (views_.size() >= pruneAt_) DropCollectedViews();
  views_.push_back(Napi::Weak(view));
  return view;
}

// Forget the weak references whose views have been collected, so a long-lived mapping that hands
// out many short-lived views does not grow without bound.
void Mapping::DropCollectedViews() {
  std::vector<Napi::Reference<Napi::ArrayBuffer>> alive;
  for (auto &ref : views_) {
    if (!ref.Value().IsEmpty()) alive.push_back(std::move(ref));
  }
  views_ = std::move(alive);
  pruneAt_ = std::max<size_t>(16, views_.size() * 2);
}

void Mapping::Detach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) ThrowTypeError(env, "argument 0 must be an ArrayBuffer");
  Napi::ArrayBuffer view = info[0].As<Napi::ArrayBuffer>();
  for (auto it = views_.begin(); it != views_.end(); ++it) {
    Napi::ArrayBuffer candidate = it->Value();
    if (!candidate.IsEmpty() && candidate.StrictEquals(view)) {
      if (!view.IsDetached()) view.Detach();
      views_.erase(it);
      return;
    }
  }
  // Already detached (by unmap() or an earlier detach()): nothing to do. Anything else is not
  // ours to detach.
  if (!view.IsDetached()) ThrowTypeError(env, "argument 0 is not a view of this mapping");
}

void Mapping::Unmap(const Napi::CallbackInfo &info) {
  if (!state_ || !state_->mapped()) return;
  // Detach first: after this no JS object can reach the range.
  for (auto &ref : views_) {
    Napi::ArrayBuffer view = ref.Value();
    if (!view.IsEmpty() && !view.IsDetached()) view.Detach();
  }
  views_.clear();
  int err = state_->Unmap();
  if (err != 0) ThrowErrno(info.Env(), err, "munmap");
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("Mapping", Mapping::Define(env));
}

}  // namespace dmabuf
