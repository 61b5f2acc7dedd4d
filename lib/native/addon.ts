/**
 * The raw native addon, described in one place (node-pty style).
 *
 * native/ is a syscall shim: numbers and fds in, numbers/fds/ArrayBuffers out. It validates
 * nothing beyond what C++ needs to stay memory-safe (argument types, non-negative sizes); the
 * TypeScript layer owns validation, defaults, state and messages. Every failing syscall throws
 * what the factory handed to `init()` makes of `(errno, syscall, message)`: load.ts makes a
 * DmaBufError whose code is the errno's name from errors.ts (the one errno table: 'EINVAL',
 * 'EBADFD', 'ENOTSUPP' for the kernel-internal 524, …); `syscall` names the call or ioctl
 * ('DMA_HEAP_IOCTL_ALLOC', 'mmap', 'SYNC_IOC_MERGE', …).
 *
 * Every fd the addon creates is O_CLOEXEC. Fds it creates (or is told to adopt) are recorded per
 * environment, and an env cleanup hook closes them and unmaps every live mapping when the
 * environment (for example a worker thread) goes away. `close()` forgets an fd.
 */

/** Integers that may exceed 2^53 (flags under test) are accepted as bigint too. */
export type U64 = number | bigint;

/** Makes the error for a failed syscall; errno names come from errors.ts's one table. */
export type NativeErrorFactory = (errno: number, syscall: string, message: string) => Error;

export interface FstatResult {
  size: number;
  mode: number;
  dev: number;
  ino: number;
  rdev: number;
}

/** One mmap()ed range. Views are external ArrayBuffers over [offset, offset+length) of it. */
export interface NativeMapping {
  readonly length: number;
  readonly mapped: boolean;
  /** A new external ArrayBuffer over part of the mapping; tracked so unmap() can detach it. */
  view(offset: number, length: number): ArrayBuffer;
  /** Detach one view (its byteLength becomes 0; every TypedArray over it reads as empty). */
  detach(view: ArrayBuffer): void;
  /** Detach every live view, then munmap. Idempotent. */
  unmap(): void;
}

export interface NativeMappingConstructor {
  /** mmap(NULL, length, prot, flags, fd, offset). flags defaults to MAP_SHARED. */
  new (fd: number, length: number, prot: number, offset: number, flags?: number): NativeMapping;
}

export interface NativePollWaiter {
  /**
   * Resolves with the revents mask once any of `events` (or POLLERR/POLLHUP/POLLNVAL) is
   * reported, with 0 when `timeoutMs` passed first, with -1 after cancel(). Rejects only when the
   * poll could not be started (errno error). Polls a private dup of the fd with uv_poll on the
   * calling environment's own loop; every handle and the dup are released when it settles.
   */
  readonly promise: Promise<number>;
  cancel(): void;
}

export interface NativePollWaiterConstructor {
  /** timeoutMs < 0 means no timeout. */
  new (fd: number, events: number, timeoutMs: number): NativePollWaiter;
}

export interface NativeFenceInfo {
  objName: string;
  driverName: string;
  status: number;
  flags: number;
  timestampNs: bigint;
}

export interface NativeSyncFileInfo {
  name: string;
  status: number;
  flags: number;
  fences: NativeFenceInfo[];
}

/** Raw overrides for SYNC_IOC_FILE_INFO (testHooks.syncFileInfoRaw): tests of the kernel's own checks. */
export interface NativeSyncFileInfoRaw {
  flags?: number;
  pad?: number;
  /** Pass this num_fences in the second pass instead of the real count. */
  numFences?: number;
  /** Pass an invalid user pointer (expect EFAULT). */
  badPointer?: boolean;
}

