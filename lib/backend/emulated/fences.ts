/**
 * Emulated fences and the emulated dma_resv. A fence is signalled by the job behind it (see
 * device.ts) when a timer fires; every fence carries that job, so a synchronous wait can compute
 * when the fence will signal, sleep until then (Atomics.wait, like a blocking SYNC START or poll),
 * and finish the job on the spot. Emulated fences are never handed to the kernel: the uapi's
 * "no indefinite fences" rule is about kernel dma_fences, and these are not.
 */
import { performance } from 'node:perf_hooks';
import type { AccessMode, FenceMode } from '../../common/vocabulary.js';
import { DmaBufError } from '../../common/errors.js';
import type { FenceInfo, PendingWait } from '../backend.js';

export const DRIVER_NAME = 'dmabuf-emulated';

/** What signals a fence: the emulated job behind it. */
export interface FenceSource {
  /** performance.now() time at which the fence is expected to signal (Infinity if never). */
  dueMs(): number;
  /** Finish now, sleeping until the job's due time if needed, and signal the fence. */
  finishSync(): void;
}

let fenceIds = 0;

export class EmuFence {
  readonly id = ++fenceIds;
  readonly objName: string;
  /** 0 active, 1 signalled, < 0 signalled with that negative errno (the sync_file convention). */
  status = 0;
  timestampNs = 0n;
  /** The earliest deadline hint set on this fence (SYNC_IOC_SET_DEADLINE); recorded, not acted on. */
  deadlineNs: bigint | undefined;
  source: FenceSource | undefined;
  #listeners: (() => void)[] = [];

  constructor(objName: string) {
    this.objName = objName;
  }

  /** The already-signalled stub that EXPORT_SYNC_FILE returns for an idle buffer. */
  static stub(): EmuFence {
    const fence = new EmuFence('stub');
    fence.signal();
    return fence;
  }

  get signalled(): boolean {
    return this.status !== 0;
  }

  /** Signal once, with `errno` > 0 for a failed job; a fence with an error counts as signalled. */
  signal(errno = 0): void {
    if (this.signalled) return;
    this.status = errno > 0 ? -errno : 1;
    this.timestampNs = process.hrtime.bigint();
    this.source = undefined;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }

  /** Call `listener` once when the fence signals; returns the unsubscribe function. */
  onSignal(listener: () => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  dueMs(): number {
    if (this.signalled) return performance.now();
    return this.source?.dueMs() ?? Infinity;
  }

  setDeadline(deadlineNs: bigint): void {
    if (this.deadlineNs === undefined || deadlineNs < this.deadlineNs) this.deadlineNs = deadlineNs;
  }

  info(): FenceInfo {
    return { objName: this.objName, driverName: DRIVER_NAME, status: this.status, timestampNs: this.timestampNs };
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread until performance.now() ≥ `timeMs` (how a blocking ioctl looks to JS). */
export function sleepUntil(timeMs: number): void {
  for (;;) {
    const left = timeMs - performance.now();
    if (left <= 0) return;
    Atomics.wait(sleepCell, 0, 0, left);
  }
}

/** Finish a pending fence synchronously: sleep until its job is due, then complete the job. */
export function finishFenceSync(fence: EmuFence): void {
  if (fence.signalled) return;
  const source = fence.source;
  if (!source || !Number.isFinite(source.dueMs())) {
    throw new DmaBufError('EDEADLK', 'an unbounded wait on an emulated fence that nothing will ever signal', { syscall: 'poll' });
  }
  source.finishSync();
}

/**
 * The synchronous wait (poll with a timeout, or SYNC START): true once every fence `fences()`
 * returns has signalled. timeoutMs 0 only checks; > 0 sleeps at most that long; -1 is unbounded.
 * `fences` is re-read after each completion, as poll re-evaluates the dma_resv when it wakes.
 */
export function waitSync(fences: () => readonly EmuFence[], timeoutMs: number): boolean {
  const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
  for (;;) {
    let first: EmuFence | undefined;
    let firstDue = Infinity;
    for (const fence of fences()) {
      if (fence.signalled) continue;
      const due = fence.dueMs();
      if (first === undefined || due < firstDue) {
        first = fence;
        firstDue = due;
      }
    }
    if (first === undefined) return true;
    if (timeoutMs === 0) return false;
    if (firstDue > deadline) {
      // poll would block for the whole timeout before reporting "not ready".
      sleepUntil(deadline);
      return false;
    }
    finishFenceSync(first);
  }
}

/**
 * The asynchronous wait: resolves true once every fence has signalled, false on timeout or
 * cancel. It listens on one pending fence at a time and re-reads the set when that one signals.
 * After it settles nothing is left registered: no timer, no listener.
 */
export function waitAsync(fences: () => readonly EmuFence[], timeoutMs: number): PendingWait {
  let resolve!: (ready: boolean) => void;
  const promise = new Promise<boolean>((r) => {
    resolve = r;
  });
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const settle = (ready: boolean): void => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    unsubscribe?.();
    timer = undefined;
    unsubscribe = undefined;
    resolve(ready);
  };
  const check = (): void => {
    unsubscribe = undefined;
    const pending = fences().find((fence) => !fence.signalled);
    if (pending === undefined) settle(true);
    else unsubscribe = pending.onSignal(check);
  };
  check();
  if (!settled && timeoutMs === 0) settle(false);
  if (!settled && timeoutMs > 0) timer = setTimeout(() => settle(false), timeoutMs);
  return { promise, cancel: () => settle(false) };
}

/**
 * The emulated dma_resv: read and write fences of one buffer (the kernel's READ and WRITE usage).
 * A reader (poll POLLIN, SYNC START read, EXPORT read, a device job that reads) waits for the
 * write fences; a writer waits for all of them (usage_rw: WRITE ⊂ READ).
 */
export class Resv {
  #reads: EmuFence[] = [];
  #writes: EmuFence[] = [];

  add(fence: EmuFence, usage: FenceMode): void {
    this.#prune();
    if (fence.signalled) return;
    const list = usage === 'write' ? this.#writes : this.#reads;
    if (!list.includes(fence)) list.push(fence);
  }

  /** The unsignalled fences `mode` waits for. */
  fences(mode: AccessMode): EmuFence[] {
    this.#prune();
    return mode === 'read' ? [...this.#writes] : [...this.#writes, ...this.#reads];
  }

  #prune(): void {
    this.#reads = this.#reads.filter((f) => !f.signalled);
    this.#writes = this.#writes.filter((f) => !f.signalled);
  }
}
