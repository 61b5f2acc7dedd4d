/**
 * DmaBuf: one holder of a dma-buf. It owns validation, state and the bracketing rules; the
 * backend handle does the work. One holder has at most one bracket open at a time (a second
 * START from the same holder is refused); two DmaBuf objects over the same buffer (for example
 * one imported with DmaBuf.fromFd(buf.fd)) are two holders.
 */
import { inspect } from 'node:util';
import { cpuMappableKind, heapKind } from './common/heap-kind.js';
import { checkedByDefault, checkedOption } from './common/checked.js';
import { checkToken, Owned, setUpOrClose } from './lifecycle.js';
import { closedError, DmaBufError, invalidType, MisuseCode } from './common/errors.js';
import type { BracketBytes, BufferHandle, Supports } from './backend/backend.js';
import { CpuAccess } from './cpu-access.js';
import { resolveRegion, type Region, type ResolvedRegion } from './region.js';
import { SyncFile } from './sync-file.js';
import {
  checkAccessMode,
  checkFd,
  checkFenceMode,
  checkName,
  checkOptions,
  checkSignal,
  checkTimeout,
  WAIT_OPTIONS,
  type AccessMode,
  type FenceMode,
  type WaitOptions,
} from './validate.js';
import { settleWait, timeoutError } from './wait.js';
import { backendForFd } from './backend/select.js';
import { getKernelBackend } from './backend/kernel/index.js';
import { makeShared, takeShared, type SharedHandle } from './share.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';

const wrapToken = Symbol('DmaBuf.wrap');

/** A bracket being acquired by cpuAccess(): holds the holder's slot and can be cancelled by close(). */
interface Acquiring {
  cancel(): void;
}

export class DmaBuf {
  readonly #owned: Owned<BufferHandle>;
  #bracket: CpuAccess | Acquiring | undefined;
  /** False for a protected heap's buffer: decided once, from its exporter, at the first bracket. */
  #cpuMappable: boolean | undefined;
  /** The whole buffer as a region (the default of every bracket), resolved once. */
  #whole: ResolvedRegion | undefined;

  /** Not public: use DmaHeap.allocate, Udmabuf.create/fromSegments or DmaBuf.fromFd. */
  private constructor(token: symbol, handle: BufferHandle) {
    checkToken(token, wrapToken, 'DmaBuf', 'DmaHeap.allocate() or DmaBuf.fromFd()');
    this.#owned = new Owned(this, 'DmaBuf', handle);
  }

  /** @internal */
  static _wrap(handle: BufferHandle): DmaBuf {
    return new DmaBuf(wrapToken, handle);
  }

  /**
   * Import a dma-buf fd (for example one received from another process or exported by a driver).
   * Anything that is not a dma-buf is refused with EBADFD before any dma-buf ioctl reaches it.
   * With `dup: true` (the default) the DmaBuf works on its own duplicate and the caller keeps
   * `fd`; with `dup: false` the DmaBuf takes `fd` over and closes it.
   */
  static fromFd(fd: number, options?: { dup?: boolean; checked?: boolean }): DmaBuf {
    checkFd('DmaBuf.fromFd', 'fd', fd);
    const opts = checkOptions('DmaBuf.fromFd', options, ['dup', 'checked']);
    const dup = opts['dup'] ?? true;
    if (typeof dup !== 'boolean') throw invalidType('DmaBuf.fromFd', 'dup', 'a boolean', dup);
    const checked = checkedOption('DmaBuf.fromFd', opts);
    return DmaBuf._wrap(setUpOrClose(backendForFd(fd).importFd(fd, dup), { checked }));
  }

  /**
   * A new holder of a buffer shared by another worker thread of this process (`buf.share()`,
   * posted over postMessage). Kernel buffers only; the sharing holder must stay open until this
   * returns (EBADF otherwise).
   */
  static fromShared(handle: SharedHandle<'dmabuf.DmaBuf'>): DmaBuf {
    const checked = checkedByDefault();
    return DmaBuf._adopt(takeShared('dmabuf.DmaBuf', handle, 'DmaBuf.fromShared'), checked);
  }

