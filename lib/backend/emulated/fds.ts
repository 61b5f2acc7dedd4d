/**
 * Emulated fd numbers. Emulated buffers and sync files get numbers from 2^30 up, unique across
 * every emulated backend in the process. Linux caps fds below 2^30 (fs.nr_open ≤ 1073741816), so
 * these numbers never collide with real fds, and DmaBuf.fromFd can tell them apart.
 */
import { DmaBufError } from '../../common/errors.js';

export const EMULATED_FD_BASE = 2 ** 30;
/** checkFd accepts at most 2^31 - 1. */
const EMULATED_FD_LIMIT = 0x7fffffff;

export type FdKind = 'buffer' | 'syncFile';

export interface FdEntry<Owner, Target> {
  readonly owner: Owner;
  readonly kind: FdKind;
  readonly target: Target;
}

let nextFd = EMULATED_FD_BASE;
const live = new Map<number, FdEntry<unknown, unknown>>();

export function isEmulatedFd(fd: number): boolean {
  return fd >= EMULATED_FD_BASE;
}

/** A fresh number; EMFILE when the emulated range is used up (2^30 numbers). */
export function allocateFd(syscall: string): number {
  if (nextFd > EMULATED_FD_LIMIT) throw new DmaBufError('EMFILE', `${syscall}: the emulated fd range is exhausted`, { syscall });
  return nextFd++;
}

export function registerFd<Owner, Target>(fd: number, entry: FdEntry<Owner, Target>): void {
  live.set(fd, entry);
}

/** Remove `fd` only if it still names `target` (dup:false imports take a number over). */
export function releaseFd(fd: number, target: unknown): void {
  if (live.get(fd)?.target === target) live.delete(fd);
}

export function lookupFd(fd: number): FdEntry<unknown, unknown> | undefined {
  return live.get(fd);
}