export interface NativeConstants {
  PAGE_SIZE: number;
  O_RDONLY: number;
  O_WRONLY: number;
  O_RDWR: number;
  O_CLOEXEC: number;
  O_NONBLOCK: number;
  FD_CLOEXEC: number;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  MAP_PRIVATE: number;
  MFD_CLOEXEC: number;
  MFD_ALLOW_SEALING: number;
  F_SEAL_SEAL: number;
  F_SEAL_SHRINK: number;
  F_SEAL_GROW: number;
  F_SEAL_WRITE: number;
  F_SEAL_FUTURE_WRITE: number;
  SEEK_SET: number;
  SEEK_CUR: number;
  SEEK_END: number;
  POLLIN: number;
  POLLOUT: number;
  POLLERR: number;
  POLLHUP: number;
  POLLNVAL: number;
  POLLRDHUP: number;
  MSG_TRUNC: number;
  MSG_CTRUNC: number;
  ANON_INODE_FS_MAGIC: number;
  DMA_BUF_SYNC_READ: number;
  DMA_BUF_SYNC_WRITE: number;
  DMA_BUF_SYNC_RW: number;
  DMA_BUF_SYNC_START: number;
  DMA_BUF_SYNC_END: number;
  DMA_BUF_MAGIC: number;
  DMA_BUF_NAME_LEN: number;
  UDMABUF_FLAGS_CLOEXEC: number;
  DRM_CLOEXEC: number;
  DRM_RDWR: number;
  VGEM_FENCE_WRITE: number;
  /** ioctl request numbers as computed by the kernel macros on the build target. */
  DMA_BUF_IOCTL_SYNC: number;
  DMA_BUF_SET_NAME: number;
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE: number;
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE: number;
  DMA_HEAP_IOCTL_ALLOC: number;
  UDMABUF_CREATE: number;
  UDMABUF_CREATE_LIST: number;
  SYNC_IOC_MERGE: number;
  SYNC_IOC_FILE_INFO: number;
  SYNC_IOC_SET_DEADLINE: number;
}

export interface NativeV4l2Capability {
  driver: string;
  card: string;
  busInfo: string;
  version: number;
  capabilities: number;
  deviceCaps: number;
}

/** struct v4l2_pix_format, the fields a single-planar capture or output needs. */
export interface NativeV4l2PixFormat {
  width: number;
  height: number;
  pixelformat: number;
  field: number;
  bytesperline: number;
  sizeimage: number;
  colorspace: number;
}

export interface NativeV4l2Control {
  id: number;
  type: number;
  name: string;
  minimum: number;
  maximum: number;
  step: number;
  defaultValue: number;
  flags: number;
}

export interface NativeV4l2DoneBuffer {
  index: number;
  bytesused: number;
  flags: number;
  field: number;
  sequence: number;
  timestampUs: number;
}

/** The videodev2.h numbers the TypeScript side passes back. */
export interface NativeV4l2Constants {
  V4L2_BUF_TYPE_VIDEO_CAPTURE: number;
  V4L2_BUF_TYPE_VIDEO_OUTPUT: number;
  V4L2_MEMORY_MMAP: number;
  V4L2_MEMORY_DMABUF: number;
  V4L2_CAP_VIDEO_CAPTURE: number;
  V4L2_CAP_VIDEO_OUTPUT: number;
  V4L2_CAP_STREAMING: number;
  V4L2_FIELD_NONE: number;
  V4L2_BUF_FLAG_ERROR: number;
  V4L2_CTRL_FLAG_NEXT_CTRL: number;
  V4L2_CTRL_TYPE_MENU: number;
  V4L2_CID_TEST_PATTERN: number;
  V4L2_CTRL_TYPE_BOOLEAN: number;
  V4L2_IN_CAP_DV_TIMINGS: number;
  V4L2_OUT_CAP_DV_TIMINGS: number;
}

/** A display mode of a connector (struct drm_mode_modeinfo): the fields policy reads, and the struct as it came for SETCRTC. */
export interface NativeDrmMode {
  name: string;
  width: number;
  height: number;
  vrefresh: number;
  /** DRM_MODE_TYPE_* bits: PREFERRED is 1 << 3. */
  type: number;
  flags: number;
  raw: ArrayBuffer;
}

