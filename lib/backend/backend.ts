/**
 * The Backend contract (Level/serialport style): the public classes (DmaHeap, Udmabuf, DmaBuf,
 * CpuAccess, SyncFile) own validation, state and the bracketing rules; a backend supplies a few
 * small operations on already-validated arguments. The kernel backend (./kernel/) issues the real
 * syscalls through the native addon; the emulated backend (./emulated/) models awkward hardware in
 * pure TypeScript. Behaviour differences are driven by `supports`, never by backend names.
 *
 * Rules every backend follows (the conformance suite in test/conformance checks them):
 * - Arguments arrive validated: sizes are safe integers > 0, regions lie inside the buffer, modes
 *   and names are well formed. A backend does not re-validate, but it must fail with a DmaBufError
 *   whose `code` is the errno the kernel would give ('EINVAL', 'ENOMEM', …) when an operation fails.
 * - A failing operation leaves nothing behind: no fd, no mapping, no pinned pages, no handle.
 * - `beginAccess` waits for the buffer's fences as DMA_BUF_IOCTL_SYNC START does (read: pending
 *   writers; write/readwrite: all users) and must be called only after `ready()`/`wait()` reported
 *   the buffer ready, so it does not block for long. It returns bytes covering exactly the region's
 *   span; those bytes stay reachable only until `endAccess`, which detaches them (length 0) before
 *   it ends CPU access with the same mode (END always carries the START flags).
 * - `endAccess` completes the END even when it then reports a detected violation (by throwing
 *   ERR_DMABUF_WRITE_IN_READ_BRACKET / ERR_DMABUF_WRITE_OUTSIDE_REGION with bufferName and offset).
 * - EINTR/EAGAIN from SYNC are retried inside the backend (the kernel docs say "must be restarted").
 * - Waits never block the event loop: `wait()` resolves on the loop (poll via uv_poll for the
 *   kernel; timers for the emulator) and can be cancelled; a settled or cancelled wait keeps
 *   nothing alive.
 * - `close()` is idempotent at this level too and releases every resource of the handle.
 */
import type { AccessMode, FenceMode, ResolvedRegion } from '../common/vocabulary.js';

// The vocabulary and helpers both layers use live in lib/common/, below both; this file is the
// contract alone and re-exports nothing.

export interface Supports {
  /** `fd` is a real kernel dma-buf / sync_file fd that other processes and drivers understand. */
  readonly realFds: boolean;
  /** Udmabuf.fromSegments: needs real memfds (where false it is ERR_DMABUF_UNSUPPORTED before any check). */
  readonly udmabufSegments: boolean;
  /** endAccess detects writes inside a read bracket. */
  readonly detectsWriteInReadBracket: boolean;
  /** endAccess detects writes inside the span but outside the region (gaps between rows). */
  readonly detectsWriteOutsideRegion: boolean;
  /** Bytes a bracket did not sync read as stale or poison (non-coherent models). */
  readonly staleOutsideBracket: boolean;
  /**
   * Buffers are laid out in device tiles (the emulated tiled model): a Frame allocated here carries
   * a tiled modifier unless the program asks for DRM_FORMAT_MOD_LINEAR, as a GPU allocator would.
   */
  readonly tiledLayout: boolean;
  /** Emulated devices that read and write buffers and signal fences. */
  readonly devices: boolean;
  /**
   * A bracket's bytes cannot be transferred (postMessage/structuredClone copy them). Where false,
   * a transfer takes the bracket's copy away and end() reports ERR_DMABUF_BYTES_TRANSFERRED.
   */
  readonly untransferableBytes: boolean;
  /** buf.share() / DmaBuf.fromShared() and their SyncFile twins: holders in other worker threads. */
  readonly shareAcrossThreads: boolean;
}

/** A memfd (shmem file) of the kernel backend. */
export interface MemfdHandle {
  readonly fd: number;
  readonly size: number;
  /** F_ADD_SEALS F_SEAL_SHRINK | F_SEAL_GROW: what udmabuf needs (it refuses write seals). */
  seal(): void;
  close(): void;
}

/** Bytes handed to one bracket: `length` bytes of `buffer` from `byteOffset`. */
export interface BracketBytes {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  /** The backend's own: a snapshot of the span taken at START, for checks at END (checked mode). */
  readonly reference?: Uint8Array;
}

/** A wait in progress. `promise` resolves true when ready, false on timeout, and never rejects on cancel (it resolves false). */
export interface PendingWait {
  readonly promise: Promise<boolean>;
  cancel(): void;
}

