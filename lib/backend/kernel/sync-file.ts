/** A sync_file fd held by the kernel backend. */
import type { NativeAddon } from '../../native/addon.js';
import type { Backend, PendingWait, SyncFileHandle, SyncFileInfo } from '../backend.js';
import { DmaBufError, MisuseCode } from '../../common/errors.js';

/** A poll wait on the event loop (uv_poll on a dup of the fd); true when ready, false on timeout or cancel. */
export function pollWait(addon: NativeAddon, fd: number, events: number, timeoutMs: number): PendingWait {
  const waiter = new addon.PollWaiter(fd, events, timeoutMs);
  return { promise: waiter.promise.then((revents) => revents > 0), cancel: () => waiter.cancel() };
}

export class KernelSyncFile implements SyncFileHandle {
  readonly backend: Backend;
  readonly fd: number;
  readonly #addon: NativeAddon;
  #closed = false;

  constructor(backend: Backend, addon: NativeAddon, fd: number) {
    this.backend = backend;
    this.#addon = addon;
    this.fd = fd;
  }

  info(): SyncFileInfo {
    const raw = this.#addon.syncFileInfo(this.fd);
    return {
      name: raw.name,
      status: raw.status,
      fences: raw.fences.map((f) => ({ objName: f.objName, driverName: f.driverName, status: f.status, timestampNs: f.timestampNs })),
    };
  }

  status(): number {
    return this.#addon.syncFileStatus(this.fd);
  }

  /** A sync_file reports only POLLIN, once every fence has signalled (also with an error). */
  ready(timeoutMs: number): boolean {
    return this.#addon.poll(this.fd, this.#addon.constants.POLLIN, timeoutMs) !== 0;
  }

  wait(timeoutMs: number): PendingWait {
    return pollWait(this.#addon, this.fd, this.#addon.constants.POLLIN, timeoutMs);
  }

  merge(other: SyncFileHandle, name: string): SyncFileHandle {
    return new KernelSyncFile(this.backend, this.#addon, this.#addon.syncFileMerge(this.fd, other.fd, name));
  }

  setDeadline(deadlineNs: bigint): void {
    try {
      this.#addon.syncFileSetDeadline(this.fd, deadlineNs);
    } catch (error) {
      // SYNC_IOC_SET_DEADLINE arrived in 6.8; older kernels answer ENOTTY.
      if (error instanceof DmaBufError && error.code === 'ENOTTY') {
        throw new DmaBufError(MisuseCode.UNSUPPORTED, 'setDeadline: this kernel has no SYNC_IOC_SET_DEADLINE (needs Linux 6.8)', {
          errno: error.errno ?? 25,
          syscall: 'SYNC_IOC_SET_DEADLINE',
          cause: error,
        });
      }
      throw error;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.close(this.fd);
  }
}
