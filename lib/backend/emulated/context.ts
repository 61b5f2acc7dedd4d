/**
 * What the emulated backend's parts (buffers, heaps, devices, sync files) need from the backend
 * they belong to. They depend on this interface, not on the EmulatedBackend class, so the class
 * can build them without an import cycle.
 */
import type { Backend, BufferHandle } from '../backend.js';
import type { Faults } from './faults.js';
import type { MemoryModel } from './models.js';
import type { Rng } from './rng.js';

/** Counters for tests and curious users; read them through stats(). */
export interface EmulationCounters {
  /** Bytes START/END moved between device memory and CPU-side memory (exactly the regions' rows). */
  syncedBytes: number;
  /**
   * Bytes copied between the buffer's memory and a bracket's private bytes or snapshots (the
   * emulation's own overhead, not a model's sync). 0 for a zero-copy coherent bracket without gaps.
   */
  bracketCopiedBytes: number;
  /** Buffers with at least one open holder. */
  liveBuffers: number;
  /** Device jobs submitted and not yet complete. */
  pendingJobs: number;
  jobsCompleted: number;
}

export interface EmulationContext extends Backend {
  readonly model: MemoryModel;
  readonly faults: Faults;
  readonly counters: EmulationCounters;
  /** Decides which side wins each word when a CPU bracket and a device job race. */
  readonly raceRng: Rng;
  allocateBuffer(size: number, exporter: string, syscall: string): BufferHandle;
}
