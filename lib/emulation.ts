/**
 * The emulation: a pure-TypeScript machine with dma-bufs, heaps, udmabuf, fences and devices that
 * behaves like awkward hardware, so a missing or wrong bracket fails on any OS and in any CI.
 *
 *   const emu = emulation.create({ coherency: 'writeback', seed: 1 });
 *   const buf = emu.heap().allocate(4096);
 *   const done = emu.device('gpu').submit({ writes: [buf], durationMs: 5, run: (job) => job.bytes(buf).fill(7) });
 *   await buf.cpuAccess('read');   // waits for the job, as SYNC START does
 *
 * Buffers of an emulation are DmaBufs like any other; DmaBuf.fromFd(buf.fd) gives a second holder.
 */
import type { Supports } from './backend/backend.js';
import {
  COHERENCIES,
  createEmulatedBackend,
  DEFAULT_SEED,
  FAULT_CODES,
  FAULT_OPERATIONS,
  getDefaultEmulatedBackend,
  isCoherency,
  PAGE_SIZE,
  PAGE_SIZES,
  type Coherency,
  type EmulatedBackend,
  type EmulationStats,
  type FaultCode,
  type FaultOperation,
} from './backend/emulated/index.js';
import type { DmaBuf } from './dmabuf.js';
import { checkDeviceName, EmulatedDevice } from './emulated-device.js';
import { invalidArgument, invalidType } from './common/errors.js';
import { DmaHeap } from './heap.js';
import { isHeapName } from './common/heap-kind.js';
import { createUdmabuf } from './udmabuf.js';
import { checkInteger, checkOptions } from './validate.js';

export type { Coherency, EmulationCounters, EmulationStats, FaultCode, FaultOperation } from './backend/emulated/index.js';
export { EmulatedDevice, type DeviceJob, type SubmitOptions } from './emulated-device.js';

export interface EmulationOptions {
  /** The memory model (default 'writeback', the one that exposes missing brackets). */
  coherency?: Coherency;
  /** Seeds poison patterns and CPU/device race outcomes (default a fixed value): same seed, same bytes. */
  seed?: number;
  /**
   * The emulated kernel's page size (default 4096): 16384 models the arm64 16K-page kernels (the
   * Raspberry Pi 5's), 65536 the 64K ones. Sizes round up to it, as on such a kernel.
   */
  pageSize?: 4096 | 16384 | 65536;
  /**
   * The heaps it offers (default ['system']), to model a board's: a CMA heap under one of its
   * kernel names ('linux,cma', …) for DmaHeap 'cma' resolution, or a 'protected,…' heap whose
   * buffers refuse CPU access.
   */
  heaps?: readonly string[];
}

export interface Emulation {
  readonly coherency: Coherency;
  readonly seed: number;
  readonly pageSize: number;
  readonly supports: Supports;
  /** A heap of this emulation (default 'system'; 'cma' resolves as on the kernel). Unknown names are ENOENT. */
  heap(name?: string): DmaHeap;
  /** A udmabuf-exported buffer of `size` bytes (rounded up to pages, at most 64 MiB). */
  udmabuf(size: number, options?: { name?: string }): DmaBuf;
  /** The emulated device called `name` (at most 31 bytes); the same name gives the same device. */
  device(name: string): EmulatedDevice;
  /**
   * Make the next `count` calls of `operation` fail with `code`. EINTR/EAGAIN on 'sync' are
   * restarted inside the backend (see stats().syncRetries); every other fault surfaces as a
   * DmaBufError with that code and leaves nothing behind.
   */
  failNext(operation: FaultOperation, code: FaultCode, count?: number): void;
  /** Counters: bytes synced by START/END, sync restarts, live buffers, pending jobs. */
  stats(): EmulationStats;
}

const CREATE = 'emulation.create';

function checkCoherency(value: unknown): Coherency {
  if (typeof value !== 'string') throw invalidType(CREATE, 'coherency', `one of ${COHERENCIES.join(', ')}`, value);
  if (!isCoherency(value)) throw invalidArgument(CREATE, 'coherency', `must be one of ${COHERENCIES.join(', ')}, got '${value}'`);
  return value;
}

function checkSeed(value: unknown): number {
  if (typeof value !== 'number') throw invalidType(CREATE, 'seed', 'an integer', value);
  if (!Number.isSafeInteger(value)) throw invalidArgument(CREATE, 'seed', `must be a safe integer, got ${value}`);
  return value;
}

