// V4L2: the video device calls behind dmabuf/testing's VividCamera (lib/backend/kernel/v4l2.ts
// holds the policy: which node, which format, when to stream). One function per ioctl; only the
// single-planar buffer types, which is what vivid's default instance offers (multiplanar=1). The
// connector calls (ENUMINPUT/S_INPUT, ENUMOUTPUT/S_OUTPUT) serve VividLoop, which wires vivid's
// HDMI output to its HDMI input.
//
// The video fd is opened O_NONBLOCK by the caller, so VIDIOC_DQBUF answers EAGAIN instead of
// sleeping in the driver (videobuf2's __vb2_wait_for_done_vb); the wait is a PollWaiter on the
// fd: vb2_poll reports EPOLLIN when a capture buffer is done, EPOLLERR when nothing is queued or
// the queue is not streaming. Like libv4l2's xioctl, the calls restart on EINTR only: EAGAIN
// from DQBUF is an answer ("nothing done yet"), not a reason to retry.
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

// Layout checks against include/uapi/linux/videodev2.h on LP64 (../shared/reference/real-kernel.md,
// "vivid"): what the numbers of the ioctls below encode.
#if __SIZEOF_POINTER__ == 8
static_assert(sizeof(struct v4l2_capability) == 104);
static_assert(sizeof(struct v4l2_format) == 208);
static_assert(offsetof(struct v4l2_format, fmt) == 8);
static_assert(sizeof(struct v4l2_requestbuffers) == 20);
static_assert(sizeof(struct v4l2_buffer) == 88);
static_assert(offsetof(struct v4l2_buffer, memory) == 60);
static_assert(offsetof(struct v4l2_buffer, m) == 64);
static_assert(offsetof(struct v4l2_buffer, length) == 72);
static_assert(sizeof(struct v4l2_exportbuffer) == 64);
#endif

