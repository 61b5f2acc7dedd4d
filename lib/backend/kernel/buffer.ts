/** A dma-buf fd held by the kernel backend: SYNC brackets over one shared mapping, poll waits, fences. */
import { findChange, needsSnapshot, undoChange, violationError, type Violation } from '../../bracket-check.js';
import { CHECKED_SUPPORTS, SUPPORTS } from './supports.js';
import { markAsUntransferable } from 'node:worker_threads';
import { DmaBufError } from '../../errors.js';
import type { NativeAddon, NativeMapping } from '../../native/addon.js';
import type { ResolvedRegion } from '../../region.js';
import type { AccessMode, FenceMode } from '../../validate.js';
import type { Backend, BracketBytes, BufferHandle, PendingWait, Supports, SyncFileHandle } from '../backend.js';
import { withHint } from './errors.js';
import { accessModeOf, readFdinfo } from './fdinfo.js';
import { KernelSyncFile, pollWait } from './sync-file.js';

const O_ACCMODE_RDONLY = 0;

export function syncFlags(addon: NativeAddon, mode: AccessMode | FenceMode): number {
  const c = addon.constants;
  return mode === 'read' ? c.DMA_BUF_SYNC_READ : mode === 'write' ? c.DMA_BUF_SYNC_WRITE : c.DMA_BUF_SYNC_RW;
}

/**
 * poll events for a mode, as the kernel defines them on a dma-buf: POLLIN once the last writer
 * has signalled (what a reader waits for), POLLOUT once every fence has (what a writer waits for).
 */
export function pollEvents(addon: NativeAddon, mode: AccessMode): number {
  return mode === 'read' ? addon.constants.POLLIN : addon.constants.POLLOUT;
}

export class KernelBuffer implements BufferHandle {
  readonly backend: Backend;
  readonly fd: number;
  readonly size: number;
  readonly exporter: string;
  readonly #addon: NativeAddon;
  readonly #readOnly: boolean;
  /** The inode: the buffer's identity across dups and imports, the key that serialises its SYNCs. */
  readonly #ino: number;
  #mapping: NativeMapping | undefined;
  #closed = false;
  #checked = false;

  /** Every dma-buf has its own inode on the dma-buf pseudo filesystem (since 5.3): its identity. */
  get identity(): number {
    return this.#ino;
  }

  /**
   * Takes ownership of `fd`: if construction fails, the fd is closed. `known` skips reading
   * /proc/self/fdinfo when the creator already knows the exporter and access mode (a heap names
   * its buffers' exporter after itself and allocates them O_RDWR): that read is most of the cost
   * of a small allocation.
   */
  constructor(backend: Backend, addon: NativeAddon, fd: number, known?: { exporter: string; readOnly: boolean }) {
    try {
      this.backend = backend;
      this.#addon = addon;
      this.fd = fd;
      // fstat's st_size is the buffer size since the per-buffer inode (5.3); lseek(SEEK_END) before.
      const stat = addon.fstat(fd);
      this.size = stat.size;
      this.#ino = stat.ino;
      if (known) {
        this.exporter = known.exporter;
        this.#readOnly = known.readOnly;
      } else {
        const fdinfo = readFdinfo(fd);
        this.exporter = fdinfo.get('exp_name') ?? '';
        this.#readOnly = accessModeOf(fdinfo) === O_ACCMODE_RDONLY;
      }
    } catch (error) {
      addon.close(fd);
      throw error;
    }
  }

  name(): string {
    return readFdinfo(this.fd).get('name') ?? '';
  }

  get checked(): boolean {
    return this.#checked;
  }

  setChecked(checked: boolean): void {
    this.#checked = checked;
  }

  get supports(): Supports {
    return this.#checked ? CHECKED_SUPPORTS : SUPPORTS;
  }

  setName(name: string): void {
    this.#addon.dmaBufSetName(this.fd, name);
  }

  ready(mode: AccessMode, timeoutMs: number): boolean {
    return this.#addon.poll(this.fd, pollEvents(this.#addon, mode), timeoutMs) !== 0;
  }

