/**
 * What this kernel's dma-buf and sync_file ioctls can do, found by trying each on a real buffer
 * (`dmabuf doctor` reports it). An ioctl the kernel does not know answers ENOTTY; one it knows
 * answers EINVAL to invalid arguments before doing anything: EXPORT/IMPORT_SYNC_FILE (Linux 6.0)
 * refuse flags 0, SYNC_IOC_SET_DEADLINE (6.8; "dma-buf/sync_file: Add SET_DEADLINE ioctl", merged
 * for 6.8) a non-zero pad.
 */
import type { BufferHandle } from '../backend.js';
import { DmaBufError } from '../../common/errors.js';
import type { NativeAddon } from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';

export interface Probes {
  /** Which buffer the probes ran on: 'heap system', 'udmabuf', or null. */
  readonly on: string | null;
  readonly sync: boolean | null;
  readonly setName: boolean | null;
  readonly exportSyncFile: boolean | null;
  readonly importSyncFile: boolean | null;
  readonly syncFileInfo: boolean | null;
  readonly setDeadline: boolean | null;
}

/** ENOTTY: the kernel has no such ioctl; any other answer (success, EINVAL, …) means it has. */
function ioctlKnown(addon: NativeAddon, fd: number, request: number, arg: Uint8Array): boolean {
  try {
    addon.ioctlRaw(fd, request, arg);
    return true;
  } catch (error) {
    return !(error instanceof DmaBufError && error.code === 'ENOTTY');
  }
}

function succeeds(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** The probes, on `buffer` (described by `on` in the report). */
export function probeCapabilities(buffer: BufferHandle, on: string): Probes {
  const addon = requireAddon();
  const c = addon.constants;
  const fd = buffer.fd;
  const sync = succeeds(() => {
    addon.dmaBufSync(fd, c.DMA_BUF_SYNC_START | c.DMA_BUF_SYNC_READ);
    addon.dmaBufSync(fd, c.DMA_BUF_SYNC_END | c.DMA_BUF_SYNC_READ);
  });
  const setName = succeeds(() => buffer.setName('dmabuf-doctor'));
  // struct dma_buf_export_sync_file / import_sync_file { __u32 flags; __s32 fd; }: flags 0 is EINVAL.
  const exportSyncFile = ioctlKnown(addon, fd, c.DMA_BUF_IOCTL_EXPORT_SYNC_FILE, new Uint8Array(8));
  const importArg = new Uint8Array(8);
  new DataView(importArg.buffer).setInt32(4, -1, true);
  const importSyncFile = ioctlKnown(addon, fd, c.DMA_BUF_IOCTL_IMPORT_SYNC_FILE, importArg);
  let syncFileInfo: boolean | null = null;
  let setDeadline: boolean | null = null;
  if (exportSyncFile) {
    let syncFd = -1;
    try {
      syncFd = addon.dmaBufExportSyncFile(fd, c.DMA_BUF_SYNC_READ);
      syncFileInfo = succeeds(() => addon.syncFileInfo(syncFd));
      // struct sync_set_deadline { __u64 deadline_ns; __u64 pad; }: a non-zero pad is EINVAL.
      const deadline = new Uint8Array(16);
      deadline[8] = 1;
      setDeadline = ioctlKnown(addon, syncFd, c.SYNC_IOC_SET_DEADLINE, deadline);
    } catch {
      // Export failed after all: the sync-file probes stay unknown.
    } finally {
      if (syncFd >= 0) addon.close(syncFd);
    }
  }
  return { on, sync, setName, exportSyncFile, importSyncFile, syncFileInfo, setDeadline };
}
