/**
 * An emulated dma-buf. BufferState is the buffer itself (memories, fences, name), shared by every
 * holder; EmulatedBuffer is one holder of it under one emulated fd number, like one dma-buf fd.
 *
 * Each bracket gets its own ArrayBuffer covering the region's span: the model's START puts the
 * region's rows in it, its gaps (the span's bytes between rows) hold a known poison pattern (they
 * are not the device's data), and at END it is detached by transferring its backing store away (no
 * copy), then only the rows go back. So two holders can each have a bracket open on the same
 * buffer, each holder's views die at its own END only, and START/END work is proportional to the
 * region (plus one memcmp of the gaps).
 */
import { DmaBufError } from '../../errors.js';
import { rowOffsets, type ResolvedRegion } from '../../region.js';
import type { AccessMode, FenceMode } from '../../validate.js';
import type { BracketBytes, BufferHandle, PendingWait, SyncFileHandle } from '../backend.js';
import type { EmulatedBackend } from './backend.js';
import { copyRows, fillGaps, findViolation, hasGaps } from './detect.js';
import { allocateFd, registerFd, releaseFd } from './fds.js';
import { Resv, waitAsync, waitSync } from './fences.js';
import type { Memory } from './models.js';
import { EmulatedSyncFile } from './sync-file.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';
/** CPU and device race at this granularity: each aligned 8-byte word comes whole from one side. */
const RACE_WORD = 8;

export class BufferState {
  readonly size: number;
  readonly exporter: string;
  readonly memory: Memory;
  readonly resv = new Resv();
  name = '';
  /** Bumped whenever a device job writing this buffer completes; a bracket that saw it move raced. */
  deviceWrites = 0;
  holders = 0;

  constructor(size: number, exporter: string, memory: Memory) {
    this.size = size;
    this.exporter = exporter;
    this.memory = memory;
  }
}

interface Bracket {
  readonly buffer: ArrayBuffer;
  /** A 'read' bracket's rows as handed out, back to back: END finds writes against them. */
  readonly rows: Uint8Array | undefined;
  readonly deviceWrites: number;
}

/** A detached bracket's ArrayBuffer kept for the next bracket, and whether its gaps still hold the pattern for `layout`. */
interface Spare {
  readonly buffer: ArrayBuffer;
  readonly layout: ResolvedRegion | undefined;
}

type Transferable = ArrayBuffer & { transfer?: () => ArrayBuffer };

/**
 * Detach `buffer` and every view over it; the returned ArrayBuffer owns the same bytes.
 * ArrayBuffer.prototype.transfer (Node 22+) where it exists, else structuredClone with transfer
 * (a few µs); neither copies.
 */
export function detach(buffer: ArrayBuffer): ArrayBuffer {
  const transferable = buffer as Transferable;
  if (typeof transferable.transfer === 'function') return transferable.transfer();
  return structuredClone(buffer, { transfer: [buffer] });
}

/** The same row layout at the same page alignment: the gaps are where they were, with the same pattern. */
function sameLayout(a: ResolvedRegion, b: ResolvedRegion, pageLength: number): boolean {
  return (
    a.spanLength === b.spanLength &&
    a.rowBytes === b.rowBytes &&
    a.rowPitch === b.rowPitch &&
    a.rowCount === b.rowCount &&
    a.slicePitch === b.slicePitch &&
    a.sliceCount === b.sliceCount &&
    a.start % pageLength === b.start % pageLength
  );
}

export class EmulatedBuffer implements BufferHandle {
  readonly backend: EmulatedBackend;
  readonly fd: number;
  readonly state: BufferState;
  #closed = false;
  #bracket: Bracket | undefined;
  /** The last bracket's detached-and-recovered ArrayBuffer, reused when the next span is as long. */
  #spare: Spare | undefined;

  /** A new holder of `state`; with `fd` it takes that number over (DmaBuf.fromFd dup: false). */
  constructor(backend: EmulatedBackend, state: BufferState, fd?: number) {
    this.backend = backend;
    this.state = state;
    this.fd = fd ?? allocateFd('dma-buf');
    if (state.holders++ === 0) backend.counters.liveBuffers++;
    registerFd(this.fd, { owner: backend, kind: 'buffer', target: this });
  }

  get size(): number {
    return this.state.size;
  }

  get exporter(): string {
    return this.state.exporter;
  }

  /** The name violations report: the buffer's name, or its fd number when it has none. */
  get displayName(): string {
    return this.state.name || `fd ${this.fd}`;
  }

  name(): string {
    return this.state.name;
  }

  setName(name: string): void {
    this.backend.faults.check('setName', 'DMA_BUF_SET_NAME');
    this.state.name = name;
  }

