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
 *
 * The coherent model has a zero-copy path (Direct): there the CPU's memory is the buffer's memory,
 * so a bracket opened while no other holder has one open hands out a view of the memory itself
 * and END detaches it by moving the memory's backing store to a new ArrayBuffer (no copy), then
 * points the buffer's memory at it. Everything that reads the memory goes through
 * `state.memory` each time, never an old ArrayBuffer. Detection compares against a span-shaped
 * snapshot (a 'read' bracket: the span; otherwise the gaps only, none for a region without gaps),
 * and a detected write is undone from it, so the bytes end as on the copying path. A bracket
 * another holder opens meanwhile takes the copying path (a transfer would kill its views).
 */
import { DmaBufError, MisuseCode } from '../../errors.js';
import { rowOffsets, type ResolvedRegion } from '../../region.js';
import type { AccessMode, FenceMode } from '../../validate.js';
import type { BracketBytes, BufferHandle, PendingWait, Supports, SyncFileHandle } from '../backend.js';
import type { EmulationContext } from './context.js';
import { copyGaps, findChange, hasGaps, undoChange, violationError, type Violation } from '../../bracket-check.js';
import { copyRows, fillGaps, findViolation } from './detect.js';
import { allocateFd, registerFd, releaseFd } from './fds.js';
import { Resv, waitAsync, waitSync } from './fences.js';
import type { Memory, MemoryModel } from './models.js';
import { EmulatedSyncFile } from './sync-file.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';
/** CPU and device race at this granularity: each aligned 8-byte word comes whole from one side. */
const RACE_WORD = 8;

export class BufferState {
  readonly size: number;
  readonly exporter: string;
  /** Replaced (same bytes, new ArrayBuffer) when a zero-copy bracket ends: never cache it. */
  memory: Memory;
  readonly resv = new Resv();
  name = '';
  /** Bumped whenever a device job writing this buffer completes; a bracket that saw it move raced. */
  deviceWrites = 0;
  holders = 0;
  /** Brackets open on this buffer, over all holders. */
  openBrackets = 0;
  /** The zero-copy bracket open on this buffer (coherent model), if any. */
  direct: Direct | undefined;

  constructor(size: number, exporter: string, memory: Memory) {
    this.size = size;
    this.exporter = exporter;
    this.memory = memory;
  }
}

/** A zero-copy bracket: its bytes are the buffer's memory. Offsets below are from the span start. */
interface Direct {
  readonly mode: AccessMode;
  readonly region: ResolvedRegion;
  /** Span-shaped snapshot: a 'read' bracket's whole span, else its gaps only; undefined without gaps. */
  readonly reference: Uint8Array | undefined;
  /** A writing bracket's rows as a device job wrote them during the bracket (span-shaped): mixed in at END. */
  raceRows: Uint8Array | undefined;
}

