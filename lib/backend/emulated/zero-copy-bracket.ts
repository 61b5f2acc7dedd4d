/**
 * The zero-copy path, for models whose CPU memory is the device's (MemoryModel.zeroCopy): a
 * bracket opened while no other holder has one open hands out a view of the memory itself, and
 * END detaches it by moving the memory's backing store to a new ArrayBuffer (no copy), then
 * points the buffer's memory at it. Everything that reads the memory goes through `state.memory`
 * each time, never an old ArrayBuffer.
 *
 * Detection compares against a span-shaped snapshot (a 'read' bracket: the span; otherwise the
 * gaps only, none for a region without gaps), and a detected write is undone from it, so the
 * bytes end as on the copying path. A bracket another holder opens meanwhile takes the copying
 * path (a transfer would kill this bracket's views); its rows, and a device's stores, keep the
 * snapshot current.
 */
import type { BracketBytes } from '../backend.js';
import type { AccessMode, ResolvedRegion } from '../../common/vocabulary.js';
import { copyGaps, eachRow, hasGaps } from '../../common/rows.js';
import { findAndUndoChange, type Violation } from '../../common/bracket-check.js';
import type { Bracket } from './bracket.js';
import type { BufferState } from './buffer-state.js';
import type { EmulationContext } from './context.js';
import { detach } from './detach.js';
import { mixRace } from './race.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';

class ZeroCopyBracket implements Bracket {
  readonly bytes: BracketBytes;
  readonly #context: EmulationContext;
  readonly #state: BufferState;

  constructor(context: EmulationContext, state: BufferState, bytes: BracketBytes) {
    this.#context = context;
    this.#state = state;
    this.bytes = bytes;
  }

  /** Detach the holder's views, then find (and undo) forbidden writes and mix in a racing device's rows. */
  end(mode: AccessMode, region: ResolvedRegion): Violation | undefined {
    const state = this.#state;
    const open = state.zeroCopy!;
    state.zeroCopy = undefined;
    const moved = new Uint8Array(detach(state.memory.cpu.buffer as ArrayBuffer));
    state.memory = { device: moved, cpu: moved };
    // As on the copying path: a hard fault here leaves the bytes detached (the CPU's writes
    // already are in memory).
    this.#context.faults.restarting('sync', SYNC);
    const data = moved.subarray(region.start, region.start + region.spanLength);
    // Found writes are undone: the copying path drops them too (gaps never go back; a read bracket
    // writes nothing back).
    const violation = open.reference ? findAndUndoChange(mode, region, data, open.reference) : undefined;
    if (open.raceRows) mixRace(region, data, open.raceRows, this.#context.raceRng);
    return violation;
  }

  /** The memory left with the bytes: the buffer reads as zeros from now on. */
  abandon(): void {
    this.#context.faults.restarting('sync', SYNC);
    const state = this.#state;
    state.zeroCopy = undefined;
    const fresh = new Uint8Array(state.size);
    state.memory = { device: fresh, cpu: fresh };
  }
}

/** Snapshots up to this long are kept for the holder's next bracket; longer ones are made per bracket. */
const KEPT_SNAPSHOT = 1 << 20;

/**
 * One holder's snapshot memory, reused from bracket to bracket: allocating (and zeroing) a fresh
 * one per bracket cost more than the rest of a small region's bracket. It is never handed out,
 * and only the bracket open on the holder uses it.
 */
export class SnapshotMemory {
  #kept: Uint8Array | undefined;

  take(length: number): Uint8Array {
    if (length > KEPT_SNAPSHOT) return new Uint8Array(length);
    if (!this.#kept || this.#kept.length < length) this.#kept = new Uint8Array(Math.max(length, 4096));
    return this.#kept.subarray(0, length);
  }

  drop(): void {
    this.#kept = undefined;
  }
}

/** The zero-copy START: a view of the memory itself, and the snapshot detection needs. */
export function beginZeroCopy(context: EmulationContext, state: BufferState, snapshots: SnapshotMemory, mode: AccessMode, region: ResolvedRegion): Bracket {
  const memory = state.memory.cpu;
  const base = region.start;
  const span = region.spanLength;
  const now = memory.subarray(base, base + span);
  let reference: Uint8Array | undefined;
  if (mode === 'read') {
    reference = snapshots.take(span);
    reference.set(now);
    context.counters.bracketCopiedBytes += span;
  } else if (hasGaps(region)) {
    // Only the gaps are compared and restored in a writing bracket: the rows may hold anything.
    reference = snapshots.take(span);
    context.counters.bracketCopiedBytes += copyGaps(now, reference, region);
  }
  state.zeroCopy = { mode, region, reference, raceRows: undefined };
  const bytes = { buffer: memory.buffer as ArrayBuffer, byteOffset: memory.byteOffset + base, length: span };
  return new ZeroCopyBracket(context, state, bytes);
}

/** A copying bracket wrote `region`'s rows while a zero-copy bracket is open: its snapshot follows. */
export function refreshSnapshot(state: BufferState, region: ResolvedRegion): void {
  const reference = state.zeroCopy?.reference;
  if (!reference) return;
  const lo = state.zeroCopy!.region.start;
  const hi = lo + state.zeroCopy!.region.spanLength;
  const memory = state.memory.cpu;
  eachRow(region, (at) => {
    const from = Math.max(lo, region.start + at);
    const to = Math.min(hi, region.start + at + region.rowBytes);
    if (from < to) reference.set(memory.subarray(from, to), from - lo);
  });
}