export interface NativeDrmConnector {
  id: number;
  type: number;
  typeId: number;
  /** 1 connected, 2 disconnected, 3 unknown (enum drm_connector_status). */
  connection: number;
  encoderId: number;
  encoders: number[];
  modes: NativeDrmMode[];
}

/** struct v4l2_input / v4l2_output: a connector of a capture or output node. */
export interface NativeV4l2Connector {
  index: number;
  name: string;
  type: number;
  capabilities: number;
}

export interface NativeAddon {
  /** Hand native the error class it throws. Called once per environment by the loader. */
  init(makeError: NativeErrorFactory): void;
  readonly constants: NativeConstants;

  // --- plain fds ------------------------------------------------------------------------------
  /** open(path, flags | O_CLOEXEC) */
  open(path: string, flags: number): number;
  /** close(fd); forgets the fd if the addon owned it. EBADF is reported. */
  close(fd: number): void;
  /** fcntl(F_DUPFD_CLOEXEC) */
  dup(fd: number): number;
  /** Record an fd the caller hands over, so env cleanup closes it. */
  adopt(fd: number): void;
  /** Stop owning `fd` without closing it: env cleanup leaves it alone (the caller took it). */
  disown(fd: number): void;
  fstat(fd: number): FstatResult;
  /** fstatfs(fd).f_type */
  fstatfsType(fd: number): number;
  /** What `fd` is (native/fd_kind.cc): 0 anything else, 1 a dma-buf, 2 a sync_file. */
  fdKind(fd: number): number;
  /** fcntl(F_GETFL): the status flags; `& 3` is the access mode (O_RDONLY 0, O_WRONLY 1, O_RDWR 2). */
  statusFlags(fd: number): number;
  /**
   * ioctl(fd, request, arg) with arg a byte buffer (in/out) or null (NULL pointer), not restarted:
   * doctor's probes of what the kernel answers, and tests.
   */
  ioctlRaw(fd: number, request: U64, arg: Uint8Array | null): number;
  /** Synchronous poll(2) on one fd; retries EINTR with the remaining time. Returns revents (0 on timeout). timeoutMs < 0: no timeout. */
  poll(fd: number, events: number, timeoutMs: number): number;

  // --- dma-heap -------------------------------------------------------------------------------
  /** DMA_HEAP_IOCTL_ALLOC; returns the dma-buf fd. */
  heapAlloc(heapFd: number, len: number, fdFlags: number, heapFlags: U64): number;