  /**
   * @internal A kernel dma-buf fd this process now owns (received over a socket, taken from a
   * shared handle): the one way in besides fromFd, with the same set-up (checked mode from
   * DMABUF_CHECK). Takes `fd` over: it is closed if anything fails.
   */
  static _adopt(fd: number, checked: boolean = checkedByDefault()): DmaBuf {
    return DmaBuf._wrap(setUpOrClose(getKernelBackend().importFd(fd, false), { checked }));
  }

  /** A plain object for postMessage that DmaBuf.fromShared() turns into a holder in another thread. */
  share(): SharedHandle<'dmabuf.DmaBuf'> {
    const handle = this.#live('share');
    return makeShared('dmabuf.DmaBuf', handle.fd, handle.backend.supports);
  }

  #live(operation: string): BufferHandle {
    return this.#owned.live(operation);
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The dma-buf fd (kernel), or the emulated buffer's stable number. Owned by this DmaBuf. */
  get fd(): number {
    return this.#live('fd').fd;
  }

  get size(): number {
    return this.#live('size').size;
  }

  /** The name set with setName (fdinfo `name:`), '' if none. */
  get name(): string {
    return this.#live('name').name();
  }

  /** The exporter (fdinfo exp_name): the heap name ('system'), 'udmabuf', 'drm' for DRM PRIME exports, 'nv_dmabuf' for CUDA, … */
  get exporter(): string {
    return this.#live('exporter').exporter;
  }

  get backend(): 'kernel' | 'emulated' {
    return this.#live('backend').backend.name;
  }

  /** @internal The buffer behind this holder, equal for every holder of it (Frame finds shared planes with it). */
  _identity(): unknown {
    return this.#live('identity').identity;
  }

  /** What this buffer's backend can do (the manifest behind every behaviour that differs). */
  get supports(): Supports {
    return this.#live('supports').supports;
  }

  /**
   * Whether this buffer's brackets detect writes they may not make (a write in a read bracket,
   * a write between a region's rows): always on the emulator; on the kernel in checked mode
   * (`checked: true` where it was made or imported, or DMABUF_CHECK=1).
   */
  get checked(): boolean {
    return this.#live('checked').checked;
  }

  /** DMA_BUF_SET_NAME: at most 31 bytes of UTF-8; shows in /proc/<pid>/fdinfo and debugfs. */
  setName(name: string): void {
    const handle = this.#live('DMA_BUF_SET_NAME');
    handle.setName(checkName('DMA_BUF_SET_NAME', name));
  }

