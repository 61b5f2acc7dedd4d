/**
 * An emulated device as users see it (emu.device(name)): checks a job's options and hands the
 * backend's device a checked job; its fence comes back as a SyncFile. The backend's device
 * (backend/emulated/device.ts) runs jobs and fences and knows nothing of the public classes.
 */
import { inspect } from 'node:util';
import type { EmulatedDevice as BackendDevice, JobView } from './backend/emulated/device.js';
import { DmaBuf } from './dmabuf.js';
import { DmaBufError, errnoOf, invalidArgument, invalidType } from './common/errors.js';
import { inspectObject } from './inspect.js';
import { SyncFile } from './sync-file.js';
import { checkName, checkOptions } from './validate.js';

const SUBMIT = 'submit';

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

/** Device names follow the sync_file name rule: at most 31 bytes, and not empty. */
export function checkDeviceName(name: unknown): string {
  const checked = checkName('device', name);
  if (checked === '') throw new DmaBufError('EINVAL', 'device: name must not be empty', { syscall: 'device', argument: 'name' });
  return checked;
}

function buffers(value: unknown, argument: string): DmaBuf[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidType(SUBMIT, argument, 'an array of DmaBuf', value);
  return value.map((buf, i) => {
    if (!(buf instanceof DmaBuf)) throw invalidType(SUBMIT, `${argument}[${i}]`, 'a DmaBuf', buf);
    return buf;
  });
}

/** The job as `run` sees it: the backend's view, taking only DmaBufs. */
function publicJob(view: JobView): DeviceJob {
  const checked = (buf: unknown): DmaBuf => {
    if (!(buf instanceof DmaBuf)) throw invalidType('bytes', 'buf', 'a DmaBuf', buf);
    return buf;
  };
  return Object.freeze({
    device: view.device,
    bytes: (buf: DmaBuf) => view.bytes(checked(buf)),
    rawBytes: (buf: DmaBuf) => view.rawBytes(checked(buf)),
  });
}

const devices = new WeakMap<BackendDevice, EmulatedDevice>();

export class EmulatedDevice {
  readonly #device: BackendDevice;

  private constructor(device: BackendDevice) {
    this.#device = device;
  }

  /** @internal The public face of a backend device: one per device. */
  static _of(device: BackendDevice): EmulatedDevice {
    let wrapped = devices.get(device);
    if (!wrapped) {
      wrapped = new EmulatedDevice(device);
      devices.set(device, wrapped);
    }
    return wrapped;
  }

  get name(): string {
    return this.#device.name;
  }

  [inspect.custom](depth: number, options: object): string {
    return inspectObject('EmulatedDevice', { name: this.name }, depth, options);
  }

  /**
   * Queue a job; returns its completion fence as a SyncFile. A buffer in both `reads` and `writes`
   * counts as written.
   */
  submit(options: SubmitOptions): SyncFile {
    const opts = checkOptions(SUBMIT, options, ['reads', 'writes', 'durationMs', 'run', 'error']);
    const writes = buffers(opts['writes'], 'writes');
    const reads = buffers(opts['reads'], 'reads');
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
    const userRun = run as ((job: DeviceJob) => void) | undefined;
    const handle = this.#device.submit({ reads, writes, durationMs, run: userRun && ((view) => userRun(publicJob(view))), errno });
    return SyncFile._wrap(handle);
  }
}