function checkPageSize(value: unknown): number {
  if (typeof value !== 'number') throw invalidType(CREATE, 'pageSize', `one of ${PAGE_SIZES.join(', ')}`, value);
  if (!(PAGE_SIZES as readonly number[]).includes(value)) {
    throw invalidArgument(CREATE, 'pageSize', `must be one of ${PAGE_SIZES.join(', ')} (the page sizes Linux runs with), got ${value}`);
  }
  return value;
}

/** The heaps an emulation offers: 1 to 16 distinct names as /dev/dma_heap could hold them. */
function checkHeapNames(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalidType(CREATE, 'heaps', 'an array of heap names', value);
  if (value.length === 0 || value.length > 16) throw invalidArgument(CREATE, 'heaps', `must name 1 to 16 heaps, got ${value.length}`);
  for (const name of value) {
    if (typeof name !== 'string') throw invalidType(CREATE, 'heaps', 'an array of heap names', name);
    if (!isHeapName(name) || name.length > 64) throw invalidArgument(CREATE, 'heaps', `'${name}' is not a heap name`);
  }
  if (new Set(value).size !== value.length) throw invalidArgument(CREATE, 'heaps', 'names a heap twice');
  return [...(value as string[])];
}

function checkFault(operation: unknown, code: unknown, count: unknown): [FaultOperation, FaultCode, number] {
  if (typeof operation !== 'string') throw invalidType('failNext', 'operation', 'an operation name', operation);
  if (!(FAULT_OPERATIONS as readonly string[]).includes(operation)) {
    throw invalidArgument('failNext', 'operation', `must be one of ${FAULT_OPERATIONS.join(', ')}, got '${operation}'`);
  }
  if (typeof code !== 'string') throw invalidType('failNext', 'code', 'an errno name', code);
  if (!(FAULT_CODES as readonly string[]).includes(code)) {
    throw invalidArgument('failNext', 'code', `must be one of ${FAULT_CODES.join(', ')}, got '${code}'`);
  }
  return [operation as FaultOperation, code as FaultCode, checkInteger('failNext', 'count', count, 1, 1_000_000)];
}

function wrap(backend: EmulatedBackend): Emulation {
  return Object.freeze({
    coherency: backend.coherency,
    seed: backend.seed,
    pageSize: backend.pageSize,
    supports: backend.supports,
    heap(name = 'system'): DmaHeap {
      return DmaHeap._open(backend, name);
    },
    udmabuf(size: number, options?: { name?: string }): DmaBuf {
      return createUdmabuf(backend, size, options);
    },
    device(name: string): EmulatedDevice {
      return EmulatedDevice._of(backend.device(checkDeviceName(name)));
    },
    failNext(operation: FaultOperation, code: FaultCode, count = 1): void {
      backend.failNext(...checkFault(operation, code, count));
    },
    stats(): EmulationStats {
      return backend.stats();
    },
  });
}

const emulations = new WeakMap<EmulatedBackend, Emulation>();

function emulationOf(backend: EmulatedBackend): Emulation {
  let emu = emulations.get(backend);
  if (!emu) {
    emu = wrap(backend);
    emulations.set(backend, emu);
  }
  return emu;
}

export const emulation = {
  /** A fresh, independent emulation. */
  create(options?: EmulationOptions): Emulation {
    const opts = checkOptions(CREATE, options, ['coherency', 'seed', 'pageSize', 'heaps']);
    const coherency = opts['coherency'] === undefined ? 'writeback' : checkCoherency(opts['coherency']);
    const seed = opts['seed'] === undefined ? DEFAULT_SEED : checkSeed(opts['seed']);
    const pageSize = opts['pageSize'] === undefined ? PAGE_SIZE : checkPageSize(opts['pageSize']);
    const heaps = opts['heaps'] === undefined ? undefined : checkHeapNames(opts['heaps']);
    return emulationOf(createEmulatedBackend({ coherency, seed, pageSize, ...(heaps ? { heaps } : {}) }));
  },
  /**
   * The process-wide emulation that DmaHeap/Udmabuf use when the emulated backend is selected
   * (DMABUF_BACKEND=emulated, or `auto` without kernel devices): reach its devices through this.
   */
  default(): Emulation {
    return emulationOf(getDefaultEmulatedBackend());
  },
};
