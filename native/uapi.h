// Kernel UAPI used by the addon, with fallbacks for whatever the build host's headers lack.
//
// The build host's headers can be older than the kernel the addon runs on (Debian bookworm ships
// 6.1 headers, which lack SYNC_IOC_SET_DEADLINE), and the DRM/vgem headers are often not
// installed at all. Every ioctl number is computed with the kernel's _IOW/_IOWR macros for the
// target (powerpc, mips, sparc and alpha use a different dir/size layout), never hard-coded.
// Struct sizes and offsets are checked against the kernel's uapi headers (include/uapi/linux/
// dma-buf.h, dma-heap.h, udmabuf.h, sync_file.h) at compile time.
#pragma once

#include <fcntl.h>
#include <linux/ioctl.h>
#include <linux/magic.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstddef>

// ---- <linux/dma-buf.h> (type 'b') ------------------------------------------------------------
#include <linux/dma-buf.h>

#ifndef DMA_BUF_NAME_LEN
#define DMA_BUF_NAME_LEN 32
#endif
#ifndef DMA_BUF_SET_NAME
// 5.3; encodes sizeof(const char *), so it differs between LP64 and ILP32. The kernel accepts the
// _A (u32) and _B (u64) numbers on every arch since 5.8.
#define DMA_BUF_SET_NAME _IOW(DMA_BUF_BASE, 1, const char *)
#endif
#ifndef DMA_BUF_IOCTL_EXPORT_SYNC_FILE
// 6.0 (Jason Ekstrand): the explicit <-> implicit sync bridge.
struct dma_buf_export_sync_file {
  __u32 flags;
  __s32 fd;
};
struct dma_buf_import_sync_file {
  __u32 flags;
  __s32 fd;
};
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE _IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#define DMA_BUF_IOCTL_IMPORT_SYNC_FILE _IOW(DMA_BUF_BASE, 3, struct dma_buf_import_sync_file)
#endif
#ifndef DMA_BUF_MAGIC
// fstatfs(dma-buf fd).f_type: "DMAB".
#define DMA_BUF_MAGIC 0x444d4142
#endif

// ---- <linux/dma-heap.h> (type 'H'), 5.6 -------------------------------------------------------
#if __has_include(<linux/dma-heap.h>)
#include <linux/dma-heap.h>
#else
struct dma_heap_allocation_data {
  __u64 len;
  __u32 fd;
  __u32 fd_flags;
  __u64 heap_flags;
};
#define DMA_HEAP_IOC_MAGIC 'H'
#define DMA_HEAP_IOCTL_ALLOC _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, struct dma_heap_allocation_data)
#endif

// ---- <linux/udmabuf.h> (type 'u'), 4.20 -------------------------------------------------------
#if __has_include(<linux/udmabuf.h>)
#include <linux/udmabuf.h>
#else
#define UDMABUF_FLAGS_CLOEXEC 0x01
struct udmabuf_create {
  __u32 memfd;
  __u32 flags;
  __u64 offset;
  __u64 size;
};
struct udmabuf_create_item {
  __u32 memfd;
  __u32 __pad;
  __u64 offset;
  __u64 size;
};
struct udmabuf_create_list {
  __u32 flags;
  __u32 count;
  struct udmabuf_create_item list[];
};
#define UDMABUF_CREATE _IOW('u', 0x42, struct udmabuf_create)
#define UDMABUF_CREATE_LIST _IOW('u', 0x43, struct udmabuf_create_list)
#endif

// ---- <linux/sync_file.h> (type '>'), 4.7 ------------------------------------------------------
#include <linux/sync_file.h>

#ifndef SYNC_IOC_SET_DEADLINE
// 6.8 (absent from the 6.1 headers). Older kernels answer ENOTTY.
struct sync_set_deadline {
  __u64 deadline_ns;
  __u64 pad;
};
#define SYNC_IOC_SET_DEADLINE _IOW(SYNC_IOC_MAGIC, 5, struct sync_set_deadline)
#endif

// ---- memfd seals ----------------------------------------------------------------------------
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  // 5.1
#endif

