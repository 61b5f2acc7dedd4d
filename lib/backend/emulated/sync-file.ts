/**
 * An emulated sync_file: a set of emulated fences under an emulated fd number. It signals when
 * every fence has (a fence that failed counts as signalled, as POLLIN does), and FILE_INFO lists
 * the fences one by one, as the kernel flattens fence arrays.
 */
import type { PendingWait, SyncFileHandle, SyncFileInfo } from '../backend.js';
import type { EmulationContext } from './context.js';
import { allocateFd, registerFd, releaseFd } from './fds.js';
import { EmuFence, waitAsync, waitSync } from './fences.js';

/** Like a signalled dma_fence_array: active until all have signalled, then the first error or 1. */
function combinedStatus(fences: readonly { readonly status: number }[]): number {
  return fences.some((f) => f.status === 0) ? 0 : (fences.find((f) => f.status < 0)?.status ?? 1);
}

export class EmulatedSyncFile implements SyncFileHandle {
  readonly backend: EmulationContext;
  readonly fd: number;
  readonly fences: readonly EmuFence[];
  readonly #name: string;
  #closed = false;

  /** An empty set is the kernel's already-signalled stub fence. `fd`: take this number over (an import without dup). */
  constructor(backend: EmulationContext, fences: readonly EmuFence[], name: string, fd?: number) {
    this.backend = backend;
    this.fd = fd ?? allocateFd('sync_file');
    this.fences = fences.length > 0 ? [...new Set(fences)] : [EmuFence.stub()];
    this.#name = name;
    registerFd(this.fd, { owner: backend, kind: 'syncFile', target: this });
  }

  get name(): string {
    return this.#name;
  }

  info(): SyncFileInfo {
    const fences = this.fences.map((fence) => fence.info());
    return { name: this.#name, status: combinedStatus(fences), fences };
  }

  status(): number {
    return combinedStatus(this.fences.map((fence) => fence.info()));
  }

  ready(timeoutMs: number): boolean {
    return waitSync(() => this.fences, timeoutMs);
  }

  wait(timeoutMs: number): PendingWait {
    return waitAsync(() => this.fences, timeoutMs);
  }

  merge(other: SyncFileHandle, name: string): SyncFileHandle {
    this.backend.faults.check('merge', 'SYNC_IOC_MERGE');
    const theirs = other instanceof EmulatedSyncFile ? other.fences : [];
    // The merged file needs no stub: drop signalled stubs when real fences are present.
    const all = [...this.fences, ...theirs].filter((f) => f.objName !== 'stub' || !f.signalled);
    return new EmulatedSyncFile(this.backend, all, name);
  }

  /** A hint (SYNC_IOC_SET_DEADLINE): recorded on every fence, which signal on their own schedule. */
  setDeadline(deadlineNs: bigint): void {
    for (const fence of this.fences) fence.setDeadline(deadlineNs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    releaseFd(this.fd, this);
  }
}