namespace dmabuf {

namespace {

int Xioctl(int fd, unsigned long request, void *arg) {
  int ret;
  do {
    ret = ::ioctl(fd, request, arg);
  } while (ret == -1 && errno == EINTR);
  return ret;
}

// A NUL-padded __u8 array of the uapi as a JS string (the kernel may fill it to the last byte).
Napi::String FixedString(Napi::Env env, const __u8 *bytes, size_t size) {
  const char *text = reinterpret_cast<const char *>(bytes);
  return Napi::String::New(env, text, strnlen(text, size));
}

void Set(Napi::Object object, const char *key, double value) {
  object.Set(key, Napi::Number::New(object.Env(), value));
}

Napi::Object PixFormat(Napi::Env env, const struct v4l2_pix_format &pix) {
  Napi::Object result = Napi::Object::New(env);
  Set(result, "width", pix.width);
  Set(result, "height", pix.height);
  Set(result, "pixelformat", pix.pixelformat);
  Set(result, "field", pix.field);
  Set(result, "bytesperline", pix.bytesperline);
  Set(result, "sizeimage", pix.sizeimage);
  Set(result, "colorspace", pix.colorspace);
  return result;
}

// v4l2QueryCap(fd) -> { driver, card, busInfo, version, capabilities, deviceCaps }
Napi::Value QueryCap(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_capability cap = {};
  if (Xioctl(fd, VIDIOC_QUERYCAP, &cap) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_QUERYCAP");
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("driver", FixedString(env, cap.driver, sizeof cap.driver));
  result.Set("card", FixedString(env, cap.card, sizeof cap.card));
  result.Set("busInfo", FixedString(env, cap.bus_info, sizeof cap.bus_info));
  Set(result, "version", cap.version);
  Set(result, "capabilities", cap.capabilities);
  // device_caps is valid only with V4L2_CAP_DEVICE_CAPS (3.3+); otherwise capabilities is the
  // node's.
  Set(result, "deviceCaps",
      (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities);
  return result;
}

// v4l2EnumFormat(fd, type, index) -> { pixelformat, description, flags } | null. The driver
// answers EINVAL for the first index past its list (the uapi's end-of-list signal).
Napi::Value EnumFormat(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_fmtdesc desc = {};
  desc.type = U32Arg(info, 1);
  desc.index = U32Arg(info, 2);
  if (Xioctl(fd, VIDIOC_ENUM_FMT, &desc) == -1) {
    if (errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_ENUM_FMT");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Set(result, "pixelformat", desc.pixelformat);
  result.Set("description", FixedString(env, desc.description, sizeof desc.description));
  Set(result, "flags", desc.flags);
  return result;
}

// v4l2GetFormat(fd, type) -> the single-planar pix format.
Napi::Value GetFormat(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_format format = {};
  format.type = U32Arg(info, 1);
  if (Xioctl(fd, VIDIOC_G_FMT, &format) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_G_FMT");
  return PixFormat(info.Env(), format.fmt.pix);
}

// v4l2SetFormat(fd, type, { width, height, pixelformat, field, bytesperline }, tryOnly) -> what
// the driver took (S_FMT) or would take (TRY_FMT, which changes nothing: drivers adjust the
// request to the nearest they support rather than refuse it).
Napi::Value SetFormat(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  if (!info[2].IsObject()) ThrowTypeError(info.Env(), "argument 2 must be a format object");
  Napi::Object pix = info[2].As<Napi::Object>();
  bool tryOnly = info[3].ToBoolean();
  struct v4l2_format format = {};
  format.type = U32Arg(info, 1);
  format.fmt.pix.width = static_cast<__u32>(SizeProp(pix, "width", "format"));
  format.fmt.pix.height = static_cast<__u32>(SizeProp(pix, "height", "format"));
  format.fmt.pix.pixelformat = static_cast<__u32>(SizeProp(pix, "pixelformat", "format"));
  format.fmt.pix.field = static_cast<__u32>(SizeProp(pix, "field", "format"));
  format.fmt.pix.bytesperline = static_cast<__u32>(SizeProp(pix, "bytesperline", "format"));
  const char *syscall = tryOnly ? "VIDIOC_TRY_FMT" : "VIDIOC_S_FMT";
  if (Xioctl(fd, tryOnly ? VIDIOC_TRY_FMT : VIDIOC_S_FMT, &format) == -1) {
    ThrowErrno(info.Env(), errno, syscall);
  }
  return PixFormat(info.Env(), format.fmt.pix);
}

// v4l2QueryControl(fd, id) -> { id, type, name, minimum, maximum, step, defaultValue, flags } |
// null. With V4L2_CTRL_FLAG_NEXT_CTRL or'ed into id the driver answers the next control after it;
// EINVAL means no such (or no further) control.
Napi::Value QueryControl(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_queryctrl query = {};
  query.id = U32Arg(info, 1);
  if (Xioctl(fd, VIDIOC_QUERYCTRL, &query) == -1) {
    if (errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_QUERYCTRL");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Set(result, "id", query.id);
  Set(result, "type", query.type);
  result.Set("name", FixedString(env, query.name, sizeof query.name));
  Set(result, "minimum", query.minimum);
  Set(result, "maximum", query.maximum);
  Set(result, "step", query.step);
  Set(result, "defaultValue", query.default_value);
  Set(result, "flags", query.flags);
  return result;
}

// v4l2QueryMenu(fd, id, index) -> the item's name, or null where the menu has no item at that
// index (EINVAL: menus may skip indices).
Napi::Value QueryMenu(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_querymenu menu = {};
  menu.id = U32Arg(info, 1);
  menu.index = U32Arg(info, 2);
  if (Xioctl(fd, VIDIOC_QUERYMENU, &menu) == -1) {
    if (errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_QUERYMENU");
  }
  return FixedString(info.Env(), menu.name, sizeof menu.name);
}

// v4l2SetControl(fd, id, value)
void SetControl(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_control control = {};
  control.id = U32Arg(info, 1);
  control.value = static_cast<__s32>(IntArg(info, 2));
  if (Xioctl(fd, VIDIOC_S_CTRL, &control) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_S_CTRL");
}

// v4l2GetControl(fd, id) -> value
Napi::Value GetControl(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_control control = {};
  control.id = U32Arg(info, 1);
  if (Xioctl(fd, VIDIOC_G_CTRL, &control) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_G_CTRL");
  return Napi::Number::New(info.Env(), control.value);
}

// v4l2EnumInput(fd, index) / v4l2EnumOutput(fd, index) -> { index, name, type, capabilities } |
// null: the node's connectors (VIDIOC_ENUMINPUT / VIDIOC_ENUMOUTPUT). The driver answers EINVAL
// for the first index past its list. capabilities carries V4L2_IN_CAP_DV_TIMINGS (an HDMI-like
// connector) or V4L2_IN_CAP_STD (an analog one); the output flags have the same values.
Napi::Value EnumInput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_input input = {};
  input.index = U32Arg(info, 1);
  if (Xioctl(fd, VIDIOC_ENUMINPUT, &input) == -1) {
    if (errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_ENUMINPUT");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Set(result, "index", input.index);
  result.Set("name", FixedString(env, input.name, sizeof input.name));
  Set(result, "type", input.type);
  Set(result, "capabilities", input.capabilities);
  return result;
}

Napi::Value EnumOutput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_output output = {};
  output.index = U32Arg(info, 1);
  if (Xioctl(fd, VIDIOC_ENUMOUTPUT, &output) == -1) {
    if (errno == EINVAL) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_ENUMOUTPUT");
  }
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Set(result, "index", output.index);
  result.Set("name", FixedString(env, output.name, sizeof output.name));
  Set(result, "type", output.type);
  Set(result, "capabilities", output.capabilities);
  return result;
}

// v4l2GetInput(fd) / v4l2GetOutput(fd) -> the selected connector's index (VIDIOC_G_INPUT /
// VIDIOC_G_OUTPUT).
Napi::Value GetInput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int index = 0;
  if (Xioctl(fd, VIDIOC_G_INPUT, &index) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_G_INPUT");
  return Napi::Number::New(info.Env(), index);
}

Napi::Value GetOutput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int index = 0;
  if (Xioctl(fd, VIDIOC_G_OUTPUT, &index) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_G_OUTPUT");
  return Napi::Number::New(info.Env(), index);
}

// v4l2SetInput(fd, index) / v4l2SetOutput(fd, index): select a connector (VIDIOC_S_INPUT /
// VIDIOC_S_OUTPUT). Drivers refuse with EBUSY while the queue has buffers (vb2_is_busy), and may
// change the format to the connector's (vivid: an HDMI input takes its DV timings' size).
void SetInput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int index = static_cast<int>(U32Arg(info, 1));
  if (Xioctl(fd, VIDIOC_S_INPUT, &index) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_S_INPUT");
}

void SetOutput(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int index = static_cast<int>(U32Arg(info, 1));
  if (Xioctl(fd, VIDIOC_S_OUTPUT, &index) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_S_OUTPUT");
}

// v4l2RequestBuffers(fd, type, memory, count) -> the count the driver allocated (it may raise
// it to its minimum; 0 frees every buffer, which fails with EBUSY while one is mapped or
// exported and still in use).
Napi::Value RequestBuffers(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_requestbuffers request = {};
  request.type = U32Arg(info, 1);
  request.memory = U32Arg(info, 2);
  request.count = U32Arg(info, 3);
  if (Xioctl(fd, VIDIOC_REQBUFS, &request) == -1) {
    ThrowErrno(info.Env(), errno, "VIDIOC_REQBUFS");
  }
  return Napi::Number::New(info.Env(), request.count);
}

// v4l2QueryBuffer(fd, type, memory, index) -> { length, flags }
Napi::Value QueryBuffer(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_buffer buffer = {};
  buffer.type = U32Arg(info, 1);
  buffer.memory = U32Arg(info, 2);
  buffer.index = U32Arg(info, 3);
  if (Xioctl(fd, VIDIOC_QUERYBUF, &buffer) == -1) {
    ThrowErrno(info.Env(), errno, "VIDIOC_QUERYBUF");
  }
  Napi::Object result = Napi::Object::New(info.Env());
  Set(result, "length", buffer.length);
  Set(result, "flags", buffer.flags);
  return result;
}

// v4l2QueueBuffer(fd, type, memory, index, dmaBufFd, length, bytesused): dmaBufFd and length
// are the V4L2_MEMORY_DMABUF buffer (m.fd, and the bytes of it the driver may use); both are
// ignored for V4L2_MEMORY_MMAP. bytesused is what an output buffer holds (0 for capture).
void QueueBuffer(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_buffer buffer = {};
  buffer.type = U32Arg(info, 1);
  buffer.memory = U32Arg(info, 2);
  buffer.index = U32Arg(info, 3);
  if (buffer.memory == V4L2_MEMORY_DMABUF) {
    buffer.m.fd = FdArg(info, 4);
    buffer.length = static_cast<__u32>(SizeArg(info, 5));
  }
  buffer.bytesused = static_cast<__u32>(SizeArg(info, 6));
  buffer.field = V4L2_FIELD_NONE;
  if (Xioctl(fd, VIDIOC_QBUF, &buffer) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_QBUF");
}

// v4l2DequeueBuffer(fd, type, memory) -> { index, bytesused, flags, field, sequence, timestampUs }
// or null when no buffer is done yet (EAGAIN: the fd is O_NONBLOCK).
Napi::Value DequeueBuffer(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_buffer buffer = {};
  buffer.type = U32Arg(info, 1);
  buffer.memory = U32Arg(info, 2);
  if (Xioctl(fd, VIDIOC_DQBUF, &buffer) == -1) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "VIDIOC_DQBUF");
  }
  Napi::Object result = Napi::Object::New(info.Env());
  Set(result, "index", buffer.index);
  Set(result, "bytesused", buffer.bytesused);
  Set(result, "flags", buffer.flags);
  Set(result, "field", buffer.field);
  Set(result, "sequence", buffer.sequence);
  Set(result, "timestampUs",
      static_cast<double>(buffer.timestamp.tv_sec) * 1e6 +
          static_cast<double>(buffer.timestamp.tv_usec));
  return result;
}

// v4l2ExportBuffer(fd, type, index, flags) -> a dma-buf fd of the driver's own buffer
// (VIDIOC_EXPBUF; O_CLOEXEC is always added; flags carries the access mode, O_RDWR to map it
// writable). The export holds the buffer: REQBUFS 0 then fails with EBUSY until it is closed.
Napi::Value ExportBuffer(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  struct v4l2_exportbuffer request = {};
  request.type = U32Arg(info, 1);
  request.index = U32Arg(info, 2);
  request.flags = U32Arg(info, 3) | O_CLOEXEC;
  request.fd = -1;
  if (Xioctl(fd, VIDIOC_EXPBUF, &request) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_EXPBUF");
  Own(info.Env(), request.fd);
  return Napi::Number::New(info.Env(), request.fd);
}

// v4l2StreamOn(fd, type) / v4l2StreamOff(fd, type). STREAMOFF returns every queued buffer to
// userspace (vb2 dequeues them all), so nothing stays queued in the driver after it.
void StreamOn(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int type = static_cast<int>(U32Arg(info, 1));
  if (Xioctl(fd, VIDIOC_STREAMON, &type) == -1) ThrowErrno(info.Env(), errno, "VIDIOC_STREAMON");
}

void StreamOff(const Napi::CallbackInfo &info) {
  int fd = FdArg(info, 0);
  int type = static_cast<int>(U32Arg(info, 1));
  if (Xioctl(fd, VIDIOC_STREAMOFF, &type) == -1) {
    ThrowErrno(info.Env(), errno, "VIDIOC_STREAMOFF");
  }
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  Set(c, "V4L2_BUF_TYPE_VIDEO_CAPTURE", V4L2_BUF_TYPE_VIDEO_CAPTURE);
  Set(c, "V4L2_BUF_TYPE_VIDEO_OUTPUT", V4L2_BUF_TYPE_VIDEO_OUTPUT);
  Set(c, "V4L2_MEMORY_MMAP", V4L2_MEMORY_MMAP);
  Set(c, "V4L2_MEMORY_DMABUF", V4L2_MEMORY_DMABUF);
  Set(c, "V4L2_CAP_VIDEO_CAPTURE", V4L2_CAP_VIDEO_CAPTURE);
  Set(c, "V4L2_CAP_VIDEO_OUTPUT", V4L2_CAP_VIDEO_OUTPUT);
  Set(c, "V4L2_CAP_STREAMING", V4L2_CAP_STREAMING);
  Set(c, "V4L2_FIELD_NONE", V4L2_FIELD_NONE);
  Set(c, "V4L2_BUF_FLAG_ERROR", V4L2_BUF_FLAG_ERROR);
  Set(c, "V4L2_CTRL_FLAG_NEXT_CTRL", V4L2_CTRL_FLAG_NEXT_CTRL);
  Set(c, "V4L2_CTRL_TYPE_MENU", V4L2_CTRL_TYPE_MENU);
  Set(c, "V4L2_CID_TEST_PATTERN", V4L2_CID_TEST_PATTERN);
  Set(c, "V4L2_CTRL_TYPE_BOOLEAN", V4L2_CTRL_TYPE_BOOLEAN);
  Set(c, "V4L2_IN_CAP_DV_TIMINGS", V4L2_IN_CAP_DV_TIMINGS);
  Set(c, "V4L2_OUT_CAP_DV_TIMINGS", V4L2_OUT_CAP_DV_TIMINGS);
  c.Freeze();
  return c;
}

}  // namespace

void InitV4l2(Napi::Env env, Napi::Object exports) {
  exports.Set("v4l2Constants", Constants(env));
  exports.Set("v4l2QueryCap", Napi::Function::New(env, QueryCap, "v4l2QueryCap"));
  exports.Set("v4l2EnumFormat", Napi::Function::New(env, EnumFormat, "v4l2EnumFormat"));
  exports.Set("v4l2GetFormat", Napi::Function::New(env, GetFormat, "v4l2GetFormat"));
  exports.Set("v4l2SetFormat", Napi::Function::New(env, SetFormat, "v4l2SetFormat"));
  exports.Set("v4l2QueryControl", Napi::Function::New(env, QueryControl, "v4l2QueryControl"));
  exports.Set("v4l2QueryMenu", Napi::Function::New(env, QueryMenu, "v4l2QueryMenu"));
  exports.Set("v4l2SetControl", Napi::Function::New(env, SetControl, "v4l2SetControl"));
  exports.Set("v4l2GetControl", Napi::Function::New(env, GetControl, "v4l2GetControl"));
  exports.Set("v4l2EnumInput", Napi::Function::New(env, EnumInput, "v4l2EnumInput"));
  exports.Set("v4l2EnumOutput", Napi::Function::New(env, EnumOutput, "v4l2EnumOutput"));
  exports.Set("v4l2GetInput", Napi::Function::New(env, GetInput, "v4l2GetInput"));
  exports.Set("v4l2GetOutput", Napi::Function::New(env, GetOutput, "v4l2GetOutput"));
  exports.Set("v4l2SetInput", Napi::Function::New(env, SetInput, "v4l2SetInput"));
  exports.Set("v4l2SetOutput", Napi::Function::New(env, SetOutput, "v4l2SetOutput"));
  exports.Set("v4l2RequestBuffers", Napi::Function::New(env, RequestBuffers, "v4l2RequestBuffers"));
  exports.Set("v4l2QueryBuffer", Napi::Function::New(env, QueryBuffer, "v4l2QueryBuffer"));
  exports.Set("v4l2QueueBuffer", Napi::Function::New(env, QueueBuffer, "v4l2QueueBuffer"));
  exports.Set("v4l2DequeueBuffer", Napi::Function::New(env, DequeueBuffer, "v4l2DequeueBuffer"));
  exports.Set("v4l2ExportBuffer", Napi::Function::New(env, ExportBuffer, "v4l2ExportBuffer"));
  exports.Set("v4l2StreamOn", Napi::Function::New(env, StreamOn, "v4l2StreamOn"));
  exports.Set("v4l2StreamOff", Napi::Function::New(env, StreamOff, "v4l2StreamOff"));
}

}  // namespace dmabuf
