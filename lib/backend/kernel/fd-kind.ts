/**
 * What an fd is, told from the kernel's own answers before any type-specific ioctl reaches it:
 * a dma-buf lives on the dma-buf pseudo filesystem (fstatfs f_type DMA_BUF_MAGIC); a sync_file is
 * an anonymous inode the kernel names "sync_file" (sync_file_alloc → anon_inode_getfile), which
 * /proc/self/fd/<fd> shows as "anon_inode:sync_file".
 */
import { readlinkSync } from 'node:fs';
import { DmaBufError } from '../../common/errors.js';
import type { NativeAddon } from '../../native/addon.js';

export type FdKind = 'dmabuf' | 'syncFile' | 'other';

export function isSyncFileFd(addon: NativeAddon, fd: number): boolean {
  return fdKind(addon, fd) === 'syncFile';
}

export function fdKind(addon: NativeAddon, fd: number): FdKind {
  const magic = addon.fstatfsType(fd); // EBADF for a closed fd, as a DmaBufError
  if (magic === addon.constants.DMA_BUF_MAGIC) return 'dmabuf';
  if (magic !== addon.constants.ANON_INODE_FS_MAGIC) return 'other';
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new DmaBufError(code, `cannot tell what fd ${fd} is: readlink /proc/self/fd/${fd} failed (${code})`, { syscall: 'readlink', cause: error });
  }
  return target === 'anon_inode:sync_file' ? 'syncFile' : 'other';
}