interface Bracket {
  readonly buffer: ArrayBuffer;
  readonly direct: boolean;
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

/** Call `fn(spanOffset)` for each row of the region. */
function eachRowOffset(region: ResolvedRegion, fn: (at: number) => void): void {
  const { rowCount, rowPitch, sliceCount, slicePitch } = region;
  for (let s = 0; s < sliceCount; s++) for (let r = 0, at = s * slicePitch; r < rowCount; r++, at += rowPitch) fn(at);
}

/**
 * A device job stores `from` (the whole buffer, linear) in the buffer. With a zero-copy bracket
 * open, the CPU's view is the memory: a 'read' bracket's snapshot follows the device (the device
 * may write; the CPU may not), and a writing bracket's rows keep the CPU's bytes while the
 * device's go aside, to be mixed word by word at END as on the copying path.
 */
export function storeDeviceWrite(model: MemoryModel, state: BufferState, from: Uint8Array): void {
  const direct = state.direct;
  if (!direct) {
    model.writeDevice(state.memory, from);
    return;
  }
  const { region } = direct;
  const base = region.start;
  const span = region.spanLength;
  if (direct.mode === 'read') {
    model.writeDevice(state.memory, from);
    direct.reference?.set(state.memory.cpu.subarray(base, base + span));
    return;
  }
  const cpu = copyRows(state.memory.cpu.subarray(base, base + span), region);
  direct.raceRows ??= new Uint8Array(span);
  const raceRows = direct.raceRows;
  eachRowOffset(region, (at) => raceRows.set(from.subarray(base + at, base + at + region.rowBytes), at));
  model.writeDevice(state.memory, from);
  const memory = state.memory.cpu;
  let k = 0;
  eachRowOffset(region, (at) => {
    memory.set(cpu.subarray(k, k + region.rowBytes), base + at);
    k += region.rowBytes;
  });
  if (direct.reference) copyGaps(memory.subarray(base, base + span), direct.reference, region);
}

/** A device reads the whole buffer linearly into `into`: a racing device's rows are its own. */
export function loadDeviceRead(model: MemoryModel, state: BufferState, into: Uint8Array): void {
  model.readDevice(state.memory, 0, into);
  const direct = state.direct;
  if (direct?.raceRows) {
    const { region } = direct;
    const raceRows = direct.raceRows;
    eachRowOffset(region, (at) => into.set(raceRows.subarray(at, at + region.rowBytes), region.start + at));
  }
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
  readonly backend: EmulationContext;
  readonly fd: number;
  readonly state: BufferState;
  #closed = false;
  #bracket: Bracket | undefined;

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
  /** The last bracket's detached-and-recovered ArrayBuffer, reused when the next span is as long. */
  #spare: Spare | undefined;

  /** A new holder of `state`; with `fd` it takes that number over (DmaBuf.fromFd dup: false). */
  constructor(backend: EmulationContext, state: BufferState, fd?: number) {
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
    if (model.coherency === 'coherent' && this.state.openBrackets === 0) return this.#beginDirect(mode, region);
    const span = region.spanLength;
    const spare = this.#spare;
    this.#spare = undefined;
    const reuse = spare?.buffer.byteLength === span;
    const buffer = reuse ? spare.buffer : new ArrayBuffer(span);
    const view = new Uint8Array(buffer, 0, span);
    this.backend.counters.syncedBytes += model.startInto(memory, mode, region, view);
    this.backend.counters.bracketCopiedBytes += region.byteCount * (mode === 'read' ? 2 : 1);
    const gapsReady = reuse && spare.layout !== undefined && sameLayout(spare.layout, region, model.poison.length);
    if (hasGaps(region) && !gapsReady) fillGaps(view, region, model.poison);
    this.#bracket = { buffer, direct: false, rows: mode === 'read' ? copyRows(view, region) : undefined, deviceWrites: this.state.deviceWrites };
    this.state.openBrackets++;
    return { buffer, byteOffset: 0, length: span };
  }

  /** The zero-copy START: a view of the memory itself, and the snapshot detection needs. */
  #beginDirect(mode: AccessMode, region: ResolvedRegion): BracketBytes {
    const memory = this.state.memory.cpu;
    const base = region.start;
    const span = region.spanLength;
    const now = memory.subarray(base, base + span);
    let reference: Uint8Array | undefined;
    if (mode === 'read') {
      reference = now.slice();
      this.backend.counters.bracketCopiedBytes += span;
    } else if (hasGaps(region)) {
      reference = new Uint8Array(span);
      this.backend.counters.bracketCopiedBytes += copyGaps(now, reference, region);
    }
    this.state.direct = { mode, region, reference, raceRows: undefined };
    this.state.openBrackets++;
    const buffer = memory.buffer as ArrayBuffer;
    this.#bracket = { buffer, direct: true, rows: undefined, deviceWrites: this.state.deviceWrites };
    return { buffer, byteOffset: memory.byteOffset + base, length: span };
  }

