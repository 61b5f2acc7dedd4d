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
 * - tiled:     device memory is stored in tiles (see tiling.ts); START(read/readwrite) untiles
 *   the rows into a linear CPU view, END(write/readwrite) re-tiles them. Device memory read as
 *   if it were linear is garbage.
 */
import type { ResolvedRegion } from '../../region.js';
import { rowOffsets } from '../../region.js';
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
  /** The device's own linear reading of bytes [at, at + into.length) (a device knows its tiling). */
  readDevice(memory: Memory, at: number, into: Uint8Array): void;
  /** The whole buffer, written linearly by a device. */
  writeDevice(memory: Memory, from: Uint8Array): void;
}

const reads = (mode: AccessMode): boolean => mode !== 'write';
const writes = (mode: AccessMode): boolean => mode !== 'read';

/** Call `fn(absoluteOffset, length)` for every row of the region, and return the bytes covered. */
function eachRow(region: ResolvedRegion, fn: (offset: number, length: number) => void): number {
  for (const offset of rowOffsets(region)) fn(region.start + offset, region.rowBytes);
  return region.byteCount;
}

class Coherent implements MemoryModel {
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
  readDevice(memory: Memory, at: number, into: Uint8Array): void {
    into.set(memory.device.subarray(at, at + into.length));
  }
  writeDevice(memory: Memory, from: Uint8Array): void {
    memory.device.set(from);
  }
}

/** writeback and bounce: a separate CPU-side copy, rows copied as they are. */
class Copying implements MemoryModel {
  readonly coherency: 'writeback' | 'bounce';
  readonly #poison: Uint8Array;

  constructor(coherency: 'writeback' | 'bounce', poison: Uint8Array) {
    this.coherency = coherency;
    this.#poison = poison;
  }

  allocate(size: number): Memory {
    const cpu = new Uint8Array(size);
    fillPoison(cpu, 0, size, this.#poison);
    return { device: new Uint8Array(size), cpu };
  }

  start(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (reads(mode)) {
      return eachRow(region, (at, n) => memory.cpu.set(memory.device.subarray(at, at + n), at));
    }
    // A write-only START copies nothing in: the bounce buffer holds garbage, the cache stale lines.
    if (this.coherency === 'bounce') eachRow(region, (at, n) => fillPoison(memory.cpu, at, at + n, this.#poison));
    return 0;
  }

  end(memory: Memory, mode: AccessMode, region: ResolvedRegion): number {
    if (!writes(mode)) return 0;
    return eachRow(region, (at, n) => memory.device.set(memory.cpu.subarray(at, at + n), at));
  }

  readDevice(memory: Memory, at: number, into: Uint8Array): void {
    into.set(memory.device.subarray(at, at + into.length));
  }

  writeDevice(memory: Memory, from: Uint8Array): void {
    memory.device.set(from);
  }
}

class Tiled implements MemoryModel {
  readonly coherency = 'tiled';
  readonly #poison: Uint8Array;

  constructor(poison: Uint8Array) {
    this.#poison = poison;
  }

  allocate(size: number): Memory {
    const cpu = new Uint8Array(size);
    fillPoison(cpu, 0, size, this.#poison);
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
      return new Coherent();
    case 'writeback':
    case 'bounce':
      return new Copying(coherency, poison);
    case 'tiled':
      return new Tiled(poison);
  }
}