// ---- DRM / vgem (type 'd') ------------------------------------------------------------------
// <drm/drm.h> and <drm/vgem_drm.h> are often missing on the build host (they come with libdrm-dev
// or linux-libc-dev depending on the distribution), so the few structs the addon needs are
// defined here under our own names with the kernel's layout; the ioctl numbers come from the
// same macros the kernel uses.
namespace dmabuf::drm {

struct Version {  // struct drm_version
  int version_major;
  int version_minor;
  int version_patchlevel;
  __kernel_size_t name_len;
  char *name;
  __kernel_size_t date_len;
  char *date;
  __kernel_size_t desc_len;
  char *desc;
};

struct ModeCreateDumb {  // struct drm_mode_create_dumb
  __u32 height;
  __u32 width;
  __u32 bpp;
  __u32 flags;
  __u32 handle;
  __u32 pitch;
  __u64 size;
};

struct PrimeHandle {  // struct drm_prime_handle
  __u32 handle;
  __u32 flags;
  __s32 fd;
};

struct GemClose {  // struct drm_gem_close
  __u32 handle;
  __u32 pad;
};

struct VgemFenceAttach {  // struct drm_vgem_fence_attach
  __u32 handle;
  __u32 flags;
  __u32 out_fence;
  __u32 pad;
};

struct VgemFenceSignal {  // struct drm_vgem_fence_signal
  __u32 fence;
  __u32 flags;
};

// KMS (drm_mode.h): what a dumb-buffer scanout needs (native/drm_kms.cc).
struct ModeCardRes {  // struct drm_mode_card_res
  __u64 fb_id_ptr;
  __u64 crtc_id_ptr;
  __u64 connector_id_ptr;
  __u64 encoder_id_ptr;
  __u32 count_fbs;
  __u32 count_crtcs;
  __u32 count_connectors;
  __u32 count_encoders;
  __u32 min_width;
  __u32 max_width;
  __u32 min_height;
  __u32 max_height;
};

struct ModeInfo {  // struct drm_mode_modeinfo
  __u32 clock;
  __u16 hdisplay;
  __u16 hsync_start;
  __u16 hsync_end;
  __u16 htotal;
  __u16 hskew;
  __u16 vdisplay;
  __u16 vsync_start;
  __u16 vsync_end;
  __u16 vtotal;
  __u16 vscan;
  __u32 vrefresh;
  __u32 flags;
  __u32 type;
  char name[32];
};

struct ModeGetConnector {  // struct drm_mode_get_connector
  __u64 encoders_ptr;
  __u64 modes_ptr;
  __u64 props_ptr;
  __u64 prop_values_ptr;
  __u32 count_modes;
  __u32 count_props;
  __u32 count_encoders;
  __u32 encoder_id;
  __u32 connector_id;
  __u32 connector_type;
  __u32 connector_type_id;
  __u32 connection;
  __u32 mm_width;
  __u32 mm_height;
  __u32 subpixel;
  __u32 pad;
};

struct ModeGetEncoder {  // struct drm_mode_get_encoder
  __u32 encoder_id;
  __u32 encoder_type;
  __u32 crtc_id;
  __u32 possible_crtcs;
  __u32 possible_clones;
};

struct ModeCrtc {  // struct drm_mode_crtc
  __u64 set_connectors_ptr;
  __u32 count_connectors;
  __u32 crtc_id;
  __u32 fb_id;
  __u32 x;
  __u32 y;
  __u32 gamma_size;
  __u32 mode_valid;
  ModeInfo mode;
};

struct ModeFbCmd2 {  // struct drm_mode_fb_cmd2
  __u32 fb_id;
  __u32 width;
  __u32 height;
  __u32 pixel_format;
  __u32 flags;
  __u32 handles[4];
  __u32 pitches[4];
  __u32 offsets[4];
  __u64 modifier[4];
};

struct ClipRect {  // struct drm_clip_rect
  unsigned short x1;
  unsigned short y1;
  unsigned short x2;
  unsigned short y2;
};

struct ModeFbDirtyCmd {  // struct drm_mode_fb_dirty_cmd
  __u32 fb_id;
  __u32 flags;
  __u32 color;
  __u32 num_clips;
  __u64 clips_ptr;
};

constexpr char kIoctlBase = 'd';
constexpr unsigned kCommandBase = 0x40;    // DRM_COMMAND_BASE: driver-private ioctls start here
constexpr unsigned kCloexec = O_CLOEXEC;   // DRM_CLOEXEC
constexpr unsigned kRdwr = O_RDWR;         // DRM_RDWR
constexpr unsigned kVgemFenceWrite = 0x1;  // VGEM_FENCE_WRITE

constexpr unsigned long kIoctlVersion = _IOWR(kIoctlBase, 0x00, Version);
constexpr unsigned long kIoctlGemClose = _IOW(kIoctlBase, 0x09, GemClose);
constexpr unsigned long kIoctlPrimeHandleToFd = _IOWR(kIoctlBase, 0x2d, PrimeHandle);
constexpr unsigned long kIoctlPrimeFdToHandle = _IOWR(kIoctlBase, 0x2e, PrimeHandle);
constexpr unsigned long kIoctlModeCreateDumb = _IOWR(kIoctlBase, 0xB2, ModeCreateDumb);
constexpr unsigned long kIoctlSetMaster = _IO(kIoctlBase, 0x1e);
constexpr unsigned long kIoctlModeGetResources = _IOWR(kIoctlBase, 0xA0, ModeCardRes);
constexpr unsigned long kIoctlModeSetCrtc = _IOWR(kIoctlBase, 0xA2, ModeCrtc);
constexpr unsigned long kIoctlModeGetEncoder = _IOWR(kIoctlBase, 0xA6, ModeGetEncoder);
constexpr unsigned long kIoctlModeGetConnector = _IOWR(kIoctlBase, 0xA7, ModeGetConnector);
constexpr unsigned long kIoctlModeRmFb = _IOWR(kIoctlBase, 0xAF, unsigned int);
constexpr unsigned long kIoctlModeDirtyFb = _IOWR(kIoctlBase, 0xB1, ModeFbDirtyCmd);
constexpr unsigned long kIoctlModeAddFb2 = _IOWR(kIoctlBase, 0xB8, ModeFbCmd2);
constexpr unsigned long kIoctlVgemFenceAttach =
    _IOWR(kIoctlBase, kCommandBase + 0x1, VgemFenceAttach);
constexpr unsigned long kIoctlVgemFenceSignal =
    _IOW(kIoctlBase, kCommandBase + 0x2, VgemFenceSignal);

}  // namespace dmabuf::drm

