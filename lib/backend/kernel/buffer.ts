/** A dma-buf fd held by the kernel backend: SYNC brackets over one shared mapping, poll waits, fences. */
import { CHECKED_SUPPORTS, SUPPORTS } from './supports.js';
import { markAsUntransferable } from 'node:worker_threads';
import type { NativeAddon, NativeMapping } from '../../native/addon.js';
import type { Backend, BracketBytes, BufferHandle, PendingWait, Supports, SyncFileHandle } from '../backend.js';
import type { AccessMode, FenceMode, ResolvedRegion } from '../../common/vocabulary.js';
import { cpuMappableKind, heapKind } from '../../common/heap-kind.js';
import { DmaBufError, MisuseCode } from '../../common/errors.js';
import { findAndUndoChange, needsSnapshot, type Violation, violationError } from '../../common/bracket-check.js';
import { withHint } from './errors.js';
import { readFdinfo } from './fdinfo.js';
import { KernelSyncFile, pollWait } from './sync-file.js';

/** The access-mode bits of the open flags (the kernel's O_ACCMODE; the addon exports O_RDONLY and the rest). */
const O_ACCMODE = 3;

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

const NO_BYTES = new ArrayBuffer(0);

/**
 * A bracket's bytes: a view over the region's span of the mapping, made when first asked for and
 * detached at END. Most of a bracket's cost is that view (an external ArrayBuffer), so a bracket
 * that never touches its bytes (one that only syncs for a device) makes none.
 */
class MappedSpan implements BracketBytes {
  readonly byteOffset = 0;
  readonly length: number;
  reference?: Uint8Array;
  readonly #mapping: NativeMapping;
  readonly #start: number;
  #view: ArrayBuffer | undefined;
  #revoked = false;

  constructor(mapping: NativeMapping, start: number, length: number) {
    this.#mapping = mapping;
    this.#start = start;
    this.length = length;
  }

  get buffer(): ArrayBuffer {
    if (this.#revoked) return this.#view ?? NO_BYTES;
    if (!this.#view) {
      const view = this.#mapping.view(this.#start, this.length);
      // The view is the mapping itself: a transfer (postMessage, structuredClone) would carry the
      // mapped memory to another thread, past END and past munmap. Untransferable, it is copied.
      markAsUntransferable(view);
      this.#view = view;
    }
    return this.#view;
  }

  /** END: detach the view if one was made; none is made after. */
  revoke(): void {
    this.#revoked = true;
    if (this.#view) this.#mapping.detach(this.#view);
  }
}

export class KernelBuffer implements BufferHandle {
  readonly backend: Backend;
  readonly fd: number;
  readonly size: number;
  readonly #addon: NativeAddon;
  readonly #readOnly: boolean;
  /** The inode: the buffer's identity across dups and imports, the key that serialises its SYNCs. */
  #ino: number | undefined;
  #exporter: string | undefined;
  #mapping: NativeMapping | undefined;
  #closed = false;
  #checked = false;

  /** Every dma-buf has its own inode on the dma-buf pseudo filesystem (since 5.3): its identity. */
  get identity(): number {
    this.#ino ??= this.#addon.fstat(this.fd).ino;
    return this.#ino;
  }

  /**
   * Takes ownership of `fd`: if construction fails, the fd is closed. `known` is what the creator
   * already knows (a heap names its buffers' exporter after itself, allocates them O_RDWR and
   * page-aligns their size); the inode is then read at the first bracket;
   * otherwise the access mode comes from fcntl(F_GETFL) and the exporter from
   * /proc/self/fdinfo when first asked for: that read (open, read, close) would otherwise be most
   * of the cost of an import.
   */
  constructor(backend: Backend, addon: NativeAddon, fd: number, known?: { exporter: string; readOnly: boolean; size: number }) {
    try {
      this.backend = backend;
      this.#addon = addon;
      this.fd = fd;
      if (known) {
        this.size = known.size;
        this.#exporter = known.exporter;
        this.#readOnly = known.readOnly;
      } else {
        // fstat's st_size is the buffer size since the per-buffer inode (5.3); lseek(SEEK_END) before.
        const stat = addon.fstat(fd);
        this.size = stat.size;
        this.#ino = stat.ino;
        this.#readOnly = (addon.statusFlags(fd) & O_ACCMODE) === addon.constants.O_RDONLY;
      }
    } catch (error) {
      addon.close(fd);
      throw error;
    }
  }

  get knownExporter(): string | undefined {
    return this.#exporter;
  }

  get exporter(): string {
    this.#exporter ??= readFdinfo(this.fd).get('exp_name') ?? '';
    return this.#exporter;
  }

  /** The exporter, or undefined where it cannot be read now (EMFILE at the fd limit): for messages. */
  #exporterIfReadable(): string | undefined {
    try {
      return this.exporter;
    } catch {
      return undefined;
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
        // An imported buffer's exporter is learnt only now that mmap was refused, so that a
        // bracket needs no free fd (reading fdinfo opens a file): the first bracket of a buffer a
        // program already holds works at the fd limit too.
        const exporter = this.#exporterIfReadable();
        if (exporter !== undefined && !cpuMappableKind(heapKind(exporter))) {
          throw new DmaBufError(
            MisuseCode.NOT_CPU_ACCESSIBLE,
            `mmap: this buffer comes from the protected heap '${exporter}'; the CPU cannot map its memory (only devices can access it)`,
            { syscall: 'mmap', cause: error },
          );
        }
        withHint(error, {
          // 524 is the kernel-internal ENOTSUPP: what nv_dmabuf (CUDA) answers; EINVAL: no mmap op.
          ENOTSUPP: `the exporter '${exporter ?? '?'}' does not support CPU mmap of its dma-bufs; only device access and fences work`,
          EINVAL: `the exporter '${exporter ?? '?'}' refused to mmap this dma-buf for the CPU`,
        });
      }
    }
    return this.#mapping;
  }

  beginAccess(mode: AccessMode, region: ResolvedRegion): BracketBytes {
    const mapping = this.#map(mode);
    const flags = syncFlags(this.#addon, mode);
    const c = this.#addon.constants;
    this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_START | flags, this.identity);
    try {
      const span = new MappedSpan(mapping, region.start, region.spanLength);
      // Checked mode: the span as START left it, to find at END what the bracket may not write.
      if (this.#checked && needsSnapshot(mode, region)) span.reference = new Uint8Array(span.buffer).slice();
      return span;
    } catch (error) {
      this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_END | flags, this.identity);
      throw error;
    }
  }

  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void {
    const span = bytes as MappedSpan;
    // Checked mode: find the bracket's forbidden writes while its view is still attached, and
    // undo them before END, as non-coherent hardware would lose them (and as the emulator does).
    let violation: Violation | undefined;
    if (span.reference && span.buffer.byteLength > 0) {
      const now = new Uint8Array(span.buffer, span.byteOffset, span.length);
      violation = findAndUndoChange(mode, region, now, span.reference);
    }
    // Detach first: no CPU access may follow the END. The kernel syncs the whole buffer; the
    // region only scoped what was handed out.
    span.revoke();
    const c = this.#addon.constants;
    this.#addon.dmaBufSync(this.fd, c.DMA_BUF_SYNC_END | syncFlags(this.#addon, mode), this.identity);
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
