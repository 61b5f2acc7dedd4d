/**
 * The emulated coherency models. Each buffer has device memory (what devices see) and, in the
 * non-coherent models, a separate CPU-side memory. START and END move exactly the region's rows
 * between the two, never the whole buffer: the emulator does what the kernel cannot (2D region
 * sync and SYNC_PARTIAL were refused upstream), so work is proportional to the region.
 *
 * - coherent:  one memory (x86 with no device attached); START/END move nothing.
 * - writeback: a CPU cache over device memory (a non-coherent ARM SoC). START(read/readwrite)
 *   invalidates the rows (device → cache, DMA_FROM_DEVICE); END(write/readwrite) cleans them
 *   (cache → device, DMA_TO_DEVICE). The cache starts as seeded poison, so a read without
 *   invalidate shows poison or stale data, and a write without clean never reaches the device.
 *   A 'write' bracket cleans every row of its region: bytes of the region it did not write push
 *   stale cache contents to the device, as a real write-back of whole lines would.
 * - bounce:    device memory is not CPU-visible (vmwgfx): START(read/readwrite) copies the rows
 *   into a bounce buffer, START(write) poisons them there, END(write/readwrite) copies them back.
 *   The bounce buffer is the bracket's own bytes (nothing else ever sees it), so each direction
 *   is one copy, as in a real bounce.
 * - tiled:     device memory is stored in tiles (see tiling.ts); START(read/readwrite) untiles
 *   the rows into a linear CPU view, END(write/readwrite) re-tiles them. Device memory read as
 *   if it were linear is garbage.
 */
import type { AccessMode, ResolvedRegion } from '../../common/vocabulary.js';
import { copyRegionRows, eachRow } from '../../common/rows.js';
import { fillPoison } from './rng.js';
import { retile, untile } from './tiling.js';

/**
 * The models, by name: adding one here adds it to emulation.create's choices and to the
 * conformance and differential suites (test/helpers/backends.ts builds an entry per name).
 */
const MODELS = {
  coherent: (poison: Uint8Array): MemoryModel => new Coherent(poison),
  writeback: (poison: Uint8Array): MemoryModel => new CpuCache('writeback', poison, LINEAR),
  bounce: (poison: Uint8Array): MemoryModel => new Bounce(poison),
  tiled: (poison: Uint8Array): MemoryModel => new CpuCache('tiled', poison, TILED),
} as const;

export type Coherency = keyof typeof MODELS;
export const COHERENCIES = Object.freeze(Object.keys(MODELS) as Coherency[]);

export function isCoherency(value: unknown): value is Coherency {
  return (COHERENCIES as readonly unknown[]).includes(value);
}

/** The memories of one buffer. In the coherent model `cpu` and `device` are the same array. */
export interface Memory {
  readonly device: Uint8Array;
  readonly cpu: Uint8Array;
}

