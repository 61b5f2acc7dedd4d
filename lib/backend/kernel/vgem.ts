/**
 * The DRM and vgem calls lib/testing/vgem.ts (VgemFenceSource) and `dmabuf doctor` make: dumb
 * buffers, PRIME export/import, and vgem's fence ioctls (drivers/gpu/drm/vgem/vgem_fence.c).
 */
import type { NativeAddon } from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';

export type VgemOps = Pick<
  NativeAddon,
  | 'open'
  | 'close'
  | 'fstat'
  | 'constants'
  | 'drmDriverName'
  | 'drmCreateDumb'
  | 'drmGemClose'
  | 'drmPrimeFdToHandle'
  | 'drmPrimeHandleToFd'
  | 'vgemFenceAttach'
  | 'vgemFenceSignal'
>;

export function vgemOps(): VgemOps {
  return requireAddon();
}