  // --- memfd / udmabuf ------------------------------------------------------------------------
  /** memfd_create(name, flags | MFD_CLOEXEC) */
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, size: number): void;
  /** fcntl(F_ADD_SEALS) */
  addSeals(fd: number, seals: number): void;
  /** fcntl(F_GET_SEALS) */
  getSeals(fd: number): number;
  /** UDMABUF_CREATE; returns the dma-buf fd. */
  udmabufCreate(devFd: number, memfd: number, offset: number, size: number, flags: number): number;
  /** UDMABUF_CREATE_LIST; returns the dma-buf fd. */
  udmabufCreateList(devFd: number, flags: number, items: ReadonlyArray<{ memfd: number; offset: number; size: number }>): number;

  // --- mappings -------------------------------------------------------------------------------
  Mapping: NativeMappingConstructor;

  // --- dma-buf --------------------------------------------------------------------------------
  /**
   * DMA_BUF_IOCTL_SYNC with the flags as given (no checking); retries EINTR/EAGAIN. With
   * `lockKey` (the buffer's inode number), SYNCs on one buffer are serialised across threads.
   */
  dmaBufSync(fd: number, flags: U64, lockKey?: number): void;
  /** DMA_BUF_SET_NAME */
  dmaBufSetName(fd: number, name: string): void;
  /** DMA_BUF_IOCTL_EXPORT_SYNC_FILE; returns the sync_file fd. */
  dmaBufExportSyncFile(fd: number, flags: number): number;
  /** DMA_BUF_IOCTL_IMPORT_SYNC_FILE */
  dmaBufImportSyncFile(fd: number, flags: number, syncFileFd: number): void;

  // --- sync_file ------------------------------------------------------------------------------
  /** SYNC_IOC_FILE_INFO with num_fences 0: the status alone (1 signalled, 0 active, < 0 the first error). */
  syncFileStatus(fd: number): number;
  /** SYNC_IOC_FILE_INFO in two passes (count, then fences). */
  syncFileInfo(fd: number): NativeSyncFileInfo;
  /** SYNC_IOC_MERGE; returns the new sync_file fd. */
  syncFileMerge(fd: number, fd2: number, name: string): number;
  /** SYNC_IOC_SET_DEADLINE (absolute CLOCK_MONOTONIC ns). */
  syncFileSetDeadline(fd: number, deadlineNs: bigint): void;

  // --- poll waiter ----------------------------------------------------------------------------
  PollWaiter: NativePollWaiterConstructor;

  // --- Unix sockets: SOCK_SEQPACKET (FdChannel), SOCK_STREAM when `stream` (GStreamer's unixfd) --
  // All close-on-exec; sends and receives pass MSG_DONTWAIT (the sockets stay blocking).
  /** socketpair(AF_UNIX, SOCK_SEQPACKET, or SOCK_STREAM when `stream`). */
  socketPair(stream?: boolean): [number, number];
  /** socket + bind + listen on a path (made with exactly `mode`) or an abstract name. */
  socketListen(name: string, abstract: boolean, mode: number, backlog: number, stream?: boolean): number;
  /** accept4; -1 when no connection is pending (EAGAIN). */
  socketAccept(fd: number): number;
  /** socket + connect; a Unix connect completes at once or fails. */
  socketConnect(name: string, abstract: boolean, stream?: boolean): number;
  /**
   * sendmsg with SCM_RIGHTS, MSG_DONTWAIT | MSG_NOSIGNAL; bytes sent, or -1 when full (EAGAIN).
   * On a stream a part may go; the fds travel with its first byte.
   */
  sendMsg(fd: number, data: Uint8Array, fds: readonly number[]): number;
  /**
   * recvmsg with MSG_CMSG_CLOEXEC | MSG_TRUNC into `data`, the fds and their kinds into `meta`
   * ([flags, n, fd × n, kind × n]; its length gives room for (length - 2) / 2 fds); -1 when
   * nothing is queued, else the whole message's length (> data.length when cut: flags has
   * MSG_TRUNC). Each kind is fdKind()'s answer, or -errno. Fds that arrived are owned by the env
   * until closed. With `stream` (a SOCK_STREAM socket) no MSG_TRUNC: up to data.length bytes, the
   * rest stays queued. Use receiveMessage() (lib/backend/kernel/socket.ts).
   */
  recvMsg(fd: number, data: Uint8Array, meta: Int32Array, stream?: boolean): number;
  /** SO_PEERCRED. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /** unlink(2); ENOENT is not an error. */
  unlinkPath(path: string): void;

  // --- DRM / vgem (the dmabuf/testing fence source) -------------------------------------------
  /** DRM_IOCTL_VERSION: the driver name. */
  drmDriverName(fd: number): string;
  /** DRM_IOCTL_MODE_CREATE_DUMB */
  drmCreateDumb(fd: number, width: number, height: number, bpp: number): { handle: number; pitch: number; size: number };
  /** DRM_IOCTL_PRIME_HANDLE_TO_FD; returns the dma-buf fd (DRM_CLOEXEC always added). */
  drmPrimeHandleToFd(fd: number, handle: number, flags: number): number;
  /** DRM_IOCTL_PRIME_FD_TO_HANDLE */
  drmPrimeFdToHandle(fd: number, dmaBufFd: number): number;
  /** DRM_IOCTL_GEM_CLOSE */
  drmGemClose(fd: number, handle: number): void;
  /** DRM_IOCTL_VGEM_FENCE_ATTACH; returns the fence id. */
  vgemFenceAttach(fd: number, handle: number, flags: number): number;
  /** DRM_IOCTL_VGEM_FENCE_SIGNAL */
  vgemFenceSignal(fd: number, fence: number): void;

  // --- DRM KMS (dmabuf/testing's DrmScanout: a dumb buffer on a screen) ------------------------
  /** DRM_IOCTL_SET_MASTER */
  drmSetMaster(fd: number): void;
  /** DRM_IOCTL_MODE_GETRESOURCES: the ids of the card's CRTCs, connectors and encoders. */
  drmModeGetResources(fd: number): {
    crtcs: number[];
    connectors: number[];
    encoders: number[];
    minWidth: number;
    maxWidth: number;
    minHeight: number;
    maxHeight: number;
  };
  /** DRM_IOCTL_MODE_GETCONNECTOR (probes the output: the modes are current). */
  drmModeGetConnector(fd: number, id: number): NativeDrmConnector;
  /** DRM_IOCTL_MODE_GETENCODER; possibleCrtcs has a bit per index into drmModeGetResources().crtcs. */
  drmModeGetEncoder(fd: number, id: number): { id: number; type: number; crtcId: number; possibleCrtcs: number };
  /** DRM_IOCTL_MODE_ADDFB2, one plane, no modifier; returns the framebuffer id. */
  drmModeAddFb2(fd: number, width: number, height: number, fourcc: number, handle: number, pitch: number, offset: number): number;
  /** DRM_IOCTL_MODE_SETCRTC; fbId 0 and mode null switch the CRTC off. */
  drmModeSetCrtc(fd: number, crtcId: number, fbId: number, x: number, y: number, connectorId: number, modeRaw: ArrayBuffer | null): void;
  /** DRM_IOCTL_MODE_DIRTYFB; clips as flat [x1, y1, x2, y2, …] (exclusive x2, y2). */
  drmModeDirtyFb(fd: number, fbId: number, clips: number[]): void;
  /** DRM_IOCTL_MODE_RMFB */
  drmModeRmFb(fd: number, fbId: number): void;

  // --- V4L2 (dmabuf/testing's VividCamera; single-planar buffer types) -------------------------
  readonly v4l2Constants: NativeV4l2Constants;
  /** VIDIOC_QUERYCAP; deviceCaps is the node's own (device_caps, or capabilities on pre-3.3 drivers). */
  v4l2QueryCap(fd: number): NativeV4l2Capability;
  /** VIDIOC_ENUM_FMT; null past the end of the list (the driver's EINVAL). */
  v4l2EnumFormat(fd: number, type: number, index: number): { pixelformat: number; description: string; flags: number } | null;
  /** VIDIOC_G_FMT */
  v4l2GetFormat(fd: number, type: number): NativeV4l2PixFormat;
  /** VIDIOC_S_FMT, or VIDIOC_TRY_FMT with tryOnly (changes nothing); both answer what the driver took or would take. */
  v4l2SetFormat(
    fd: number,
    type: number,
    format: { width: number; height: number; pixelformat: number; field: number; bytesperline: number },
    tryOnly: boolean,
  ): NativeV4l2PixFormat;
  /** VIDIOC_QUERYCTRL (id | V4L2_CTRL_FLAG_NEXT_CTRL: the next control); null when there is none (EINVAL). */
  v4l2QueryControl(fd: number, id: number): NativeV4l2Control | null;
  /** VIDIOC_QUERYMENU; null where the menu has no item at `index` (EINVAL). */
  v4l2QueryMenu(fd: number, id: number, index: number): string | null;
  /** VIDIOC_S_CTRL */
  v4l2SetControl(fd: number, id: number, value: number): void;
  /** VIDIOC_G_CTRL */
  v4l2GetControl(fd: number, id: number): number;
  /** VIDIOC_ENUMINPUT; null past the end of the list (EINVAL). */
  v4l2EnumInput(fd: number, index: number): NativeV4l2Connector | null;
  /** VIDIOC_ENUMOUTPUT; null past the end of the list (EINVAL). */
  v4l2EnumOutput(fd: number, index: number): NativeV4l2Connector | null;
  /** VIDIOC_G_INPUT */
  v4l2GetInput(fd: number): number;
  /** VIDIOC_G_OUTPUT */
  v4l2GetOutput(fd: number): number;
  /** VIDIOC_S_INPUT (EBUSY while the queue holds buffers) */
  v4l2SetInput(fd: number, index: number): void;
  /** VIDIOC_S_OUTPUT (EBUSY while the queue holds buffers) */
  v4l2SetOutput(fd: number, index: number): void;
  /** VIDIOC_REQBUFS; returns the count the driver allocated (0 frees them all). */
  v4l2RequestBuffers(fd: number, type: number, memory: number, count: number): number;
  /** VIDIOC_QUERYBUF */
  v4l2QueryBuffer(fd: number, type: number, memory: number, index: number): { length: number; flags: number };
  /** VIDIOC_QBUF; dmaBufFd and length only for V4L2_MEMORY_DMABUF (pass -1 and 0 for MMAP); bytesused for output buffers. */
  v4l2QueueBuffer(fd: number, type: number, memory: number, index: number, dmaBufFd: number, length: number, bytesused: number): void;
  /** VIDIOC_DQBUF on an O_NONBLOCK fd; null when no buffer is done yet (EAGAIN). */
  v4l2DequeueBuffer(fd: number, type: number, memory: number): NativeV4l2DoneBuffer | null;
  /** VIDIOC_EXPBUF; returns the dma-buf fd (O_CLOEXEC always added; flags: the access mode). */
  v4l2ExportBuffer(fd: number, type: number, index: number, flags: number): number;
  /** VIDIOC_STREAMON */
  v4l2StreamOn(fd: number, type: number): void;
  /** VIDIOC_STREAMOFF: every queued buffer comes back to userspace. */
  v4l2StreamOff(fd: number, type: number): void;

  /** Calls only tests make. Not public, not stable: lib/ never uses them. */
  readonly testHooks: NativeTestHooks;
}

