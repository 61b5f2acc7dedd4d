/**
 * dmabuf: zero-copy, correctly synchronised CPU access to Linux dma-bufs, and an emulated
 * backend that makes a wrong bracket fail on any machine. See README.md.
 */
export { DmaHeap, type HeapDetails, type HeapKind } from './heap.js';
export { Udmabuf, type SegmentInput } from './udmabuf.js';
export { Memfd } from './memfd.js';
export type { SharedHandle, SharedKind } from './share.js';
export {
  Frame,
  FrameAccess,
  type FrameAllocator,
  type FramePlane,
  type FrameDescription,
  type PlaneAccess,
  type SharedFrame,
  type FrameAllocateOptions,
} from './frame.js';
export { FramePool } from './frame-pool.js';
export type { FrameColorSpace, FrameRect, FrameMetadata } from './frame-metadata.js';
export type { ElectronTextureInfo, ElectronImportInfo, ElectronPlane } from './frame-electron.js';
export { DRM_FORMATS, DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_MOD_INVALID, EMULATED_TILED_MODIFIER, type DrmFormat } from './drm-format.js';
export {
  FdChannel,
  FdChannelServer,
  OwnedFd,
  MAX_FDS_PER_MESSAGE,
  type ChannelMessage,
  type ChannelHandle,
  type ReceiveOptions,
  type Sendable,
} from './fd-channel.js';
export { UnixFdSink, type UnixFdSinkOptions, type UnixFdSendOptions } from './unixfd/sink.js';
export { UnixFdSrc, type UnixFdBuffer, type UnixFdMemory } from './unixfd/src.js';
export { DmaBuf } from './dmabuf.js';
export { CpuAccess } from './cpu-access.js';
export { SyncFile, type SyncFileStatus } from './sync-file.js';
export { DmaBufError, AbortError, MisuseCode, type DmaBufErrorDetails } from './common/errors.js';
export { rereadCheckedMode } from './common/checked.js';
export { region, type Region, type LinearRegion, type RectRegion, type BoxRegion } from './region.js';
export type { AccessMode, FenceMode, WaitOptions } from './validate.js';
export type { Supports, SyncFileInfo, FenceInfo } from './backend/backend.js';
export { backendInfo, type BackendInfo, type BackendChoice } from './backend/select.js';
export type { AddonOrigin } from './backend/kernel/addon.js';
export {
  emulation,
  type Emulation,
  type EmulationOptions,
  type EmulatedDevice,
  type Coherency,
  type SubmitOptions,
  type DeviceJob,
  type EmulationStats,
  type EmulationCounters,
  type FaultCode,
  type FaultOperation,
} from './emulation.js';
