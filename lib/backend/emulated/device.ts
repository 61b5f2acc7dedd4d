/**
 * Emulated devices: each runs submitted jobs like a GPU with implicit sync. At submit, a job
 * takes the buffers' current fences as dependencies (a reader waits for the write fences, a writer
 * for all of them, as dma_resv_usage_rw says) and adds its own fence to each buffer (READ usage
 * for reads, WRITE usage for writes). Once its dependencies have signalled it runs for
 * `durationMs` (a timer; 0 means the next macrotask), then calls `run` with views of the buffers'
 * device memory, stores what it wrote, and signals its fence.
 */
import { performance } from 'node:perf_hooks';
import type { SyncFileHandle } from '../backend.js';
import { invalidArgument } from '../../common/errors.js';
import type { EmulationContext } from './context.js';
import type { BufferState } from './buffer-state.js';
import { detach } from './detach.js';
import { loadDeviceRead, storeDeviceWrite } from './device-memory.js';
import { EmulatedBuffer } from './holder.js';
import { lookupFd } from './fds.js';
import { EmuFence, finishFenceSync, sleepUntil, type FenceSource } from './fences.js';
import { EmulatedSyncFile } from './sync-file.js';

const SUBMIT = 'submit';
const EIO = 5;

/** A buffer as a device names it: any holder of an emulated buffer (its fd number routes to it). */
export interface BufferRef {
  readonly fd: number;
}

/** What a job's `run` gets: the device's view of the buffers it was submitted with (see DeviceJob). */
export interface JobView {
  readonly device: string;
  bytes(buf: BufferRef): Uint8Array;
  rawBytes(buf: BufferRef): Uint8Array;
}

/** A job as the public layer has checked it (lib/emulated-device.ts). */
export interface JobSpec {
  readonly reads: readonly BufferRef[];
  readonly writes: readonly BufferRef[];
  readonly durationMs: number;
  readonly run: ((job: JobView) => void) | undefined;
  /** The errno the job's fence signals with (0: success). */
  readonly errno: number;
}

/** The buffer behind a holder of this emulation, found by its emulated fd number. */
function stateOf(backend: EmulationContext, buf: BufferRef, argument: string): BufferState {
  const entry = lookupFd(buf.fd);
  if (entry?.kind !== 'buffer' || entry.owner !== backend || !(entry.target instanceof EmulatedBuffer)) {
    throw invalidArgument(SUBMIT, argument, 'must be a DmaBuf of this emulation (devices cannot reach kernel buffers or other emulations)');
  }
  return entry.target.state;
}

function buffers(backend: EmulationContext, refs: readonly BufferRef[], argument: string): BufferState[] {
  return refs.map((buf, i) => stateOf(backend, buf, `${argument}[${i}]`));
}

