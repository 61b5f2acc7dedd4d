/**
 * The emulated backend: dma-bufs, heaps, udmabuf, sync files and devices in pure TypeScript,
 * behaving like awkward hardware (see models.ts) so a wrong bracket fails on any machine.
 *
 * Fd numbers: emulated buffers and sync files get numbers from 2^30 up (fds.ts), unique in the
 * process and never valid kernel fds. DmaBuf.fromFd(number) finds the owning emulation through
 * them; they cannot be passed to other processes or to the kernel.
 */
import { totalmem } from 'node:os';
import type { BufferHandle, HeapHandle, SegmentSpec, Supports, SyncFileHandle } from '../backend.js';
import { DmaBufError, MisuseCode } from '../../common/errors.js';
import { BufferState } from './buffer-state.js';
import type { EmulationContext, EmulationCounters } from './context.js';
import { EmulatedDevice } from './device.js';
import { Faults, type FaultCode, type FaultOperation } from './faults.js';
import { lookupFd } from './fds.js';
import { EmulatedHeap } from './heap.js';
import { EmulatedBuffer } from './holder.js';
import { createModel, type Coherency, type Memory, type MemoryModel } from './models.js';
import { foldSeed, poisonPage, Rng } from './rng.js';
import { EmulatedSyncFile } from './sync-file.js';

/** The default page size; emulation.create({ pageSize }) models 16K and 64K kernels too. */
export const PAGE_SIZE = 4096;
export const PAGE_SIZES = [4096, 16384, 65536] as const;
/**
 * udmabuf's size_limit_mb module parameter defaults to 64 MiB up to Linux 7.2 (INT_MAX, no limit,
 * from 7.3): the emulated backend models the 64 MiB default, bigger totals are EINVAL.
 */
export const UDMABUF_SIZE_LIMIT = 64 * 1024 * 1024;
/** The heaps an emulation offers unless emulation.create({ heaps }) names others. */
export const DEFAULT_HEAPS: readonly string[] = ['system'];
export const DEFAULT_SEED = 0x5eed;

export interface EmulatedBackendOptions {
  readonly coherency?: Coherency;
  readonly seed?: number;
  readonly pageSize?: number;
  readonly heaps?: readonly string[];
}

export interface EmulationStats extends Readonly<EmulationCounters> {
  /** EINTR/EAGAIN results of DMA_BUF_IOCTL_SYNC that the backend restarted. */
  readonly syncRetries: number;
}

function supportsFor(model: MemoryModel): Supports {
  return Object.freeze({
    realFds: false,
    udmabufSegments: false,
    detectsWriteInReadBracket: true,
    detectsWriteOutsideRegion: true,
    staleOutsideBracket: model.staleOutsideBracket,
    tiledLayout: model.tiledLayout,
    devices: true,
    // Node 20 has no way to detach an untransferable ArrayBuffer from JS (ArrayBuffer#transfer is
    // Node 22+), and END must detach: a transfer is detected at END instead.
    untransferableBytes: false,
    // An emulated buffer's memory, fences and devices live in one thread's heap.
    shareAcrossThreads: false,
  });
}

export class EmulatedBackend implements EmulationContext {
  readonly name = 'emulated';
  readonly pageSize: number;
  readonly supports: Supports;
  readonly coherency: Coherency;
  readonly seed: number;
  readonly model: MemoryModel;
  readonly faults = new Faults();
  readonly counters: EmulationCounters = { syncedBytes: 0, bracketCopiedBytes: 0, liveBuffers: 0, pendingJobs: 0, jobsCompleted: 0 };
  /** Decides which side wins each word when a CPU bracket and a device job race. */
  readonly raceRng: Rng;
  readonly #devices = new Map<string, EmulatedDevice>();

  readonly #heaps: readonly string[];

  /** Options arrive checked (lib/emulation.ts, or the environment read in index.ts). */
  constructor(options: { coherency: Coherency; seed: number; pageSize?: number; heaps?: readonly string[] }) {
    this.pageSize = options.pageSize ?? PAGE_SIZE;
    this.#heaps = Object.freeze([...(options.heaps ?? DEFAULT_HEAPS)].sort());
    this.coherency = options.coherency;
    this.seed = foldSeed(options.seed);
    this.model = createModel(options.coherency, poisonPage(Rng.derive(this.seed, 1)));
    this.supports = supportsFor(this.model);
    this.raceRng = Rng.derive(this.seed, 2);
  }

