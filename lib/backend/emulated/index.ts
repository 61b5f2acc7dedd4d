/**
 * The emulated backend's entry points for the rest of the package: a factory, the process-wide
 * default instance (DMABUF_EMULATION, DMABUF_EMULATION_SEED), and fd-number routing for
 * DmaBuf.fromFd.
 */
import { DmaBufError, invalidArgument } from '../../common/errors.js';
import { DEFAULT_SEED, EmulatedBackend, PAGE_SIZE, type EmulatedBackendOptions } from './backend.js';
import { isEmulatedFd, lookupFd } from './fds.js';
import { COHERENCIES, isCoherency } from './models.js';

export { EmulatedBackend, DEFAULT_SEED, PAGE_SIZE, PAGE_SIZES, type EmulatedBackendOptions, type EmulationStats } from './backend.js';
export type { EmulationCounters } from './context.js';
export type { EmulatedDevice } from './device.js';
export { COHERENCIES, isCoherency, type Coherency } from './models.js';
export { FAULT_CODES, FAULT_OPERATIONS, type FaultCode, type FaultOperation } from './faults.js';
export { EMULATED_FD_BASE } from './fds.js';

/** A new emulation from options the public layer has checked (lib/emulation.ts); defaults fill the rest. */
export function createEmulatedBackend(options: EmulatedBackendOptions = {}): EmulatedBackend {
  return new EmulatedBackend({
    coherency: options.coherency ?? 'writeback',
    seed: options.seed ?? DEFAULT_SEED,
    pageSize: options.pageSize ?? PAGE_SIZE,
    ...(options.heaps ? { heaps: options.heaps } : {}),
  });
}

let defaultBackend: EmulatedBackend | undefined;

/**
 * The process-wide emulation used when DMABUF_BACKEND selects the emulated backend. Coherency from
 * DMABUF_EMULATION (default 'writeback': the model that exposes missing brackets), seed from
 * DMABUF_EMULATION_SEED (default DEFAULT_SEED). Read once, at first use.
 */
export function getDefaultEmulatedBackend(): EmulatedBackend {
  if (!defaultBackend) {
    // The environment is this backend's own input (no public call passes it): read and check here.
    const coherency = process.env['DMABUF_EMULATION'] || 'writeback';
    if (!isCoherency(coherency)) {
      throw invalidArgument('DMABUF_EMULATION', 'DMABUF_EMULATION', `must be one of ${COHERENCIES.join(', ')}, got '${coherency}'`);
    }
    const seedText = process.env['DMABUF_EMULATION_SEED'];
    let seed = DEFAULT_SEED;
    if (seedText !== undefined && seedText !== '') {
      seed = Number(seedText);
      if (!Number.isSafeInteger(seed)) {
        throw new DmaBufError('EINVAL', `DMABUF_EMULATION_SEED must be an integer, got '${seedText}'`, { argument: 'DMABUF_EMULATION_SEED' });
      }
    }
    defaultBackend = new EmulatedBackend({ coherency, seed });
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
