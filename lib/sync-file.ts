/**
 * SyncFile: an explicit fence (the kernel's sync_file). Obtained from buf.exportSyncFile(),
 * SyncFile.merge(), or an emulated device's submit().
 */
import { inspect } from 'node:util';
import { checkToken, Owned } from './lifecycle.js';
import { DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import type { SyncFileHandle, SyncFileInfo } from './backend/backend.js';
import { checkFd, checkName, checkOptions, checkSignal, WAIT_OPTIONS, checkTimeout, type WaitOptions } from './validate.js';
import { backendForFd } from './backend/select.js';
import type { Supports } from './backend/backend.js';
import { getKernelBackend } from './backend/kernel/index.js';
import { makeShared, takeShared, type SharedHandle } from './share.js';
import { settleWait } from './wait.js';

export type SyncFileStatus = 'active' | 'signaled' | 'error';

const wrapToken = Symbol('SyncFile.wrap');

export class SyncFile {
  readonly #owned: Owned<SyncFileHandle>;

  /** Not public: use buf.exportSyncFile(), syncFile.merge() or device.submit(). */
  private constructor(token: symbol, handle: SyncFileHandle) {
    checkToken(token, wrapToken, 'SyncFile', 'buf.exportSyncFile()');
    this.#owned = new Owned(this, 'SyncFile', handle);
  }

  /** @internal */
  static _wrap(handle: SyncFileHandle): SyncFile {
    return new SyncFile(wrapToken, handle);
  }

  /**
   * Wrap a sync_file fd received from another process or a driver. Anything that is not a
   * sync_file is refused with EBADFD before any sync_file ioctl reaches it. With `dup: true` (the
   * default) the SyncFile works on its own duplicate and the caller keeps `fd`; with `dup: false`
   * it takes `fd` over and closes it.
   */
  static fromFd(fd: number, options?: { dup?: boolean }): SyncFile {
    checkFd('SyncFile.fromFd', 'fd', fd);
    const opts = checkOptions('SyncFile.fromFd', options, ['dup']);
    const dup = opts['dup'] ?? true;
    if (typeof dup !== 'boolean') throw invalidType('SyncFile.fromFd', 'dup', 'a boolean', dup);
    return SyncFile._wrap(backendForFd(fd).importSyncFileFd(fd, dup));
  }

  /** A new holder of a sync file shared by another worker thread (`syncFile.share()`). Kernel only. */
  static fromShared(handle: SharedHandle<'dmabuf.SyncFile'>): SyncFile {
    const fd = takeShared('dmabuf.SyncFile', handle, 'SyncFile.fromShared');
    return SyncFile._wrap(getKernelBackend().importSyncFileFd(fd, false));
  }

  /** A plain object for postMessage that SyncFile.fromShared() turns into a holder in another thread. */
  share(): SharedHandle<'dmabuf.SyncFile'> {
    const handle = this._handle('share');
    return makeShared('dmabuf.SyncFile', handle.fd, handle.backend.supports);
  }

  /** @internal The backend handle, for DmaBuf.importSyncFile. */
  _handle(operation: string): SyncFileHandle {
    return this.#owned.live(operation);
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  get fd(): number {
    return this._handle('fd').fd;
  }

  get backend(): 'kernel' | 'emulated' {
    return this._handle('backend').backend.name;
  }

  /** What this sync file's backend does (the manifest DmaBuf#supports gives for buffers). */
  get supports(): Supports {
    return this._handle('supports').backend.supports;
  }

  /** SYNC_IOC_FILE_INFO: the sync_file's name, status and fences. */
  info(): SyncFileInfo {
    return this._handle('SYNC_IOC_FILE_INFO').info();
  }

  get status(): SyncFileStatus {
    const status = this._handle('SYNC_IOC_FILE_INFO').status();
    return status > 0 ? 'signaled' : status === 0 ? 'active' : 'error';
  }

  /**
   * Resolves when every fence has signalled (poll POLLIN on the event loop, never a blocked
   * thread). A fence that signalled with an error rejects with ERR_DMABUF_FENCE_ERROR: POLLIN
   * alone cannot tell success from failure, so the status is read after the wake-up.
   */
  async wait(options?: WaitOptions): Promise<void> {
    const handle = this._handle('poll');
    const opts = checkOptions('poll', options, WAIT_OPTIONS);
    const timeoutMs = checkTimeout('poll', opts);
    const signal = checkSignal('poll', opts);
    await settleWait(() => handle.wait(timeoutMs), timeoutMs, signal, 'poll', 'the sync_file');
    this.#throwIfFenceError(handle);
  }

  #throwIfFenceError(handle: SyncFileHandle): void {
    const status = handle.status();
    if (status < 0) {
      throw new DmaBufError(MisuseCode.FENCE_ERROR, `a fence of this sync_file signalled with error ${-status}; the device job failed`, {
        errno: -status,
        syscall: 'SYNC_IOC_FILE_INFO',
      });
    }
  }

  /** SYNC_IOC_MERGE: a new SyncFile that signals when both this and `other` have. */
  merge(other: SyncFile, name = 'dmabuf-merge'): SyncFile {
    const handle = this._handle('SYNC_IOC_MERGE');
    if (!(other instanceof SyncFile)) throw invalidType('SYNC_IOC_MERGE', 'other', 'a SyncFile', other);
    const otherHandle = other._handle('SYNC_IOC_MERGE');
    if (otherHandle.backend !== handle.backend) {
      throw invalidArgument('SYNC_IOC_MERGE', 'other', 'must come from the same backend (emulated fences never reach the kernel)');
    }
    return SyncFile._wrap(handle.merge(otherHandle, checkName('SYNC_IOC_MERGE', name)));
  }

  /**
   * SYNC_IOC_SET_DEADLINE: a hint that the fences should signal by `deadline`, either a bigint of
   * absolute CLOCK_MONOTONIC nanoseconds (the kernel's unit) or a number of milliseconds from now.
   */
  setDeadline(deadline: bigint | number): void {
    const handle = this._handle('SYNC_IOC_SET_DEADLINE');
    if (typeof deadline === 'bigint') {
      if (deadline < 0n || deadline > 0xffffffffffffffffn) throw invalidArgument('SYNC_IOC_SET_DEADLINE', 'deadline', 'must fit in 64 bits');
      handle.setDeadline(deadline);
      return;
    }
    if (typeof deadline !== 'number') throw invalidType('SYNC_IOC_SET_DEADLINE', 'deadline', 'a bigint (ns) or a number (ms from now)', deadline);
    if (!Number.isFinite(deadline) || deadline < 0) throw invalidArgument('SYNC_IOC_SET_DEADLINE', 'deadline', `must be ≥ 0 ms, got ${deadline}`);
    handle.setDeadline(monotonicNowNs() + BigInt(Math.round(deadline * 1e6)));
  }

  /** Close the fd. Idempotent. */
  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (handle) => {
      let status: string;
      try {
        status = this.status;
      } catch {
        status = '?';
      }
      return { fd: handle.fd, backend: handle.backend.name, status };
    });
  }
}

/** CLOCK_MONOTONIC in ns: process.hrtime.bigint() reads the same clock on Linux. */
export function monotonicNowNs(): bigint {
  return process.hrtime.bigint();
}
