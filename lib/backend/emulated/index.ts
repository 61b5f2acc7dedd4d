/**
 * The emulated backend's entry points for the rest of the package: a factory, the process-wide
 * default instance (DMABUF_EMULATION, DMABUF_EMULATION_SEED), and fd-number routing for
 * DmaBuf.fromFd.
 */
import { isHeapName } from '../../heap-kind.js';
import { DmaBufError, invalidArgument, invalidType } from '../../errors.js';
import { DEFAULT_SEED, EmulatedBackend, PAGE_SIZE, PAGE_SIZES, type EmulatedBackendOptions } from './backend.js';
import { isEmulatedFd, lookupFd } from './fds.js';
import { COHERENCIES, type Coherency } from './models.js';

export { EmulatedBackend, DEFAULT_SEED, PAGE_SIZE, type EmulatedBackendOptions, type EmulationStats } from './backend.js';
export type { EmulatedDevice } from './device.js';
export { COHERENCIES, type Coherency } from './models.js';
export { FAULT_CODES, FAULT_OPERATIONS, type FaultCode, type FaultOperation } from './faults.js';
export { EMULATED_FD_BASE } from './fds.js';

/** `argument` names what was read: the option ('coherency') or the environment variable. */
export function checkCoherency(syscall: string, value: unknown, argument = 'coherency'): Coherency {
  if (typeof value !== 'string') throw invalidType(syscall, argument, `one of ${COHERENCIES.join(', ')}`, value);
  if (!(COHERENCIES as readonly string[]).includes(value)) {
    throw invalidArgument(syscall, argument, `must be one of ${COHERENCIES.join(', ')}, got '${value}'`);
  }
  return value as Coherency;
}

export function checkSeed(syscall: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidType(syscall, 'seed', 'an integer', value);
  if (!Number.isSafeInteger(value)) throw invalidArgument(syscall, 'seed', `must be a safe integer, got ${value}`);
  // The PRNG has 32 bits of state: fold the high bits in so every safe integer matters.
  return ((value % 2 ** 32) ^ Math.floor(value / 2 ** 32)) >>> 0;
}

export function checkPageSize(syscall: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidType(syscall, 'pageSize', `one of ${PAGE_SIZES.join(', ')}`, value);
  if (!(PAGE_SIZES as readonly number[]).includes(value)) {
    throw invalidArgument(syscall, 'pageSize', `must be one of ${PAGE_SIZES.join(', ')} (the page sizes Linux runs with), got ${value}`);
  }
  return value;
}

/** The heaps an emulation offers: 1 to 16 distinct names as /dev/dma_heap could hold them. */
export function checkHeapNames(syscall: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalidType(syscall, 'heaps', 'an array of heap names', value);
  if (value.length === 0 || value.length > 16) throw invalidArgument(syscall, 'heaps', `must name 1 to 16 heaps, got ${value.length}`);
  for (const name of value) {
    if (typeof name !== 'string') throw invalidType(syscall, 'heaps', 'an array of heap names', name);
    if (!isHeapName(name) || name.length > 64) {
      throw invalidArgument(syscall, 'heaps', `'${name}' is not a heap name`);
    }
  }
  if (new Set(value).size !== value.length) throw invalidArgument(syscall, 'heaps', 'names a heap twice');
  return [...(value as string[])];
}

export function createEmulatedBackend(options: EmulatedBackendOptions = {}): EmulatedBackend {
  const coherency = checkCoherency('emulation.create', options.coherency ?? 'writeback');
  const seed = checkSeed('emulation.create', options.seed ?? DEFAULT_SEED);
  const pageSize = checkPageSize('emulation.create', options.pageSize ?? PAGE_SIZE);
  const heaps = options.heaps === undefined ? undefined : checkHeapNames('emulation.create', options.heaps);
  return new EmulatedBackend({ coherency, seed, pageSize, ...(heaps ? { heaps } : {}) });
}

let defaultBackend: EmulatedBackend | undefined;

/**
 * The process-wide emulation used when DMABUF_BACKEND selects the emulated backend. Coherency from
 * DMABUF_EMULATION (default 'writeback': the model that exposes missing brackets), seed from
 * DMABUF_EMULATION_SEED (default DEFAULT_SEED). Read once, at first use.
 */
export function getDefaultEmulatedBackend(): EmulatedBackend {
  if (!defaultBackend) {
    const coherency = process.env['DMABUF_EMULATION'] || 'writeback';
    const seedText = process.env['DMABUF_EMULATION_SEED'];
    let seed = DEFAULT_SEED;
    if (seedText !== undefined && seedText !== '') {
      seed = Number(seedText);
      if (!Number.isSafeInteger(seed)) {
        throw new DmaBufError('EINVAL', `DMABUF_EMULATION_SEED must be an integer, got '${seedText}'`, { argument: 'DMABUF_EMULATION_SEED' });
      }
    }
    defaultBackend = new EmulatedBackend({
      coherency: checkCoherency('DMABUF_EMULATION', coherency, 'DMABUF_EMULATION'),
      seed: checkSeed('DMABUF_EMULATION_SEED', seed),
    });
  }
  return defaultBackend;
}

/**
 * The emulated backend that issued `fd`, or undefined for a kernel fd (below 2^30). A live number
 * routes to its owner (whose importFd says EBADFD if it is a sync_file); a closed or never-issued
 * emulated number routes to the default emulation, whose importFd says EBADF: it is no open fd.
 */
export function emulatedBackendForFd(fd: number): EmulatedBackend | undefined {
  if (!isEmulatedFd(fd)) return undefined;
  const owner = lookupFd(fd)?.owner;
  return owner instanceof EmulatedBackend ? owner : getDefaultEmulatedBackend();
}
