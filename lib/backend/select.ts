/**
 * Which backend the top-level DmaHeap/Udmabuf use. DMABUF_BACKEND=kernel|emulated forces one;
 * forcing `kernel` where it cannot work is an error, never a silent fallback. `auto` (the
 * default) picks the kernel backend where the addon loads and a heap or udmabuf device exists,
 * and the emulated backend elsewhere. The choice is made per call, so tests can switch it.
 */
import { existsSync } from 'node:fs';
import { DmaBufError, MisuseCode } from '../errors.js';
import { loadAddon } from '../native/load.js';
import type { Backend } from './backend.js';
import { emulatedBackendForFd, getDefaultEmulatedBackend } from './emulated/index.js';
import { getKernelBackend, HEAP_DIR, UDMABUF_DEVICE } from './kernel/index.js';

export type BackendChoice = 'auto' | 'kernel' | 'emulated';

export function backendChoice(): BackendChoice {
  const value = process.env['DMABUF_BACKEND'] ?? 'auto';
  if (value === '' || value === 'auto') return 'auto';
  if (value === 'kernel' || value === 'emulated') return value;
  throw new DmaBufError('EINVAL', `DMABUF_BACKEND must be 'auto', 'kernel' or 'emulated', got '${value}'`, {
    argument: 'DMABUF_BACKEND',
  });
}

/** Whether the kernel backend can work here: the addon loads and a dma-buf allocator device exists. */
export function kernelUsable(): boolean {
  return loadAddon().ok && (existsSync(HEAP_DIR) || existsSync(UDMABUF_DEVICE));
}

export function selectedBackend(): Backend {
  const choice = backendChoice();
  if (choice === 'emulated') return getDefaultEmulatedBackend();
  if (choice === 'kernel') {
    const backend = getKernelBackend();
    if (!existsSync(HEAP_DIR) && !existsSync(UDMABUF_DEVICE)) {
      throw new DmaBufError(
        MisuseCode.BACKEND_UNAVAILABLE,
        `DMABUF_BACKEND=kernel, but this kernel has neither ${HEAP_DIR} nor ${UDMABUF_DEVICE}; unset it to use the emulated backend`,
      );
    }
    return backend;
  }
  return kernelUsable() ? getKernelBackend() : getDefaultEmulatedBackend();
}

/** The backend an fd belongs to: an emulated buffer's number, or else a kernel fd. */
export function backendForFd(fd: number): Backend {
  return emulatedBackendForFd(fd) ?? getKernelBackend();
}