  #claim(operation: string): BufferHandle {
    const handle = this.#live(operation);
    if (this.#bracket) {
      throw new DmaBufError(
        MisuseCode.BRACKET_ACTIVE,
        `${operation}: this DmaBuf already has an open CPU-access bracket; end() it first (one bracket per holder)`,
        { syscall: SYNC },
      );
    }
    // Protected heaps' memory belongs to the device (TEE-secured video, trusted UI): mmap would
    // fail with a bare errno, so say what it is before any syscall where the exporter is known
    // without one. An imported kernel buffer's is not (fdinfo needs a free fd): its backend says
    // the same when mmap is refused.
    const exporter = handle.knownExporter;
    if (exporter !== undefined) this.#cpuMappable ??= cpuMappableKind(heapKind(exporter));
    if (this.#cpuMappable === false) {
      throw new DmaBufError(
        MisuseCode.NOT_CPU_ACCESSIBLE,
        `${operation}: this buffer comes from the protected heap '${exporter}'; the CPU cannot map its memory (only devices can access it)`,
        { syscall: 'mmap' },
      );
    }
    return handle;
  }

  #resolve(handle: BufferHandle, region: Region | undefined): ResolvedRegion {
    if (region !== undefined) return resolveRegion(SYNC, region, handle.size);
    this.#whole ??= resolveRegion(SYNC, undefined, handle.size);
    return this.#whole;
  }

  #open(handle: BufferHandle, mode: AccessMode, region: ResolvedRegion): CpuAccess {
    const raw = handle.beginAccess(mode, region);
    const access = CpuAccess._open(this, mode, region, raw);
    this.#bracket = access;
    return access;
  }

  /**
   * SYNC START for `mode`, then the bytes of `region` (default: the whole buffer) until end().
   * Waits for the buffer's fences first, as START does (read: pending writers; write: all users),
   * but never past `timeoutMs`, rejecting with ETIMEDOUT. This blocks the thread while it waits:
   * on the main thread prefer `await cpuAccess()`.
   */
  beginCpuAccess(mode: AccessMode, region?: Region, options?: { timeoutMs?: number }): CpuAccess {
    this.#live('beginCpuAccess');
    const checkedMode = checkAccessMode(SYNC, mode);
    const handle = this.#claim('beginCpuAccess');
    const resolved = this.#resolve(handle, region);
    const timeoutMs = checkTimeout(SYNC, checkOptions(SYNC, options, ['timeoutMs']));
    if (timeoutMs >= 0 && !handle.ready(checkedMode, timeoutMs)) throw timeoutError('poll', 'the dma-buf', timeoutMs);
    return this.#open(handle, checkedMode, resolved);
  }

  /**
   * The async form: waits for the fences with poll on the event loop (never a blocked thread),
   * then SYNC START. Rejects with ETIMEDOUT after `timeoutMs`, with an AbortError on `signal`, and
   * with ERR_DMABUF_CLOSED if the buffer is closed meanwhile.
   */
  async cpuAccess(mode: AccessMode, region?: Region, options?: WaitOptions): Promise<CpuAccess> {
    this.#live('cpuAccess');
    const checkedMode = checkAccessMode(SYNC, mode);
    const handle = this.#claim('cpuAccess');
    const resolved = this.#resolve(handle, region);
    const opts = checkOptions(SYNC, options, WAIT_OPTIONS);
    const timeoutMs = checkTimeout(SYNC, opts);
    const signal = checkSignal(SYNC, opts);
    let closedWhileWaiting = false;
    let cancelWait: (() => void) | undefined;
    const slot: Acquiring = {
      cancel: () => {
        closedWhileWaiting = true;
        cancelWait?.();
      },
    };
    this.#bracket = slot;
    try {
      await settleWait(
        () => {
          const pending = handle.wait(checkedMode, timeoutMs);
          cancelWait = () => pending.cancel();
          return pending;
        },
        timeoutMs,
        signal,
        'poll',
        'the dma-buf',
      ).catch((error: unknown) => {
        if (closedWhileWaiting) throw closedError('DmaBuf', 'cpuAccess');
        throw error;
      });
      if (closedWhileWaiting) throw closedError('DmaBuf', 'cpuAccess');
    } finally {
      if (this.#bracket === slot) this.#bracket = undefined;
    }
    return this.#open(handle, checkedMode, resolved);
  }

  /**
   * Run `fn` inside a bracket; END is guaranteed, also when `fn` throws or its promise rejects.
   * Returns what `fn` returns (a promise if `fn` is async).
   */
  withCpuAccess<T>(mode: AccessMode, region: Region | undefined, fn: (access: CpuAccess) => T): T;
  withCpuAccess<T>(mode: AccessMode, fn: (access: CpuAccess) => T): T;
  withCpuAccess<T>(mode: AccessMode, regionOrFn: Region | undefined | ((access: CpuAccess) => T), maybeFn?: (access: CpuAccess) => T): T {
    this.#live('withCpuAccess');
    const fn = typeof regionOrFn === 'function' ? regionOrFn : maybeFn;
    const region = typeof regionOrFn === 'function' ? undefined : regionOrFn;
    if (typeof fn !== 'function') throw invalidType(SYNC, 'fn', 'a function', fn);
    const access = this.beginCpuAccess(mode, region);
    let result: T;
    try {
      result = fn(access);
    } catch (error) {
      access[Symbol.dispose]();
      throw error;
    }
    if (result instanceof Promise) {
      return result.finally(() => access[Symbol.dispose]()) as T;
    }
    access[Symbol.dispose]();
    return result;
  }

  /** @internal Called by CpuAccess.end(). */
  _endBracket(access: CpuAccess, region: ResolvedRegion, raw: BracketBytes): void {
    if (this.#bracket !== access) {
      throw new DmaBufError(MisuseCode.NOT_IN_BRACKET, 'end(): this bracket does not belong to an open START', { syscall: SYNC });
    }
    this.#bracket = undefined;
    const handle = this.#live('end');
    handle.endAccess(access.mode, region, raw);
  }

  /**
   * Resolves when the buffer is idle for `mode` (read: no pending writer; write/readwrite: no
   * pending user), polling on the event loop. It does not prepare caches: CPU access still needs
   * a bracket.
   */
  async waitIdle(mode: AccessMode, options?: WaitOptions): Promise<void> {
    const handle = this.#live('waitIdle');
    const checkedMode = checkAccessMode('poll', mode);
    const opts = checkOptions('poll', options, WAIT_OPTIONS);
    const timeoutMs = checkTimeout('poll', opts);
    const signal = checkSignal('poll', opts);
    await settleWait(() => handle.wait(checkedMode, timeoutMs), timeoutMs, signal, 'poll', 'the dma-buf');
  }

  /**
   * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a snapshot of the fences `mode` would wait for (read: the
   * writers; write/readwrite: every user). Fences added later are not in it. An idle buffer gives
   * an already-signalled sync_file.
   */
  exportSyncFile(mode: AccessMode): SyncFile {
    const handle = this.#live('DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
    const checkedMode = checkAccessMode('DMA_BUF_IOCTL_EXPORT_SYNC_FILE', mode);
    return SyncFile._wrap(handle.exportSyncFile(checkedMode));
  }

  /** DMA_BUF_IOCTL_IMPORT_SYNC_FILE: add the sync_file's fences as read or write fences ('readwrite' files them as write fences, as the kernel does). */
  importSyncFile(syncFile: SyncFile, mode: FenceMode | 'readwrite'): void {
    const syscall = 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE';
    const handle = this.#live(syscall);
    if (!(syncFile instanceof SyncFile)) throw invalidType(syscall, 'syncFile', 'a SyncFile', syncFile);
    // The kernel takes READ|WRITE too, and files it as a write fence (dma_buf_import_sync_file:
    // usage is WRITE whenever the WRITE flag is set).
    const checkedMode = mode === 'readwrite' ? 'write' : checkFenceMode(syscall, mode);
    const fence = syncFile._handle(syscall);
    if (fence.backend !== handle.backend) {
      throw new DmaBufError('EINVAL', `${syscall}: the sync_file comes from another backend (emulated fences never reach the kernel)`, {
        syscall,
        argument: 'syncFile',
      });
    }
    handle.importSyncFile(fence, checkedMode);
  }

  /**
   * Close the fd and unmap. Idempotent. Refused with ERR_DMABUF_CLOSE_IN_BRACKET while a bracket
   * is open (end it first); a pending cpuAccess() is cancelled and rejects with ERR_DMABUF_CLOSED.
   */
  close(): void {
    this.#owned.close(() => {
      const bracket = this.#bracket;
      if (bracket instanceof CpuAccess) {
        throw new DmaBufError(MisuseCode.CLOSE_IN_BRACKET, 'close(): a CPU-access bracket is open on this DmaBuf; end() it first', {
          syscall: 'close',
        });
      }
      bracket?.cancel();
      this.#bracket = undefined;
    });
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (handle) => {
      const bracket = this.#bracket;
      const state = bracket === undefined ? 'idle' : bracket instanceof CpuAccess ? `in a ${bracket.mode} bracket` : 'waiting for its fences';
      let name: string;
      try {
        name = handle.name();
      } catch {
        name = '?';
      }
      return { fd: handle.fd, size: handle.size, name, exporter: handle.exporter, backend: handle.backend.name, state };
    });
  }
}
