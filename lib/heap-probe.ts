/**
 * Trying a heap for real: can this user open it, and can the CPU map a page of its memory? Used by
 * DmaHeap.list({ details: true }) and `dmabuf doctor`; the answer comes from doing it, never from
 * the device's mode bits (a udev rule, an ACL or a capability can each change what they say).
 */
import { DmaBufError } from './common/errors.js';
import type { Backend, HeapHandle } from './backend/backend.js';
import { cpuMappableKind, heapKind, type HeapKind } from './common/heap-kind.js';
import { resolveRegion } from './region.js';

/** What DmaHeap.list({ details: true }) says of each heap. */
export interface HeapDetails {
  readonly name: string;
  readonly kind: HeapKind;
  /** This process could open the heap device (and so allocate from it). */
  readonly accessible: boolean;
  /** A page allocated from it could be CPU-mapped and bracketed; null when it could not be tried. */
  readonly cpuMappable: boolean | null;
  /** The heap is the emulated backend's, not the kernel's. */
  readonly emulated: boolean;
  /** Why `accessible` or `cpuMappable` is false (the error's code and message). */
  readonly problem?: string;
}

function describe(error: unknown): string {
  return error instanceof DmaBufError ? `${error.code}: ${error.message}` : String(error);
}

export function probeHeap(backend: Backend, name: string, cmaRegions: readonly string[]): HeapDetails {
  const kind = heapKind(name, cmaRegions);
  const emulated = !backend.supports.realFds;
  let heap: HeapHandle;
  try {
    heap = backend.openHeap(name);
  } catch (error) {
    return { name, kind, accessible: false, cpuMappable: null, emulated, problem: describe(error) };
  }
  try {
    if (!cpuMappableKind(kind)) {
      return { name, kind, accessible: true, cpuMappable: false, emulated, problem: 'a protected heap: its memory is the device’s alone' };
    }
    const buffer = heap.allocate(backend.pageSize);
    try {
      const whole = resolveRegion('DMA_BUF_IOCTL_SYNC', undefined, buffer.size);
      const bytes = buffer.beginAccess('readwrite', whole);
      buffer.endAccess('readwrite', whole, bytes);
      return { name, kind, accessible: true, cpuMappable: true, emulated };
    } finally {
      buffer.close();
    }
  } catch (error) {
    return { name, kind, accessible: true, cpuMappable: false, emulated, problem: describe(error) };
  } finally {
    heap.close();
  }
}
