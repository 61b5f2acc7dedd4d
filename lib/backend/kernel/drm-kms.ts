/**
 * The DRM calls dmabuf/testing's DrmScanout makes (native/drm_kms.cc for the modesetting ioctls,
 * native/vgem.cc for dumb buffers and PRIME): no policy here beyond finding a card node by its
 * driver's name. The one module of lib/testing's scanout that reaches the addon.
 */
import { readdirSync } from 'node:fs';
import { fsError } from '../../common/errors.js';
import type { NativeAddon, NativeDrmConnector, NativeDrmMode } from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';

export type DrmKmsOps = Pick<
  NativeAddon,
  | 'open'
  | 'close'
  | 'constants'
  | 'fstat'
  | 'drmDriverName'
  | 'drmCreateDumb'
  | 'drmGemClose'
  | 'drmPrimeHandleToFd'
  | 'drmSetMaster'
  | 'drmModeGetResources'
  | 'drmModeGetConnector'
  | 'drmModeGetEncoder'
  | 'drmModeAddFb2'
  | 'drmModeSetCrtc'
  | 'drmModeDirtyFb'
  | 'drmModeRmFb'
>;

export type DrmConnector = NativeDrmConnector;
export type DrmMode = NativeDrmMode;

export function drmKmsOps(): DrmKmsOps {
  return requireAddon();
}

/**
 * Open the first primary node (/dev/dri/cardN: modesetting needs one, render nodes refuse KMS)
 * whose DRM_IOCTL_VERSION name is `driver`; undefined when there is none.
 */
export function openCardOf(ops: DrmKmsOps, driver: string): { fd: number; path: string } | undefined {
  let names: string[] = [];
  try {
    names = readdirSync('/dev/dri').filter((n) => /^card\d+$/.test(n));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'opendir', '/dev/dri');
  }
  for (const name of names.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))) {
    let fd: number;
    try {
      fd = ops.open(`/dev/dri/${name}`, ops.constants.O_RDWR);
    } catch {
      continue;
    }
    try {
      if (ops.drmDriverName(fd) === driver) return { fd, path: `/dev/dri/${name}` };
    } catch {
      // Not a DRM node we can query: try the next one.
    }
    ops.close(fd);
  }
  return undefined;
}