/**
 * The addon's `testHooks`: what tests need and the library does not. Not part of the package's
 * API. They check what the kernel answers to calls the library never makes (lseek on a dma-buf or
 * a sync_file; struct fields the kernel requires to be zero) and what the library relies on
 * (close-on-exec fds; process.hrtime.bigint() reading CLOCK_MONOTONIC). Tests read and write fds
 * with node's fs.readSync/writeSync.
 */
export interface NativeTestHooks {
  /** fcntl(F_GETFD) */
  getFdFlags(fd: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  /** clock_gettime(CLOCK_MONOTONIC) in ns. */
  monotonicNs(): bigint;
  /** heapAlloc with the struct's fd field set to `inputFd` (the kernel requires 0: EINVAL otherwise). */
  heapAllocRaw(heapFd: number, len: number, fdFlags: number, heapFlags: U64, inputFd: number): number;
  /** syncFileInfo with the overrides in `raw`. */
  syncFileInfoRaw(fd: number, raw: NativeSyncFileInfoRaw): NativeSyncFileInfo;
  /** syncFileMerge with the struct's flags and pad (the kernel requires 0: EINVAL otherwise). */
  syncFileMergeRaw(fd: number, fd2: number, name: string, raw: { flags?: number; pad?: number }): number;
  /** syncFileSetDeadline with the struct's pad (the kernel requires 0: EINVAL otherwise). */
  syncFileSetDeadlineRaw(fd: number, deadlineNs: bigint, pad: U64): void;
}
