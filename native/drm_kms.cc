// DRM KMS: the calls behind dmabuf/testing's DrmScanout (lib/backend/kernel/drm-kms.ts holds the
// policy: which card, connector, CRTC and mode). One function per ioctl of drm_mode.h's legacy
// modesetting API: read the resources, a connector and an encoder, make a framebuffer of a dumb
// buffer (ADDFB2), show it (SETCRTC), flush a damaged rectangle (DIRTYFB), remove it (RMFB).
//
// The list calls (GETRESOURCES, GETCONNECTOR) are the kernel's two-step protocol: a first call with
// zero counts answers the counts, a second with arrays of that size fills them; a hotplug between
// the two makes the counts grow, so the pair is repeated until they hold (as libdrm's
// drmModeGetResources does). Like libdrm's drmIoctl, every call restarts on EINTR/EAGAIN.
#include <cerrno>
#include <cstring>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd.h"
#include "uapi.h"

namespace dmabuf {

namespace {

__u64 Ptr(const void *p) { return static_cast<__u64>(reinterpret_cast<uintptr_t>(p)); }

Napi::Array Ids(Napi::Env env, const std::vector<__u32> &ids, size_t count) {
  Napi::Array array = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) array.Set(static_cast<uint32_t>(i), ids[i]);
  return array;
}

// drmSetMaster(fd): DRM_IOCTL_SET_MASTER. The first opener of a card node is its master already
// (drm_master_open); this is for a process that dropped it. Modesetting needs master.
void SetMaster(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  if (IoctlRestarting(fd, drm::kIoctlSetMaster, nullptr) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_SET_MASTER");
  }
}

// drmModeGetResources(fd) -> { crtcs, connectors, encoders, minWidth, maxWidth, minHeight,
// maxHeight }: the object ids of the card's display pipeline.
Napi::Value GetResources(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  std::vector<__u32> crtcs, connectors, encoders;
  drm::ModeCardRes res = {};
  for (;;) {
    res = {};
    if (IoctlRestarting(fd, drm::kIoctlModeGetResources, &res) == -1) {
      ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_GETRESOURCES");
    }
    crtcs.resize(res.count_crtcs + 1);
    connectors.resize(res.count_connectors + 1);
    encoders.resize(res.count_encoders + 1);
    drm::ModeCardRes filled = res;
    filled.count_fbs = 0;  // framebuffer ids are not asked for
    filled.crtc_id_ptr = Ptr(crtcs.data());
    filled.connector_id_ptr = Ptr(connectors.data());
    filled.encoder_id_ptr = Ptr(encoders.data());
    if (IoctlRestarting(fd, drm::kIoctlModeGetResources, &filled) == -1) {
      ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_GETRESOURCES");
    }
    // The kernel fills at most the counts given and answers the true counts: equal means complete.
    if (filled.count_crtcs == res.count_crtcs && filled.count_connectors == res.count_connectors &&
        filled.count_encoders == res.count_encoders) {
      break;
    }
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("crtcs", Ids(env, crtcs, res.count_crtcs));
  result.Set("connectors", Ids(env, connectors, res.count_connectors));
  result.Set("encoders", Ids(env, encoders, res.count_encoders));
  result.Set("minWidth", res.min_width);
  result.Set("maxWidth", res.max_width);
  result.Set("minHeight", res.min_height);
  result.Set("maxHeight", res.max_height);
  return result;
}

Napi::Object Mode(Napi::Env env, const drm::ModeInfo &mode) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("name", Napi::String::New(env, mode.name, strnlen(mode.name, sizeof mode.name)));
  result.Set("width", mode.hdisplay);
  result.Set("height", mode.vdisplay);
  result.Set("vrefresh", mode.vrefresh);
  result.Set("type", mode.type);
  result.Set("flags", mode.flags);
  // The whole struct, for SETCRTC: a mode is passed back to the kernel as it came.
  Napi::ArrayBuffer raw = Napi::ArrayBuffer::New(env, sizeof mode);
  std::memcpy(raw.Data(), &mode, sizeof mode);
  result.Set("raw", raw);
  return result;
}

// drmModeGetConnector(fd, id) -> { id, type, typeId, connection, encoderId, encoders, modes }.
// connection: 1 connected, 2 disconnected, 3 unknown. Asking with count_modes 0 makes the kernel
// probe the output (drm_mode_getconnector: a forced detect), so the modes are current.
Napi::Value GetConnector(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  __u32 id = U32Arg(info, 1);
  std::vector<drm::ModeInfo> modes;
  std::vector<__u32> encoders;
  drm::ModeGetConnector conn = {};
  for (;;) {
    conn = {};
    conn.connector_id = id;
    if (IoctlRestarting(fd, drm::kIoctlModeGetConnector, &conn) == -1) {
      ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_GETCONNECTOR");
    }
    modes.resize(conn.count_modes + 1);
    encoders.resize(conn.count_encoders + 1);
    drm::ModeGetConnector filled = {};
    filled.connector_id = id;
    filled.count_modes = conn.count_modes;
    filled.count_encoders = conn.count_encoders;
    filled.modes_ptr = Ptr(modes.data());
    filled.encoders_ptr = Ptr(encoders.data());
    if (IoctlRestarting(fd, drm::kIoctlModeGetConnector, &filled) == -1) {
      ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_GETCONNECTOR");
    }
    if (filled.count_modes == conn.count_modes && filled.count_encoders == conn.count_encoders) {
      conn = filled;
      break;
    }
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", conn.connector_id);
  result.Set("type", conn.connector_type);
  result.Set("typeId", conn.connector_type_id);
  result.Set("connection", conn.connection);
  result.Set("encoderId", conn.encoder_id);
  result.Set("encoders", Ids(env, encoders, conn.count_encoders));
  Napi::Array list = Napi::Array::New(env, conn.count_modes);
  for (__u32 i = 0; i < conn.count_modes; i++) list.Set(i, Mode(env, modes[i]));
  result.Set("modes", list);
  return result;
}

// drmModeGetEncoder(fd, id) -> { id, type, crtcId, possibleCrtcs } (possibleCrtcs: a bit per
// index into GETRESOURCES' crtcs).
Napi::Value GetEncoder(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::ModeGetEncoder enc = {};
  enc.encoder_id = U32Arg(info, 1);
  if (IoctlRestarting(fd, drm::kIoctlModeGetEncoder, &enc) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_GETENCODER");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", enc.encoder_id);
  result.Set("type", enc.encoder_type);
  result.Set("crtcId", enc.crtc_id);
  result.Set("possibleCrtcs", enc.possible_crtcs);
  return result;
}

// drmModeAddFb2(fd, width, height, fourcc, handle, pitch, offset) -> framebuffer id: one plane
// of a GEM object, no modifier (the dumb buffer's linear layout).
Napi::Value AddFb2(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::ModeFbCmd2 cmd = {};
  cmd.width = U32Arg(info, 1);
  cmd.height = U32Arg(info, 2);
  cmd.pixel_format = U32Arg(info, 3);
  cmd.handles[0] = U32Arg(info, 4);
  cmd.pitches[0] = U32Arg(info, 5);
  cmd.offsets[0] = U32Arg(info, 6);
  if (IoctlRestarting(fd, drm::kIoctlModeAddFb2, &cmd) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_ADDFB2");
  }
  return Napi::Number::New(info.Env(), cmd.fb_id);
}

// drmModeSetCrtc(fd, crtcId, fbId, x, y, connectorId, modeRaw): scan framebuffer fbId out on the
// CRTC to the connector in the mode given (modeRaw: a mode's `raw` from drmModeGetConnector). With
// fbId 0 and modeRaw null the CRTC is switched off.
void SetCrtc(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::ModeCrtc crtc = {};
  crtc.crtc_id = U32Arg(info, 1);
  crtc.fb_id = U32Arg(info, 2);
  crtc.x = U32Arg(info, 3);
  crtc.y = U32Arg(info, 4);
  __u32 connector = U32Arg(info, 5);
  if (info[6].IsArrayBuffer()) {
    Napi::ArrayBuffer raw = info[6].As<Napi::ArrayBuffer>();
    if (raw.ByteLength() != sizeof crtc.mode) {
      ThrowTypeError(info.Env(), "argument 6 must be a mode's raw bytes");
    }
    std::memcpy(&crtc.mode, raw.Data(), sizeof crtc.mode);
    crtc.mode_valid = 1;
    crtc.set_connectors_ptr = Ptr(&connector);
    crtc.count_connectors = 1;
  }
  if (IoctlRestarting(fd, drm::kIoctlModeSetCrtc, &crtc) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_SETCRTC");
  }
}

// drmModeDirtyFb(fd, fbId, [x1, y1, x2, y2, ...]): tell the driver which rectangles of the
// framebuffer changed. Drivers whose scanout is not the CPU's memory (virtio-gpu: the host keeps
// its own copy of each resource) copy and flush exactly these on this call and on no other
// (drm_atomic_helper_dirtyfb → the plane update's damage clips).
void DirtyFb(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  drm::ModeFbDirtyCmd cmd = {};
  cmd.fb_id = U32Arg(info, 1);
  if (!info[2].IsArray()) ThrowTypeError(info.Env(), "argument 2 must be an array of clip corners");
  Napi::Array corners = info[2].As<Napi::Array>();
  std::vector<drm::ClipRect> clips(corners.Length() / 4);
  for (size_t i = 0; i < clips.size(); i++) {
    auto corner = [&](size_t k) {
      return static_cast<unsigned short>(
          corners.Get(static_cast<uint32_t>(i * 4 + k)).ToNumber().Uint32Value());
    };
    clips[i] = {corner(0), corner(1), corner(2), corner(3)};
  }
  cmd.num_clips = static_cast<__u32>(clips.size());
  cmd.clips_ptr = clips.empty() ? 0 : Ptr(clips.data());
  if (IoctlRestarting(fd, drm::kIoctlModeDirtyFb, &cmd) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_DIRTYFB");
  }
}

// drmModeRmFb(fd, fbId): remove a framebuffer; a CRTC still showing it is switched off.
void RmFb(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  unsigned int id = U32Arg(info, 1);
  if (IoctlRestarting(fd, drm::kIoctlModeRmFb, &id) == -1) {
    ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_RMFB");
  }
}

}  // namespace

void InitDrmKms(Napi::Env env, Napi::Object exports) {
  exports.Set("drmSetMaster", Napi::Function::New(env, SetMaster, "drmSetMaster"));
  exports.Set("drmModeGetResources", Napi::Function::New(env, GetResources, "drmModeGetResources"));
  exports.Set("drmModeGetConnector", Napi::Function::New(env, GetConnector, "drmModeGetConnector"));
  exports.Set("drmModeGetEncoder", Napi::Function::New(env, GetEncoder, "drmModeGetEncoder"));
  exports.Set("drmModeAddFb2", Napi::Function::New(env, AddFb2, "drmModeAddFb2"));
  exports.Set("drmModeSetCrtc", Napi::Function::New(env, SetCrtc, "drmModeSetCrtc"));
  exports.Set("drmModeDirtyFb", Napi::Function::New(env, DirtyFb, "drmModeDirtyFb"));
  exports.Set("drmModeRmFb", Napi::Function::New(env, RmFb, "drmModeRmFb"));
}

}  // namespace dmabuf
