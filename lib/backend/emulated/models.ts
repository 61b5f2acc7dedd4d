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
import type { ResolvedRegion } from '../../region.js';
import type { AccessMode } from '../../validate.js';
import { fillPoison } from './rng.js';
import { retile, untile } from './tiling.js';

export type Coherency = 'coherent' | 'writeback' | 'bounce' | 'tiled';
export const COHERENCIES: readonly Coherency[] = ['coherent', 'writeback', 'bounce', 'tiled'];

/** The memories of one buffer. In the coherent model `cpu` and `device` are the same array. */
export interface Memory {
  readonly device: Uint8Array;
  readonly cpu: Uint8Array;
}

export interface MemoryModel {
  readonly coherency: Coherency;
  /** Device memory zeroed (heaps must return zeroed memory); CPU-side memory poisoned. */
  allocate(size: number): Memory;
  /** START: make the region's rows visible to the CPU. Returns the bytes moved. */
  start(memory: Memory, mode: AccessMode, region: ResolvedRegion): number;
  /** END: hand the region's rows back to the device. Returns the bytes moved. */
  end(memory: Memory, mode: AccessMode, region: ResolvedRegion): number;
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

/** Call `fn(absoluteOffset, length)` for every row of the region, and return the bytes covered. */
function eachRow(region: ResolvedRegion, fn: (offset: number, length: number) => void): number {
  const { start, rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, at = start + s * slicePitch; r < rowCount; r++, at += rowPitch) fn(at, rowBytes);
  }
  return region.byteCount;
}

/** Copy the region's rows of `memory` (absolute offsets) to `span` (offsets from the span start). */
function rowsOut(memory: Uint8Array, region: ResolvedRegion, span: Uint8Array): void {
  const base = region.start;
  if (region.byteCount === region.spanLength) {
    span.set(memory.subarray(base, base + region.spanLength));
    return;
  }
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, at = s * slicePitch; r < rowCount; r++, at += rowPitch) span.set(memory.subarray(base + at, base + at + rowBytes), at);
  }
}

/** Copy the region's rows of `span` (offsets from the span start) into `memory` (absolute offsets). */
function rowsIn(span: Uint8Array, region: ResolvedRegion, memory: Uint8Array): void {
  const base = region.start;
  if (region.byteCount === region.spanLength) {
    memory.set(span.subarray(0, region.spanLength), base);
    return;
  }
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, at = s * slicePitch; r < rowCount; r++, at += rowPitch) memory.set(span.subarray(at, at + rowBytes), base + at);
  }
}

/** Device memory stored as it is addressed (every model but tiled): what a device job sees. */
function readLinearDevice(memory: Memory, at: number, into: Uint8Array): void {
  into.set(memory.device.subarray(at, at + into.length));
}

function writeLinearDevice(memory: Memory, from: Uint8Array): void {
  memory.device.set(from);
}

/** startInto/endFrom for models whose CPU-side memory persists between brackets: through it. */
abstract class ThroughCpu {
  readonly poison: Uint8Array;

  constructor(poison: Uint8Array) {
    this.poison = poison;
  }

  abstract start(memory: Memory, mode: AccessMode, region: ResolvedRegion): number;
  abstract end(memory: Memory, mode: AccessMode, region: ResolvedRegion): number;

  startInto(memory: Memory, mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number {
    const moved = this.start(memory, mode, region);
    rowsOut(memory.cpu, region, into);
    return moved;
  }

  endFrom(memory: Memory, mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number {
    rowsIn(from, region, memory.cpu);
    return this.end(memory, mode, region);
  }
}

class Coherent extends ThroughCpu implements MemoryModel {
  readonly coherency = 'coherent';

  allocate(size: number): Memory {
    const memory = new Uint8Array(size);
    return { device: memory, cpu: memory };
  }
  start(): number {
    return 0;
  }
  end(): number {
    return 0;
  }
  readDevice = readLinearDevice;
  writeDevice = writeLinearDevice;
}

/** writeback: a CPU cache over device memory, rows copied as they are. */
class Writeback extends ThroughCpu implements MemoryModel {
  readonly coherency = 'writeback';

  allocate(size: number): Memory {
    const cpu = new Uint8Array(size);
    fillPoison(cpu, 0, size, this.poison);
    return { device: new Uint8Array(size), cpu };
  }

  start(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (!reads(mode)) return 0; // a write-only START copies nothing in: the cache keeps stale lines
    return eachRow(region, (at, n) => memory.cpu.set(memory.device.subarray(at, at + n), at));
  }

  end(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (!writes(mode)) return 0;
    return eachRow(region, (at, n) => memory.device.set(memory.cpu.subarray(at, at + n), at));
  }

  readDevice = readLinearDevice;
  writeDevice = writeLinearDevice;
}

/**
 * bounce: the bounce buffer is the bracket's own bytes, so the CPU side has no memory that
 * outlives a bracket (`cpu` is empty). START(read/readwrite) copies the rows device → bracket,
 * START(write) fills them with poison (the garbage a fresh bounce buffer holds), END(write/
 * readwrite) copies them bracket → device. start()/end() alone move nothing.
 */
class Bounce implements MemoryModel {
  readonly coherency = 'bounce';
  readonly poison: Uint8Array;

  constructor(poison: Uint8Array) {
    this.poison = poison;
  }

  allocate(size: number): Memory {
    return { device: new Uint8Array(size), cpu: new Uint8Array(0) };
  }

  start(_memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    return reads(mode) ? region.byteCount : 0;
  }

  end(_memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    return writes(mode) ? region.byteCount : 0;
  }

  startInto(memory: Memory, mode: AccessMode, region: ResolvedRegion, into: Uint8Array): number {
    if (reads(mode)) {
      rowsOut(memory.device, region, into);
      return region.byteCount;
    }
    const base = region.start;
    eachRow(region, (at, n) => fillPoison(into, at - base, at - base + n, this.poison, base));
    return 0;
  }

  endFrom(memory: Memory, mode: AccessMode, region: ResolvedRegion, from: Uint8Array): number {
    if (!writes(mode)) return 0;
    rowsIn(from, region, memory.device);
    return region.byteCount;
  }

  readDevice = readLinearDevice;
  writeDevice = writeLinearDevice;
}

class Tiled extends ThroughCpu implements MemoryModel {
  readonly coherency = 'tiled';

  allocate(size: number): Memory {
    const cpu = new Uint8Array(size);
    fillPoison(cpu, 0, size, this.poison);
    return { device: new Uint8Array(size), cpu };
  }

  start(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (!reads(mode)) return 0;
    return eachRow(region, (at, n) => untile(memory.device, memory.cpu, at, n));
  }

  end(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (!writes(mode)) return 0;
    return eachRow(region, (at, n) => retile(memory.cpu, memory.device, at, n));
  }

  readDevice(memory: Memory, at: number, into: Uint8Array): void {
    untile(memory.device, into, at, into.length, at);
  }

  writeDevice(memory: Memory, from: Uint8Array): void {
    retile(from, memory.device, 0, from.length);
  }
}

export function createModel(coherency: Coherency, poison: Uint8Array): MemoryModel {
  switch (coherency) {
    case 'coherent':
      return new Coherent(poison);
    case 'writeback':
      return new Writeback(poison);
    case 'bounce':
      return new Bounce(poison);
    case 'tiled':
      return new Tiled(poison);
  }
}