  wait(mode: AccessMode, timeoutMs: number): PendingWait {
    return pollWait(this.#addon, this.fd, pollEvents(this.#addon, mode), timeoutMs);
  }

  /**
   * The buffer is mapped once, whole and MAP_SHARED (CMA and udmabuf refuse MAP_PRIVATE), with
   * write access when the fd allows it: mmap(PROT_WRITE) of an O_RDONLY dma-buf fails with EACCES.
   * Each bracket gets its own external ArrayBuffer over the region's span, detached at END.
   */
  #map(mode: AccessMode): NativeMapping {
    const c = this.#addon.constants;
    if (this.#readOnly && mode !== 'read') {
      throw new DmaBufError('EACCES', `mmap: this dma-buf fd was opened read-only; a '${mode}' bracket needs an O_RDWR fd`, {
        syscall: 'mmap',
      });
    }
    if (!this.#mapping) {
      const prot = this.#readOnly ? c.PROT_READ : c.PROT_READ | c.PROT_WRITE;
      try {
        this.#mapping = new this.#addon.Mapping(this.fd, this.size, prot, 0, c.MAP_SHARED);
      } catch (error) {
        withHint(error, {
          // 524 is the kernel-internal ENOTSUPP: what nv_dmabuf (CUDA) answers; EINVAL: no mmap op.
          ENOTSUPP: `the exporter '${this.exporter}' does not support CPU mmap of its dma-bufs; only device access and fences work`,
          EINVAL: `the exporter '${this.exporter}' refused to mmap this dma-buf for the CPU`,
        });
      }
    }
    return this.#mapping;
  }

  beginAccess(mode: AccessMode, region: ResolvedRegion): BracketBytes {
    const mapping = this.#map(mode);
    const flags = syncFlags(this.#addon, mode);
    const c = this.#addon.constants;
    this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_START | flags, this.#ino);
    try {
      const view = mapping.view(region.start, region.spanLength);
      // The view is the mapping itself: a transfer (postMessage, structuredClone) would carry the
      // mapped memory to another thread, past END and past munmap. Untransferable, it is copied.
      markAsUntransferable(view);
      // Checked mode: the span as START left it, to find at END what the bracket may not write.
      const reference = this.#checked && needsSnapshot(mode, region) ? new Uint8Array(view).slice() : undefined;
      return { buffer: view, byteOffset: 0, length: region.spanLength, ...(reference ? { reference } : {}) };
    } catch (error) {
      this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_END | flags, this.#ino);
      throw error;
    }
  }

  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void {
    // Checked mode: find the bracket's forbidden writes while its view is still attached, and
    // undo them before END, as non-coherent hardware would lose them (and as the emulator does).
    let violation: Violation | undefined;
    if (bytes.reference && bytes.buffer.byteLength > 0) {
      const now = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      violation = findChange(mode, region, now, bytes.reference);
      if (violation) undoChange(mode, region, now, bytes.reference);
    }
    // Detach first: no CPU access may follow the END. The kernel syncs the whole buffer; the
    // region only scoped what was handed out.
    this.#mapping?.detach(bytes.buffer);
    const c = this.#addon.constants;
    this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_END | syncFlags(this.#addon, mode), this.#ino);
    if (violation) throw violationError(violation, region, this.#displayName(), 'DMA_BUF_IOCTL_SYNC');
  }

  /** The name violations report: the buffer's name, or its fd number when it has none (as the emulator says). */
  #displayName(): string {
    try {
      return this.name() || `fd ${this.fd}`;
    } catch {
      return `fd ${this.fd}`;
    }
  }

  exportSyncFile(mode: AccessMode): SyncFileHandle {
    const fd = this.#addon.dmaBufExportSyncFile(this.fd, syncFlags(this.#addon, mode));
    return new KernelSyncFile(this.backend, this.#addon, fd);
  }

  importSyncFile(syncFile: SyncFileHandle, mode: FenceMode): void {
    this.#addon.dmaBufImportSyncFile(this.fd, syncFlags(this.#addon, mode), syncFile.fd);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mapping?.unmap();
    this.#mapping = undefined;
    this.#addon.close(this.fd);
  }
}
