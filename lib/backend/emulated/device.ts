/**
 * Emulated devices: each runs submitted jobs like a GPU with implicit sync. At submit, a job
 * takes the buffers' current fences as dependencies (a reader waits for the write fences, a writer
 * for all of them, as dma_resv_usage_rw says) and adds its own fence to each buffer (READ usage
 * for reads, WRITE usage for writes). Once its dependencies have signalled it runs for
 * `durationMs` (a timer; 0 means the next macrotask), then calls `run` with views of the buffers'
 * device memory, stores what it wrote, and signals its fence.
 */
import { performance } from 'node:perf_hooks';
import type { DmaBuf } from '../../dmabuf.js';
import { DmaBufError, errnoOf, invalidArgument, invalidType } from '../../errors.js';
import { SyncFile } from '../../sync-file.js';
import { checkName, checkOptions } from '../../validate.js';
import type { EmulatedBackend } from './backend.js';
import { detach, EmulatedBuffer, loadDeviceRead, storeDeviceWrite, type BufferState } from './buffer.js';
import { lookupFd } from './fds.js';
import { EmuFence, finishFenceSync, sleepUntil, type FenceSource } from './fences.js';
import { EmulatedSyncFile } from './sync-file.js';

const SUBMIT = 'submit';
const EIO = 5;

/** What a job's `run` gets: the device's view of the buffers it was submitted with. */
export interface DeviceJob {
  /** The device's name. */
  readonly device: string;
  /**
   * The buffer's device memory as the device reads it: linear (a tiling device untiles its own
   * memory). Valid only during `run`: detached afterwards. Writes count only for buffers in
   * `writes`; a buffer only in `reads` is read-only to the device and its writes are dropped.
   */
  bytes(buf: DmaBuf): Uint8Array;
  /** A copy of the raw device memory as stored (tiled order in the 'tiled' model). */
  rawBytes(buf: DmaBuf): Uint8Array;
}

export interface SubmitOptions {
  /** Buffers the job reads: it waits for their writers and adds a READ fence. */
  readonly reads?: readonly DmaBuf[];
  /** Buffers the job writes: it waits for all their users and adds a WRITE fence. */
  readonly writes?: readonly DmaBuf[];
  /** How long the job runs once its dependencies are done (ms, default 0: the next macrotask). */
  readonly durationMs?: number;
  /** What the device does when the job completes. If it throws, the fence signals with EIO. */
  readonly run?: (job: DeviceJob) => void;
  /** Make the job fail: its fence signals with this errno ('EIO', 'ETIMEDOUT', …) and `run` is skipped. */
  readonly error?: string;
}

/** The buffer behind a DmaBuf of this emulation, found by its emulated fd number. */
function stateOf(backend: EmulatedBackend, buf: unknown, argument: string): BufferState {
  if (typeof buf !== 'object' || buf === null || !('fd' in buf)) throw invalidType(SUBMIT, argument, 'a DmaBuf', buf);
  const entry = lookupFd((buf as DmaBuf).fd);
  if (entry?.kind !== 'buffer' || entry.owner !== backend || !(entry.target instanceof EmulatedBuffer)) {
    throw invalidArgument(SUBMIT, argument, 'must be a DmaBuf of this emulation (devices cannot reach kernel buffers or other emulations)');
  }
  return entry.target.state;
}

function buffers(backend: EmulatedBackend, value: unknown, argument: string): BufferState[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidType(SUBMIT, argument, 'an array of DmaBuf', value);
  return value.map((buf, i) => stateOf(backend, buf, `${argument}[${i}]`));
}

class Job implements FenceSource {
  readonly fence: EmuFence;
  readonly #backend: EmulatedBackend;
  readonly #deviceName: string;
  readonly #deps: EmuFence[];
  readonly #reads: BufferState[];
  readonly #writes: BufferState[];
  readonly #durationMs: number;
  readonly #run: ((job: DeviceJob) => void) | undefined;
  readonly #errno: number;
  #waitingFor: number;
  #startedAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    backend: EmulatedBackend,
    deviceName: string,
    fence: EmuFence,
    deps: EmuFence[],
    reads: BufferState[],
    writes: BufferState[],
    durationMs: number,
    run: ((job: DeviceJob) => void) | undefined,
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
  #execute(run: (job: DeviceJob) => void): number {
    const { model } = this.#backend;
    const views = new Map<BufferState, Uint8Array>();
    const reachable = (buf: DmaBuf, argument: string): BufferState => {
      const state = stateOf(this.#backend, buf, argument);
      if (!this.#reads.includes(state) && !this.#writes.includes(state)) {
        throw invalidArgument('bytes', argument, 'the job was not submitted with this buffer in reads or writes');
      }
      return state;
    };
    const job: DeviceJob = {
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
  readonly #backend: EmulatedBackend;
  #seqno = 0;

  constructor(backend: EmulatedBackend, name: string) {
    this.#backend = backend;
    this.name = name;
  }

  /**
   * Queue a job; returns its completion fence as a SyncFile. A buffer in both `reads` and `writes`
   * counts as written.
   */
  submit(options: SubmitOptions): SyncFile {
    const opts = checkOptions(SUBMIT, options);
    const writes = buffers(this.#backend, opts['writes'], 'writes');
    const reads = buffers(this.#backend, opts['reads'], 'reads').filter((state) => !writes.includes(state));
    const durationMs = opts['durationMs'] ?? 0;
    if (typeof durationMs !== 'number') throw invalidType(SUBMIT, 'durationMs', 'a number of milliseconds', durationMs);
    if (!Number.isFinite(durationMs) || durationMs < 0) throw invalidArgument(SUBMIT, 'durationMs', `must be ≥ 0, got ${durationMs}`);
    const run = opts['run'];
    if (run !== undefined && typeof run !== 'function') throw invalidType(SUBMIT, 'run', 'a function', run);
    const error = opts['error'];
    let errno = 0;
    if (error !== undefined) {
      if (typeof error !== 'string') throw invalidType(SUBMIT, 'error', "an errno name such as 'EIO'", error);
      errno = errnoOf(error) ?? 0;
      if (errno === 0) throw invalidArgument(SUBMIT, 'error', `'${error}' is not an errno name`);
    }
    // Implicit sync: dependencies are the fences present now (dma_resv_usage_rw).
    const deps = new Set<EmuFence>();
    for (const state of reads) for (const fence of state.resv.fences('read')) deps.add(fence);
    for (const state of writes) for (const fence of state.resv.fences('write')) deps.add(fence);
    const seqno = ++this.#seqno;
    const fence = new EmuFence(this.name);
    const syncFile = new EmulatedSyncFile(this.#backend, [fence], `${this.name}-${seqno}`);
    new Job(this.#backend, this.name, fence, [...deps], reads, writes, durationMs, run as ((job: DeviceJob) => void) | undefined, errno);
    for (const state of reads) state.resv.add(fence, 'read');
    for (const state of writes) state.resv.add(fence, 'write');
    return SyncFile._wrap(syncFile);
  }
}

/** Device names follow the sync_file name rule: at most 31 bytes. */
export function checkDeviceName(name: unknown): string {
  const checked = checkName('device', name);
  if (checked === '') throw new DmaBufError('EINVAL', 'device: name must not be empty', { syscall: 'device', argument: 'name' });
  return checked;
}