  listHeaps(): string[] {
    return [...this.#heaps];
  }

  cmaRegions(): readonly string[] {
    return [];
  }

  openHeap(name: string): HeapHandle {
    if (!this.#heaps.includes(name)) {
      throw new DmaBufError('ENOENT', `the emulation has no heap '${name}'; it offers ${this.#heaps.join(', ')}`, { syscall: 'open' });
    }
    return new EmulatedHeap(this, name);
  }

  createUdmabuf(size: number): BufferHandle {
    if (size > UDMABUF_SIZE_LIMIT) {
      throw new DmaBufError('EINVAL', `UDMABUF_CREATE: ${size} bytes exceed udmabuf's size_limit_mb (64 MiB)`, { syscall: 'UDMABUF_CREATE' });
    }
    return this.allocateBuffer(size, 'udmabuf', 'UDMABUF_CREATE');
  }

  /** There are no memfds in the emulation: only Udmabuf.create is modelled. */
  udmabufFromSegments(_segments: readonly SegmentSpec[]): BufferHandle {
    throw new DmaBufError(MisuseCode.UNSUPPORTED, 'Udmabuf.fromSegments needs real memfds; the emulated backend models Udmabuf.create only', {
      syscall: 'UDMABUF_CREATE_LIST',
    });
  }

  /**
   * A second holder of an emulated buffer, found by its number: dup gives it a new number, no dup
   * takes the number over. A live number that is not a buffer of this emulation is EBADFD (not a
   * dma-buf); a closed or never-issued one is EBADF.
   */
  importFd(fd: number, dup: boolean): BufferHandle {
    const entry = lookupFd(fd);
    if (!entry) throw new DmaBufError('EBADF', `fd ${fd} is not an open emulated fd`, { syscall: 'fstatfs' });
    if (entry.kind !== 'buffer' || entry.owner !== this || !(entry.target instanceof EmulatedBuffer)) {
      throw new DmaBufError('EBADFD', `fd ${fd} is not a dma-buf of this emulation`, { syscall: 'fstatfs', argument: 'fd' });
    }
    this.faults.check('importFd', dup ? 'dup' : 'fstatfs');
    return new EmulatedBuffer(this, entry.target.state, dup ? undefined : fd);
  }

  /** A second holder of an emulated sync file (the same fences), found by its number, as importFd finds buffers. */
  importSyncFileFd(fd: number, dup: boolean): SyncFileHandle {
    const entry = lookupFd(fd);
    if (!entry) throw new DmaBufError('EBADF', `fd ${fd} is not an open emulated fd`, { syscall: 'fstatfs', argument: 'fd' });
    if (entry.kind !== 'syncFile' || entry.owner !== this || !(entry.target instanceof EmulatedSyncFile)) {
      throw new DmaBufError('EBADFD', `SyncFile.fromFd: fd ${fd} is not a sync_file of this emulation`, { syscall: 'fstatfs', argument: 'fd' });
    }
    const source = entry.target;
    return new EmulatedSyncFile(this, source.fences, source.name, dup ? undefined : fd);
  }

  /** Zeroed device memory of `size` rounded up to pages (heaps must return zeroed memory). */
  allocateBuffer(size: number, exporter: string, syscall: string): EmulatedBuffer {
    this.faults.check('allocate', syscall);
    const rounded = Math.ceil(size / this.pageSize) * this.pageSize;
    // More than the machine's RAM is refused, as the kernel backend refuses it (the kernel's system
    // heap itself has no such guard: its caller meets the OOM killer); V8 may refuse less.
    if (rounded > totalmem()) throw new DmaBufError('ENOMEM', `${syscall}: ${rounded} bytes exceed the machine's memory`, { syscall });
    let memory: Memory;
    try {
      memory = this.model.allocate(rounded);
    } catch (error) {
      if (error instanceof RangeError) throw new DmaBufError('ENOMEM', `${syscall}: cannot allocate ${rounded} bytes`, { syscall, cause: error });
      throw error;
    }
    return new EmulatedBuffer(this, new BufferState(rounded, exporter, memory));
  }

  /** The device called `name` (checked by the caller), the same object for the same name. */
  device(name: string): EmulatedDevice {
    let device = this.#devices.get(name);
    if (!device) {
      device = new EmulatedDevice(this, name);
      this.#devices.set(name, device);
    }
    return device;
  }

  failNext(operation: FaultOperation, code: FaultCode, count = 1): void {
    this.faults.failNext(operation, code, count);
  }

  stats(): EmulationStats {
    return { ...this.counters, syncRetries: this.faults.retries.get('sync') ?? 0 };
  }
}
