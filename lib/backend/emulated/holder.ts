/**
 * One holder of an emulated dma-buf: an emulated fd number, like one dma-buf fd, over the buffer
 * itself (buffer-state.ts), which every holder shares. A holder opens at most one bracket at a
 * time: on the zero-copy path where the model allows it (zero-copy-bracket.ts), else on the
 * copying path (copying-bracket.ts).
 */
import type { BracketBytes, BufferHandle, PendingWait, Supports, SyncFileHandle } from '../backend.js';
import type { AccessMode, FenceMode, ResolvedRegion } from '../../common/vocabulary.js';
import { DmaBufError, MisuseCode } from '../../common/errors.js';
import { violationError } from '../../common/bracket-check.js';
import type { Bracket } from './bracket.js';
import type { BufferState } from './buffer-state.js';
import type { EmulationContext } from './context.js';
import { CopyingBrackets } from './copying-bracket.js';
import { allocateFd, registerFd, releaseFd } from './fds.js';
import { waitAsync, waitSync } from './fences.js';
import { EmulatedSyncFile } from './sync-file.js';
import { beginZeroCopy, SnapshotMemory } from './zero-copy-bracket.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';

export class EmulatedBuffer implements BufferHandle {
  readonly backend: EmulationContext;
  readonly fd: number;
  readonly state: BufferState;
  #closed = false;
  #bracket: Bracket | undefined;
  readonly #copying: CopyingBrackets;
  readonly #snapshots = new SnapshotMemory();

  /** A new holder of `state`; with `fd` it takes that number over (DmaBuf.fromFd dup: false). */
  constructor(backend: EmulationContext, state: BufferState, fd?: number) {
    this.backend = backend;
    this.state = state;
    this.#copying = new CopyingBrackets(backend, state);
    this.fd = fd ?? allocateFd('dma-buf');
    if (state.holders++ === 0) backend.counters.liveBuffers++;
    registerFd(this.fd, { owner: backend, kind: 'buffer', target: this });
  }

  /** The shared state is the buffer; holders are views of it. */
  get identity(): BufferState {
    return this.state;
  }

  get supports(): Supports {
    return this.backend.supports;
  }

  /** The emulator checks every bracket: its bytes are its own. */
  get checked(): boolean {
    return true;
  }

  setChecked(_checked: boolean): void {}

  get size(): number {
    return this.state.size;
  }

  get exporter(): string {
    return this.state.exporter;
  }

  get knownExporter(): string {
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
    this.backend.faults.restarting('sync', SYNC);
    // SYNC START waits for the implicit fences (read: writers; write: everyone), blocking.
    waitSync(() => this.state.resv.fences(mode), -1);
    // Zero copy only while no other holder has a bracket open: ending it moves the memory, which
    // would kill that holder's views.
    const zeroCopy = this.backend.model.zeroCopy && this.state.openBrackets === 0;
    const bracket = zeroCopy ? beginZeroCopy(this.backend, this.state, this.#snapshots, mode, region) : this.#copying.begin(mode, region);
    this.#bracket = bracket;
    this.state.openBrackets++;
    return bracket.bytes;
  }

  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void {
    const bracket = this.#bracket;
    if (!bracket || bracket.bytes.buffer !== bytes.buffer) {
      throw new DmaBufError('EINVAL', 'END for bytes this holder did not hand out', { syscall: SYNC });
    }
    this.#bracket = undefined;
    this.state.openBrackets--;
    if (bytes.buffer.byteLength === 0) {
      bracket.abandon();
      throw this.#transferredAway(region);
    }
    const violation = bracket.end(mode, region);
    if (violation) throw violationError(violation, region, this.displayName, SYNC);
  }

  /**
   * The bracket's bytes were transferred to another thread (postMessage or structuredClone with a
   * transfer list): what the bracket wrote left with them. END completed without them (the
   * copying path writes nothing back; the zero-copy path's memory is gone and reads as zeros).
   */
  #transferredAway(region: ResolvedRegion): DmaBufError {
    return new DmaBufError(
      MisuseCode.BYTES_TRANSFERRED,
      `the bytes of a bracket on dma-buf '${this.displayName}' [${region.start}, ${region.start + region.spanLength}) were transferred away before end(); ` +
        "a bracket's bytes must stay in it: copy them (slice()) to send them elsewhere",
      { syscall: SYNC, bufferName: this.displayName, offset: region.start },
    );
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
    this.#copying.drop();
    this.#snapshots.drop();
    releaseFd(this.fd, this);
    if (--this.state.holders === 0) this.backend.counters.liveBuffers--;
  }
}
