/**
 * Which backend the top-level DmaHeap/Udmabuf use, and why. DMABUF_BACKEND=kernel|emulated forces
 * one; forcing `kernel` where it cannot work is an error, never a silent fallback. `auto` (the
 * default) picks the kernel backend where a heap or udmabuf device exists, and the emulated
 * backend where none does. Where devices exist but the addon cannot load, `auto` refuses: emulated
 * fds (2^30 and up) would reach drivers that cannot take them. The choice is made per call, so
 * tests can switch it.
 */
import { debug } from '../common/debug.js';
import { existsSync } from 'node:fs';
import { DmaBufError, MisuseCode } from '../common/errors.js';
import { type AddonOrigin, type LoadResult, loadAddon } from './kernel/addon.js';
import type { Backend, Supports } from './backend.js';
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

/** What backendInfo() reports: which backend the package uses here, why, and with which addon. */
export interface BackendInfo {
  /** The backend DmaHeap/Udmabuf use, or 'unavailable' where they throw ERR_DMABUF_BACKEND_UNAVAILABLE. */
  readonly backend: 'kernel' | 'emulated' | 'unavailable';
  /** DMABUF_BACKEND as read ('auto' when unset). */
  readonly choice: BackendChoice;
  /** Why this backend, in a sentence; for 'unavailable', the reason and the fix. */
  readonly reason: string;
  /** The native addon: where it came from ('source build', 'prebuild linux-arm64') or 'none' and why. */
  readonly addon: { readonly origin: AddonOrigin; readonly path?: string; readonly reason?: string };
  /** The chosen backend's manifest (null when unavailable). */
  readonly supports: Supports | null;
}

/** The dma-buf allocator devices present (a heap directory, udmabuf). */
function devicesPresent(): string[] {
  return [HEAP_DIR, UDMABUF_DEVICE].filter((path) => existsSync(path));
}

/** What decide() concludes: the backend to use (null: none can serve) and why. */
export interface Decision {
  readonly kind: 'kernel' | 'emulated' | null;
  readonly reason: string;
}

/**
 * The one place the choice is made, from what was read of the machine: selectedBackend() acts on
 * it, backendInfo() reports it. `devices` are the allocator devices present, `addon` the loader's result.
 */
export function decide(choice: BackendChoice, devices: readonly string[], addon: LoadResult): Decision {
  if (choice === 'emulated') return { kind: 'emulated', reason: 'DMABUF_BACKEND=emulated' };
  if (choice === 'kernel') {
    if (!addon.ok) return { kind: null, reason: `DMABUF_BACKEND=kernel, but ${addon.reason}` };
    if (devices.length === 0) {
      return {
        kind: null,
        reason: `DMABUF_BACKEND=kernel, but this kernel has neither ${HEAP_DIR} nor ${UDMABUF_DEVICE}; unset it to use the emulated backend`,
      };
    }
    return { kind: 'kernel', reason: `DMABUF_BACKEND=kernel (${devices.join(' and ')} present)` };
  }
  if (devices.length === 0) {
    return { kind: 'emulated', reason: `auto: no dma-buf devices here (neither ${HEAP_DIR} nor ${UDMABUF_DEVICE}), so the buffers are emulated` };
  }
  if (!addon.ok) {
    return {
      kind: null,
      reason:
        `auto: ${devices.join(' and ')} exist, but ${addon.reason}. ` +
        'Emulated buffers would not be real dma-bufs here; set DMABUF_BACKEND=emulated to use them anyway',
    };
  }
  return { kind: 'kernel', reason: `auto: ${devices.join(' and ')} present and the addon loaded (${addon.origin})` };
}

let lastLogged: string | undefined;

function decideHere(): Decision {
  const decision = decide(backendChoice(), devicesPresent(), loadAddon());
  // The choice is made per call; say it when it is first made and whenever it changes.
  if (debug.enabled && decision.reason !== lastLogged) {
    lastLogged = decision.reason;
    debug('backend: %s (%s)', decision.kind ?? 'unavailable', decision.reason);
  }
  return decision;
}

function backendOf(kind: 'kernel' | 'emulated'): Backend {
  return kind === 'kernel' ? getKernelBackend() : getDefaultEmulatedBackend();
}

export function selectedBackend(): Backend {
  const decision = decideHere();
  if (decision.kind) return backendOf(decision.kind);
  throw new DmaBufError(MisuseCode.BACKEND_UNAVAILABLE, `dmabuf kernel backend unavailable: ${decision.reason}`);
}

/**
 * Which backend the package uses on this machine and why, where its addon came from, and what the
 * backend supports. Never throws for an unusable backend: it reports it.
 */
export function backendInfo(): BackendInfo {
  const choice = backendChoice();
  const addon = loadAddon();
  const decision = decide(choice, devicesPresent(), addon);
  return Object.freeze({
    backend: decision.kind ?? 'unavailable',
    choice,
    reason: decision.reason,
    addon: Object.freeze(addon.ok ? { origin: addon.origin, path: addon.path } : { origin: addon.origin, reason: addon.reason }),
    supports: decision.kind ? backendOf(decision.kind).supports : null,
  });
}

/** The backend an fd belongs to: an emulated buffer's number, or else a kernel fd. */
export function backendForFd(fd: number): Backend {
  return emulatedBackendForFd(fd) ?? getKernelBackend();
}