class Job implements FenceSource {
  readonly fence: EmuFence;
  readonly #backend: EmulationContext;
  readonly #deviceName: string;
  readonly #deps: EmuFence[];
  readonly #reads: BufferState[];
  readonly #writes: BufferState[];
  readonly #durationMs: number;
  readonly #run: ((job: JobView) => void) | undefined;
  readonly #errno: number;
  #waitingFor: number;
  #startedAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    backend: EmulationContext,
    deviceName: string,
    fence: EmuFence,
    deps: EmuFence[],
    reads: BufferState[],
    writes: BufferState[],
    durationMs: number,
    run: ((job: JobView) => void) | undefined,
    errno: number,
  ) {
    this.#backend = backend;
    this.#deviceName = deviceName;
    this.fence = fence;
    this.#deps = deps;
    this.#reads = reads;
    this.#writes = writes;
    this.#durationMs = durationMs;
    this.#run = run;
    this.#errno = errno;
    fence.source = this;
    backend.counters.pendingJobs++;
    const pending = deps.filter((dep) => !dep.signalled);
    this.#waitingFor = pending.length;
    for (const dep of pending) dep.onSignal(() => this.#depDone());
    if (this.#waitingFor === 0) this.#start();
  }

  #depDone(): void {
    if (--this.#waitingFor === 0) this.#start();
  }

  #start(): void {
    this.#startedAt = performance.now();
    this.#timer = setTimeout(() => this.#complete(), this.#durationMs);
  }

  dueMs(): number {
    if (this.#startedAt !== undefined) return this.#startedAt + this.#durationMs;
    let ready = performance.now();
    for (const dep of this.#deps) if (!dep.signalled) ready = Math.max(ready, dep.dueMs());
    return ready + this.#durationMs;
  }

  /** A blocking wait reached this job: finish its dependencies, sleep out its duration, complete. */
  finishSync(): void {
    for (const dep of this.#deps) finishFenceSync(dep);
    if (this.#startedAt === undefined) this.#start();
    sleepUntil(this.dueMs());
    this.#complete();
  }

  #complete(): void {
    if (this.fence.signalled) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let errno = this.#errno;
    if (errno === 0 && this.#run) errno = this.#execute(this.#run);
    for (const state of this.#writes) state.deviceWrites++;
    this.#backend.counters.pendingJobs--;
    this.#backend.counters.jobsCompleted++;
    this.fence.signal(errno);
  }

  /** Run `run` over linear copies of device memory; store the written buffers unless it failed. */
  #execute(run: (job: JobView) => void): number {
    const { model } = this.#backend;
    const views = new Map<BufferState, Uint8Array>();
    const reachable = (buf: BufferRef, argument: string): BufferState => {
      const state = stateOf(this.#backend, buf, argument);
      if (!this.#reads.includes(state) && !this.#writes.includes(state)) {
        throw invalidArgument('bytes', argument, 'the job was not submitted with this buffer in reads or writes');
      }
      return state;
    };
    const job: JobView = {
      device: this.#deviceName,
      bytes: (buf) => {
        const state = reachable(buf, 'buf');
        let view = views.get(state);
        if (!view) {
          view = new Uint8Array(state.size);
          loadDeviceRead(model, state, view);
          views.set(state, view);
        }
        return view;
      },
      rawBytes: (buf) => reachable(buf, 'buf').memory.device.slice(),
    };
    let errno = 0;
    try {
      run(job);
    } catch {
      errno = EIO;
    }
    for (const [state, view] of views) {
      if (errno === 0 && this.#writes.includes(state)) storeDeviceWrite(model, state, view);
      detach(view.buffer as ArrayBuffer);
    }
    return errno;
  }
}

export class EmulatedDevice {
  readonly name: string;
  readonly #backend: EmulationContext;
  #seqno = 0;

  constructor(backend: EmulationContext, name: string) {
    this.#backend = backend;
    this.name = name;
  }

  /**
   * Queue a checked job; returns its completion fence. A buffer in both `reads` and `writes`
   * counts as written.
   */
  submit(spec: JobSpec): SyncFileHandle {
    const writes = buffers(this.#backend, spec.writes, 'writes');
    const reads = buffers(this.#backend, spec.reads, 'reads').filter((state) => !writes.includes(state));
    // Implicit sync: dependencies are the fences present now (dma_resv_usage_rw).
    const deps = new Set<EmuFence>();
    for (const state of reads) for (const fence of state.resv.fences('read')) deps.add(fence);
    for (const state of writes) for (const fence of state.resv.fences('write')) deps.add(fence);
    const seqno = ++this.#seqno;
    const fence = new EmuFence(this.name);
    const syncFile = new EmulatedSyncFile(this.#backend, [fence], `${this.name}-${seqno}`);
    new Job(this.#backend, this.name, fence, [...deps], reads, writes, spec.durationMs, spec.run, spec.errno);
    for (const state of reads) state.resv.add(fence, 'read');
    for (const state of writes) state.resv.add(fence, 'write');
    return syncFile;
  }
}