  ready(mode: AccessMode, timeoutMs: number): boolean {
    return waitSync(() => this.state.resv.fences(mode), timeoutMs);
  }

  wait(mode: AccessMode, timeoutMs: number): PendingWait {
    return waitAsync(() => this.state.resv.fences(mode), timeoutMs);
  }

  beginAccess(mode: AccessMode, region: ResolvedRegion): BracketBytes {
    const { memory } = this.state;
    const { model } = this.backend;
    this.backend.faults.restarting('sync', SYNC);
    // SYNC START waits for the implicit fences (read: writers; write: everyone), blocking.
    waitSync(() => this.state.resv.fences(mode), -1);
    const span = region.spanLength;
    const spare = this.#spare;
    this.#spare = undefined;
    const reuse = spare?.buffer.byteLength === span;
    const buffer = reuse ? spare.buffer : new ArrayBuffer(span);
    const view = new Uint8Array(buffer, 0, span);
    this.backend.counters.syncedBytes += model.startInto(memory, mode, region, view);
    const gapsReady = reuse && spare.layout !== undefined && sameLayout(spare.layout, region, model.poison.length);
    if (hasGaps(region) && !gapsReady) fillGaps(view, region, model.poison);
    this.#bracket = { buffer, rows: mode === 'read' ? copyRows(view, region) : undefined, deviceWrites: this.state.deviceWrites };
    return { buffer, byteOffset: 0, length: span };
  }

  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void {
    const bracket = this.#bracket;
    if (!bracket || bracket.buffer !== bytes.buffer) {
      throw new DmaBufError('EINVAL', 'END for bytes this holder did not hand out', { syscall: SYNC });
    }
    this.#bracket = undefined;
    // Detach first: no CPU access may follow the END.
    const recovered = detach(bytes.buffer);
    const data = new Uint8Array(recovered, bytes.byteOffset, bytes.length);
    this.backend.faults.restarting('sync', SYNC);
    const { model } = this.backend;
    const violation = findViolation(mode, region, data, model.poison, bracket.rows);
    // Without a violation the gaps still hold the pattern: the next bracket of this layout keeps them.
    this.#spare = { buffer: recovered, layout: violation ? undefined : region };
    if (mode !== 'read') {
      if (this.state.deviceWrites !== bracket.deviceWrites) this.#race(region, data);
      // Only the region's rows go back: writes in the gaps between rows are dropped here.
      this.backend.counters.syncedBytes += model.endFrom(this.state.memory, mode, region, data);
    }
    if (violation) {
      const offset = region.start + violation.offset;
      const what =
        violation.code === 'ERR_DMABUF_WRITE_IN_READ_BRACKET'
          ? `was written inside a 'read' bracket; the write was not synced to the device: use 'write' or 'readwrite'`
          : `lies between the rows of the bracket's region and was written; the write was dropped: write only through rows(), or declare a region that covers it`;
      throw new DmaBufError(violation.code, `byte ${offset} of dma-buf '${this.displayName}' ${what}`, {
        syscall: SYNC,
        bufferName: this.displayName,
        offset,
      });
    }
  }

  /**
   * A device job wrote this buffer while the bracket was open: CPU and device raced, so each
   * aligned word of the region ends up from one side or the other, chosen by the seeded PRNG.
   */
  #race(region: ResolvedRegion, data: Uint8Array): void {
    const rng = this.backend.raceRng;
    const device = new Uint8Array(region.rowBytes);
    for (const offset of rowOffsets(region)) {
      const at = region.start + offset;
      this.backend.model.readDevice(this.state.memory, at, device);
      let word = at - (at % RACE_WORD);
      for (; word < at + region.rowBytes; word += RACE_WORD) {
        if ((rng.next() & 1) === 0) continue;
        const from = Math.max(word, at);
        const to = Math.min(word + RACE_WORD, at + region.rowBytes);
        data.set(device.subarray(from - at, to - at), from - region.start);
      }
    }
  }

  exportSyncFile(mode: AccessMode): SyncFileHandle {
    this.backend.faults.check('export', 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
    // A snapshot: fences added later are not in it; none gives the signalled stub.
    return new EmulatedSyncFile(this.backend, this.state.resv.fences(mode), 'dma-buf-export');
  }

  importSyncFile(syncFile: SyncFileHandle, mode: FenceMode): void {
    this.backend.faults.check('import', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
    if (!(syncFile instanceof EmulatedSyncFile)) {
      throw new DmaBufError('EINVAL', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE: not an emulated sync_file', { syscall: 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE' });
    }
    for (const fence of syncFile.fences) this.state.resv.add(fence, mode);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#spare = undefined;
    releaseFd(this.fd, this);
    if (--this.state.holders === 0) this.backend.counters.liveBuffers--;
  }
}