export interface MemoryModel {
  readonly coherency: Coherency;
  /**
   * The CPU's memory is the device's (`cpu` and `device` are one array) and START/END move
   * nothing: a bracket may hand out the memory itself instead of a copy (the zero-copy path).
   */
  readonly zeroCopy: boolean;
  /** Bytes a bracket did not sync read as stale or poison (supports.staleOutsideBracket). */
  readonly staleOutsideBracket: boolean;
  /** Device memory is stored in tiles (supports.tiledLayout). */
  readonly tiledLayout: boolean;
  /** Device memory zeroed (heaps must return zeroed memory); CPU-side memory poisoned. */
  allocate(size: number): Memory;
  /**
   * START, then the region's rows as the CPU now sees them into `into` (indexed from the span
   * start). Only the rows are written. Returns the bytes START moved.
   */
  startInto(memory: Memory, mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number;
  /** The region's rows of `from` (indexed from the span start) into CPU memory, then END. Returns the bytes END moved. */
  endFrom(memory: Memory, mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number;
  /** A page of this emulation's seeded poison (0xA0..0xAF). */
  readonly poison: Uint8Array;
  /** The device's own linear reading of bytes [at, at + into.length) (a device knows its tiling). */
  readDevice(memory: Memory, at: number, into: Uint8Array): void;
  /** The whole buffer, written linearly by a device. */
  writeDevice(memory: Memory, from: Uint8Array): void;
}

const reads = (mode: AccessMode): boolean => mode !== 'write';
const writes = (mode: AccessMode): boolean => mode !== 'read';

/** Device memory stored as it is addressed (every model but tiled): what a device job sees. */
function readLinearDevice(memory: Memory, at: number, into: Uint8Array): void {
  into.set(memory.device.subarray(at, at + into.length));
}

function writeLinearDevice(memory: Memory, from: Uint8Array): void {
  memory.device.set(from);
}

/** A model whose device memory is stored as it is addressed, with its seeded poison. */
abstract class LinearDevice {
  readonly tiledLayout = false;
  readonly poison: Uint8Array;

  constructor(poison: Uint8Array) {
    this.poison = poison;
  }

  readDevice = readLinearDevice;
  writeDevice = writeLinearDevice;
}

/** One memory, CPU and device alike: START/END move nothing, and brackets may be zero-copy. */
class Coherent extends LinearDevice implements MemoryModel {
  readonly coherency = 'coherent';
  readonly zeroCopy = true;
  readonly staleOutsideBracket = false;

  allocate(size: number): Memory {
    const memory = new Uint8Array(size);
    return { device: memory, cpu: memory };
  }

  startInto(memory: Memory, _mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number {
    copyRegionRows(region, memory.cpu, region.start, into, 0);
    return 0;
  }

  endFrom(memory: Memory, _mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number {
    copyRegionRows(region, from, 0, memory.cpu, region.start);
    return 0;
  }
}

/** How a CPU cache moves one row [at, at + n) between device memory and itself. */
type RowMove = (from: Uint8Array, to: Uint8Array, at: number, n: number) => void;

/** How device memory is laid out, as a CPU cache over it and a device see it. */
interface DeviceLayout {
  readonly tiled: boolean;
  readonly fetch: RowMove;
  readonly flush: RowMove;
  readDevice(memory: Memory, at: number, into: Uint8Array): void;
  writeDevice(memory: Memory, from: Uint8Array): void;
}

const copyRow: RowMove = (from, to, at, n) => to.set(from.subarray(at, at + n), at);

const LINEAR: DeviceLayout = { tiled: false, fetch: copyRow, flush: copyRow, readDevice: readLinearDevice, writeDevice: writeLinearDevice };

const TILED: DeviceLayout = {
  tiled: true,
  fetch: (device, cpu, at, n) => untile(device, cpu, at, n),
  flush: retile,
  readDevice: (memory, at, into) => untile(memory.device, into, at, into.length, at),
  writeDevice: (memory, from) => retile(from, memory.device, 0, from.length),
};

/**
 * A CPU-side memory that persists between brackets over separate device memory: writeback (rows
 * copied as they are) and tiled (rows untiled into it, retiled out of it). START(read/readwrite)
 * fetches the rows, END(write/readwrite) flushes them; the brackets' bytes go through it.
 */
class CpuCache implements MemoryModel {
  readonly zeroCopy = false;
  readonly staleOutsideBracket = true;
  readonly coherency: 'writeback' | 'tiled';
  readonly tiledLayout: boolean;
  readonly poison: Uint8Array;
  readonly readDevice: DeviceLayout['readDevice'];
  readonly writeDevice: DeviceLayout['writeDevice'];
  readonly #layout: DeviceLayout;

  constructor(coherency: 'writeback' | 'tiled', poison: Uint8Array, layout: DeviceLayout) {
    this.coherency = coherency;
    this.poison = poison;
    this.#layout = layout;
    this.tiledLayout = layout.tiled;
    this.readDevice = layout.readDevice;
    this.writeDevice = layout.writeDevice;
  }

  allocate(size: number): Memory {
    const cpu = new Uint8Array(size);
    fillPoison(cpu, 0, size, this.poison);
    return { device: new Uint8Array(size), cpu };
  }

  startInto(memory: Memory, mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number {
    // A write-only START fetches nothing: the cache keeps stale lines.
    const moved = reads(mode) ? moveRows(region, memory.device, memory.cpu, this.#layout.fetch) : 0;
    copyRegionRows(region, memory.cpu, region.start, into, 0);
    return moved;
  }

  endFrom(memory: Memory, mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number {
    copyRegionRows(region, from, 0, memory.cpu, region.start);
    return writes(mode) ? moveRows(region, memory.cpu, memory.device, this.#layout.flush) : 0;
  }
}

/** Move each of the region's rows (absolute offsets in both memories); returns the bytes moved. */
function moveRows(region: ResolvedRegion, from: Uint8Array, to: Uint8Array, move: RowMove): number {
  const { start, rowBytes } = region;
  eachRow(region, (at) => move(from, to, start + at, rowBytes));
  return region.byteCount;
}

/**
 * bounce: the bounce buffer is the bracket's own bytes, so the CPU side has no memory that
 * outlives a bracket (`cpu` is empty). START(read/readwrite) copies the rows device → bracket,
 * START(write) fills them with poison (the garbage a fresh bounce buffer holds), END(write/
 * readwrite) copies them bracket → device.
 */
class Bounce extends LinearDevice implements MemoryModel {
  readonly coherency = 'bounce';
  readonly zeroCopy = false;
  readonly staleOutsideBracket = true;

  allocate(size: number): Memory {
    return { device: new Uint8Array(size), cpu: new Uint8Array(0) };
  }

  startInto(memory: Memory, mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number {
    if (reads(mode)) {
      copyRegionRows(region, memory.device, region.start, into, 0);
      return region.byteCount;
    }
    const { start, rowBytes } = region;
    eachRow(region, (at) => fillPoison(into, at, at + rowBytes, this.poison, start));
    return 0;
  }

  endFrom(memory: Memory, mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number {
    if (!writes(mode)) return 0;
    copyRegionRows(region, from, 0, memory.device, region.start);
    return region.byteCount;
  }
}

export function createModel(coherency: Coherency, poison: Uint8Array): MemoryModel {
  return MODELS[coherency](poison);
}