  endAccess(mode: AccessMode, region: ResolvedRegion, bytes: BracketBytes): void {
    const bracket = this.#bracket;
    if (!bracket || bracket.buffer !== bytes.buffer) {
      throw new DmaBufError('EINVAL', 'END for bytes this holder did not hand out', { syscall: SYNC });
    }
    this.#bracket = undefined;
    this.state.openBrackets--;
    if (bytes.buffer.byteLength === 0) this.#transferredAway(bracket, region);
    if (bracket.direct) {
      this.#endDirect(mode, region);
      return;
    }
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
      this.backend.counters.bracketCopiedBytes += region.byteCount;
      this.#refreshDirect(region);
    }
    if (violation) this.#report(violation, region);
  }

  /**
   * The zero-copy END: detach the holder's views by moving the memory to a new ArrayBuffer, then
   * find (and undo) writes the bracket was not allowed to make, and mix in a racing device's rows.
   */
  #endDirect(mode: AccessMode, region: ResolvedRegion): void {
    const direct = this.state.direct!;
    this.state.direct = undefined;
    const moved = new Uint8Array(detach(this.state.memory.cpu.buffer as ArrayBuffer));
    this.state.memory = { device: moved, cpu: moved };
    // As on the copying path: a hard fault here leaves the bytes detached (coherent: the CPU's
    // writes already are in memory).
    this.backend.faults.restarting('sync', SYNC);
    const base = region.start;
    const data = moved.subarray(base, base + region.spanLength);
    const violation = direct.reference ? findChange(mode, region, data, direct.reference) : undefined;
    // The copying path drops these writes (gaps never go back; a read bracket writes nothing back).
    if (violation && direct.reference) undoChange(mode, region, data, direct.reference);
    if (direct.raceRows) this.#mix(region, data, direct.raceRows);
    if (violation) this.#report(violation, region);
  }

  /** The racing device's rows (`device`, span-shaped) win the words the seeded PRNG picks, as in #race. */
  #mix(region: ResolvedRegion, data: Uint8Array, device: Uint8Array): void {
    const rng = this.backend.raceRng;
    for (const offset of rowOffsets(region)) {
      const at = region.start + offset;
      let word = at - (at % RACE_WORD);
      for (; word < at + region.rowBytes; word += RACE_WORD) {
        if ((rng.next() & 1) === 0) continue;
        const from = Math.max(word, at) - region.start;
        const to = Math.min(word + RACE_WORD, at + region.rowBytes) - region.start;
        data.set(device.subarray(from, to), from);
      }
    }
  }

  /** This copying bracket wrote its rows while another holder's zero-copy bracket is open: its snapshot follows. */
  #refreshDirect(region: ResolvedRegion): void {
    const direct = this.state.direct;
    if (!direct?.reference) return;
    const reference = direct.reference;
    const lo = direct.region.start;
    const hi = lo + direct.region.spanLength;
    const memory = this.state.memory.cpu;
    eachRowOffset(region, (at) => {
      const from = Math.max(lo, region.start + at);
      const to = Math.min(hi, region.start + at + region.rowBytes);
      if (from < to) reference.set(memory.subarray(from, to), from - lo);
    });
  }

  /**
   * The bracket's bytes were transferred to another thread (postMessage or structuredClone with a
   * transfer list): what the bracket wrote left with them. END completes without them (the
   * copying path writes nothing back; the zero-copy path's memory is gone and reads as zeros),
   * and the misuse is reported.
   */
  #transferredAway(bracket: { direct: boolean }, region: ResolvedRegion): never {
    this.backend.faults.restarting('sync', SYNC);
    if (bracket.direct) {
      this.state.direct = undefined;
      const fresh = new Uint8Array(this.state.size);
      this.state.memory = { device: fresh, cpu: fresh };
    }
    throw new DmaBufError(
      MisuseCode.BYTES_TRANSFERRED,
      `the bytes of a bracket on dma-buf '${this.displayName}' [${region.start}, ${region.start + region.spanLength}) were transferred away before end(); ` +
        "a bracket's bytes must stay in it: copy them (slice()) to send them elsewhere",
      { syscall: SYNC, bufferName: this.displayName, offset: region.start },
    );
  }

  /** Throw the violation END found (END itself has completed). */
  #report(violation: Violation, region: ResolvedRegion): never {
    throw violationError(violation, region, this.displayName, SYNC);
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
