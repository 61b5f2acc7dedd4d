// One mmap()ed range and the external ArrayBuffers ("views") handed out over it.
//
// Lifetime rule: a view never points at unmapped memory.
//  - MappingState owns the range and is shared (std::shared_ptr) by the Mapping object and by the
//    finalizer hint of every view, so if the Mapping object is garbage-collected while views are
//    alive, munmap happens only when the last holder goes.
//  - Mapping::unmap() first detaches every live view (byteLength becomes 0, so no TypedArray over
//    it can reach the memory), then munmaps.
//  - The env cleanup hook munmaps whatever is left when the environment goes away; no JS runs
//    after that point.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace dmabuf {

struct EnvResources;

class MappingState {
 public:
  MappingState(void *address, size_t length, std::shared_ptr<EnvResources> resources);
  MappingState(const MappingState &) = delete;
  MappingState &operator=(const MappingState &) = delete;
  ~MappingState();

  void *address() const { return address_; }
  size_t length() const { return length_; }
  bool mapped() const { return address_ != nullptr; }
  // munmap if still mapped; returns 0 or an errno.
  int Unmap();

 private:
  void *address_;
  size_t length_;
  std::shared_ptr<EnvResources> resources_;
};

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Mapping(const Napi::CallbackInfo &info);

 private:
  Napi::Value Length(const Napi::CallbackInfo &info);
  Napi::Value Mapped(const Napi::CallbackInfo &info);
  Napi::Value View(const Napi::CallbackInfo &info);
  void Detach(const Napi::CallbackInfo &info);
  void Unmap(const Napi::CallbackInfo &info);
  void DropCollectedViews();

  std::shared_ptr<MappingState> state_;
  size_t length_ = 0;
  // Weak references: they do not keep a view alive, but let unmap() detach the ones still alive.
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views_;
  size_t pruneAt_ = 16;
};

}  // namespace dmabuf