export interface FenceInfo {
  readonly objName: string;
  readonly driverName: string;
  /** 1 signalled, 0 active, < 0 signalled with that negative errno. */
  readonly status: number;
  readonly timestampNs: bigint;
}

export interface SyncFileInfo {
  readonly name: string;
  /** 1 signalled, 0 active, < 0 error. */
  readonly status: number;
  readonly fences: readonly FenceInfo[];
}

export interface SyncFileHandle {
  readonly backend: Backend;
  /** The sync_file fd (kernel) or a stable emulated number (see the emulated backend's docs). */
  readonly fd: number;
  info(): SyncFileInfo;
  /** info().status alone, for a wait that only needs to know how it ended: 1 signalled, 0 active, < 0 an error. */
  status(): number;
  /** Non-blocking check (timeoutMs 0) or a bounded blocking poll (timeoutMs > 0; -1 unbounded). */
  ready(timeoutMs: number): boolean;
  wait(timeoutMs: number): PendingWait;
  /** A new sync_file that signals when both have; `other` has the same backend. */
  merge(other: SyncFileHandle, name: string): SyncFileHandle;
  /** Absolute CLOCK_MONOTONIC deadline in ns; a hint. */
  setDeadline(deadlineNs: bigint): void;
  close(): void;
}

export interface BufferHandle {
  readonly backend: Backend;
  /** The dma-buf fd (kernel) or a stable emulated number. */
  readonly fd: number;
  /** Size in bytes as the exporter reports it (page-aligned for heaps and udmabuf). */
  readonly size: number;
  /** The exporter's name: the heap name ('system'), 'udmabuf', 'drm' (PRIME exports), 'nv_dmabuf', … */
  readonly exporter: string;
  /**
   * The exporter when it is known without a syscall (emulated buffers, a heap's own buffers), else
   * undefined: an imported kernel buffer learns it from /proc/self/fdinfo, which needs a free fd.
   */
  readonly knownExporter: string | undefined;
  /** The buffer itself, the same for every holder (kernel: the dma-buf's inode), for finding shared planes. */
  readonly identity: unknown;
  /** What this buffer does (the backend's manifest, or a checked kernel buffer's). */
  readonly supports: Supports;
  /** Whether brackets on it detect writes they were not allowed to make (checked mode). */
  readonly checked: boolean;
  /** Turn checked mode on or off for the brackets that follow (the emulator always checks: a no-op there). */
  setChecked(checked: boolean): void;
  /** The name set with setName (the kernel's fdinfo `name:`), '' if none. */
  name(): string;
  setName(name: string): void;
  /** Are the fences `mode` waits for signalled? timeoutMs 0: check only; > 0: poll that long; -1: unbounded. */
  ready(mode: AccessMode, timeoutMs: number): boolean;
  wait(mode: AccessMode, timeoutMs: number): PendingWait;
  beginAccess(mode: AccessMode, region: ResolvedRegion): BracketBytes;
  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void;
  /** A snapshot of the fences `mode` would wait for (read: writers; write/readwrite: all). */
  exportSyncFile(mode: AccessMode): SyncFileHandle;
  /** Add the sync_file's fences as read or write fences of the buffer. */
  importSyncFile(syncFile: SyncFileHandle, mode: FenceMode): void;
  close(): void;
}

export interface HeapHandle {
  readonly name: string;
  allocate(size: number): BufferHandle;
  close(): void;
}

export interface SegmentSpec {
  readonly memfd: number;
  readonly offset: number;
  readonly size: number;
}

export interface Backend {
  readonly name: 'kernel' | 'emulated';
  readonly supports: Supports;
  /** The system's page size: heaps and udmabuf round sizes up to it. */
  readonly pageSize: number;
  listHeaps(): string[];
  /** Reusable device-tree regions whose heaps are CMA heaps (heap-kind.ts); none on the emulator. */
  cmaRegions(): readonly string[];
  /** Throws ENOENT (no such heap) or EACCES (permissions). */
  openHeap(name: string): HeapHandle;
  /** A fresh sealed memfd of `size` bytes (page-aligned) turned into a dma-buf. */
  createUdmabuf(size: number): BufferHandle;
  /** UDMABUF_CREATE (one segment) or UDMABUF_CREATE_LIST (several). */
  udmabufFromSegments(segments: readonly SegmentSpec[]): BufferHandle;
  /** Import a foreign dma-buf fd: refuses anything that is not a dma-buf (EBADFD). */
  importFd(fd: number, dup: boolean): BufferHandle;
  /** Import a sync_file fd: refuses anything that is not a sync_file (EBADFD) before any sync_file ioctl. */
  importSyncFileFd(fd: number, dup: boolean): SyncFileHandle;
}