// ---- layout checks (include/uapi/linux/*.h) --------------------------------------------------
static_assert(sizeof(struct dma_buf_sync) == 8);
static_assert(sizeof(struct dma_buf_export_sync_file) == 8);
static_assert(sizeof(struct dma_buf_import_sync_file) == 8);
static_assert(sizeof(struct dma_heap_allocation_data) == 24);
static_assert(offsetof(struct dma_heap_allocation_data, fd) == 8);
static_assert(offsetof(struct dma_heap_allocation_data, fd_flags) == 12);
static_assert(offsetof(struct dma_heap_allocation_data, heap_flags) == 16);
static_assert(sizeof(struct udmabuf_create) == 24);
static_assert(sizeof(struct udmabuf_create_item) == 24);
static_assert(sizeof(struct udmabuf_create_list) == 8);
static_assert(sizeof(struct sync_merge_data) == 48);
static_assert(offsetof(struct sync_merge_data, fd2) == 32);
static_assert(offsetof(struct sync_merge_data, fence) == 36);
static_assert(offsetof(struct sync_merge_data, flags) == 40);
static_assert(offsetof(struct sync_merge_data, pad) == 44);
static_assert(sizeof(struct sync_fence_info) == 80);
static_assert(offsetof(struct sync_fence_info, status) == 64);
static_assert(offsetof(struct sync_fence_info, flags) == 68);
static_assert(offsetof(struct sync_fence_info, timestamp_ns) == 72);
static_assert(sizeof(struct sync_file_info) == 56);
static_assert(offsetof(struct sync_file_info, status) == 32);
static_assert(offsetof(struct sync_file_info, num_fences) == 40);
static_assert(offsetof(struct sync_file_info, sync_fence_info) == 48);
static_assert(sizeof(struct sync_set_deadline) == 16);
static_assert(sizeof(dmabuf::drm::ModeCreateDumb) == 32);
static_assert(sizeof(dmabuf::drm::PrimeHandle) == 12);
static_assert(sizeof(dmabuf::drm::GemClose) == 8);
static_assert(sizeof(dmabuf::drm::VgemFenceAttach) == 16);
static_assert(sizeof(dmabuf::drm::VgemFenceSignal) == 8);
static_assert(sizeof(dmabuf::drm::ModeCardRes) == 64);
static_assert(sizeof(dmabuf::drm::ModeInfo) == 68);
static_assert(sizeof(dmabuf::drm::ModeGetConnector) == 80);
static_assert(sizeof(dmabuf::drm::ModeGetEncoder) == 20);
static_assert(sizeof(dmabuf::drm::ModeCrtc) == 104);
static_assert(sizeof(dmabuf::drm::ModeFbCmd2) == 104);
static_assert(sizeof(dmabuf::drm::ClipRect) == 8);
static_assert(sizeof(dmabuf::drm::ModeFbDirtyCmd) == 24);
static_assert(sizeof(dmabuf::drm::Version) == 4 * sizeof(int) + 6 * sizeof(void *) ||
              sizeof(dmabuf::drm::Version) == 3 * sizeof(int) + 6 * sizeof(void *));
