/**
 * Sharing a holder with another worker thread. fds are process-wide, so a shared handle is the
 * fd's number plus the identity of the file behind it (inode and device): the receiving thread
 * dups the number and checks that the dup is still that file. If the sharing holder closed it
 * first (and the number went to something else), the receiver gets EBADF, never a stranger's fd.
 * Across processes, use FdChannel.
 */
import { DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import type { Supports } from './backend/backend.js';
import { getKernelBackend } from './backend/kernel/index.js';

export type SharedKind = 'dmabuf.DmaBuf' | 'dmabuf.SyncFile';

/** A plain object that survives postMessage/structuredClone; give it to DmaBuf/SyncFile.fromShared. */
export interface SharedHandle<K extends SharedKind = SharedKind> {
  readonly kind: K;
  readonly pid: number;
  readonly fd: number;
  readonly ino: number;
  readonly dev: number;
}

export function makeShared<K extends SharedKind>(kind: K, fd: number, supports: Supports): SharedHandle<K> {
  if (!supports.shareAcrossThreads) {
    throw new DmaBufError(
      MisuseCode.UNSUPPORTED,
      "emulated buffers and sync files live in one thread (their memory, fences and devices are that thread's objects); share a kernel buffer, or create the emulation in the worker",
      { syscall: 'share' },
    );
  }
  const { ino, dev } = getKernelBackend().identity(fd);
  return Object.freeze({ kind, pid: process.pid, fd, ino, dev });
}

/** A fresh fd of the shared file, owned by the caller; checked to be the file that was shared. */
export function takeShared(kind: SharedKind, handle: unknown, syscall: string): number {
  if (typeof handle !== 'object' || handle === null) throw invalidType(syscall, 'handle', `the object ${kind.split('.')[1]}.share() returned`, handle);
  const h = handle as Partial<SharedHandle>;
  if (h.kind !== kind) throw invalidArgument(syscall, 'handle', `is not a shared ${kind.split('.')[1]} (its kind is ${String(h.kind)})`);
  for (const key of ['pid', 'fd', 'ino', 'dev'] as const) {
    if (!Number.isSafeInteger(h[key]) || (h[key] as number) < 0) throw invalidArgument(syscall, `handle.${key}`, 'must be a non-negative integer');
  }
  if (h.pid !== process.pid) {
    throw invalidArgument(syscall, 'handle', `was shared by process ${h.pid}; fds cross processes only through FdChannel`);
  }
  const backend = getKernelBackend();
  const fd = backend.dupFd(h.fd as number);
  const { ino, dev } = backend.identity(fd);
  if (ino !== h.ino || dev !== h.dev) {
    backend.closeFd(fd);
    throw new DmaBufError('EBADF', `fd ${h.fd} is no longer the shared ${kind.split('.')[1]}: the sharing holder closed it before fromShared`, {
      syscall,
      argument: 'handle',
    });
  }
  return fd;
}
