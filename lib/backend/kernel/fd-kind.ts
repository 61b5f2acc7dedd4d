/**
 * What an fd is, told from the kernel's own answers before any type-specific ioctl reaches it
 * (native/fd_kind.cc does the telling: the dma-buf filesystem's magic, the anon inode named
 * "sync_file"). recvMsg types received fds in the same call; this names the answer.
 */
import type { NativeAddon } from '../../native/addon.js';

export type FdKind = 'dmabuf' | 'syncFile' | 'other';

const KINDS: readonly FdKind[] = ['other', 'dmabuf', 'syncFile'];

/**
 * The kind of `fd`; `known` is recvMsg's answer for it where there is one. A negative answer (the
 * kernel would not say) is asked again, so that the failure is thrown as the call's DmaBufError.
 */
export function fdKind(addon: Pick<NativeAddon, 'fdKind'>, fd: number, known?: number): FdKind {
  const kind = known !== undefined && known >= 0 ? known : addon.fdKind(fd); // EBADF for a closed fd, as a DmaBufError
  return KINDS[kind] ?? 'other';
}

export function isSyncFileFd(addon: Pick<NativeAddon, 'fdKind'>, fd: number): boolean {
  return fdKind(addon, fd) === 'syncFile';
}
