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
  checkCoherency,
  checkHeapNames,
  checkPageSize,
  checkSeed,
  createEmulatedBackend,
  DEFAULT_SEED,
  getDefaultEmulatedBackend,
  PAGE_SIZE,
  type Coherency,
  type EmulatedBackend,
  type EmulationStats,
  type FaultCode,
  type FaultOperation,
} from './backend/emulated/index.js';
import type { DmaBuf } from './dmabuf.js';
import { checkDeviceName, EmulatedDevice } from './emulated-device.js';
import { DmaHeap } from './heap.js';
import { createUdmabuf } from './udmabuf.js';
import { checkOptions } from './validate.js';

export type { Coherency, EmulationStats, FaultCode, FaultOperation } from './backend/emulated/index.js';
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
      backend.failNext(operation, code, count);
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
    const opts = checkOptions('emulation.create', options);
    const coherency = opts['coherency'] === undefined ? 'writeback' : checkCoherency('emulation.create', opts['coherency']);
    if (opts['seed'] !== undefined) checkSeed('emulation.create', opts['seed']);
    const seed = (opts['seed'] as number | undefined) ?? DEFAULT_SEED;
    const pageSize = opts['pageSize'] === undefined ? PAGE_SIZE : checkPageSize('emulation.create', opts['pageSize']);
    const heaps = opts['heaps'] === undefined ? undefined : checkHeapNames('emulation.create', opts['heaps']);
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
