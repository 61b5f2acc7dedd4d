/**
 * What a dma-heap is, from its name, and which heap 'cma' means on this kernel. The names are the
 * kernel's (Documentation/userspace-api/dma-buf-heaps.rst; drivers/dma-buf/heaps/cma_heap.c):
 * the CMA heap is 'linux,cma' (the device-tree node), 'reserved' (with cma= on the command line),
 * 'default-pool', and from 6.17 'default_cma_region', its only name from 7.2 on; later kernels add
 * one heap per reusable shared-dma-pool region, named after its node. (Debian's amd64 kernels build
 * no CMA heap, CONFIG_CMA off in 6.12 and CONFIG_DMABUF_HEAPS_CMA off in 7.3: the x86 VMs have none.) Protected heaps ('protected,secure-video', 6.18)
 * hand out memory the CPU cannot map.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type HeapKind = 'system' | 'cma' | 'protected' | 'other';

/** The CMA heap's names, newest first: the order `DmaHeap.open('cma')` tries them in. */
export const CMA_HEAP_NAMES = ['default_cma_region', 'linux,cma', 'reserved', 'default-pool'] as const;

/** A name /dev/dma_heap could hold: one path component, no NUL. */
export function isHeapName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** The alias DmaHeap.open() resolves to this kernel's CMA heap. */
export const CMA_ALIAS = 'cma';

/**
 * The kind of heap `name` is. `cmaRegions` are the reusable device-tree regions (cmaRegionNames()):
 * a heap named after one is a CMA heap whatever its name.
 */
export function heapKind(name: string, cmaRegions: readonly string[] = []): HeapKind {
  if (name.startsWith('protected,')) return 'protected';
  // 'system', 'system-uncached' (vendor), 'system_cc_shared' (confidential-computing guests).
  if (name.startsWith('system')) return 'system';
  if ((CMA_HEAP_NAMES as readonly string[]).includes(name) || name.includes('cma') || cmaRegions.includes(name)) return 'cma';
  return 'other';
}

/** Whether the CPU can map buffers of this heap at all (protected heaps' memory is the device's alone). */
export function cpuMappableKind(kind: HeapKind): boolean {
  return kind !== 'protected';
}

/**
 * The heap to open for `requested` among `available`: itself if it exists; for 'cma', this
 * kernel's CMA heap under whichever name it has. undefined if there is none.
 */
export function resolveHeapName(requested: string, available: readonly string[], cmaRegions: readonly string[] = []): string | undefined {
  if (available.includes(requested)) return requested;
  if (requested !== CMA_ALIAS) return undefined;
  const known = CMA_HEAP_NAMES.find((name) => available.includes(name));
  return known ?? available.find((name) => heapKind(name, cmaRegions) === 'cma');
}

const RESERVED_MEMORY = '/proc/device-tree/reserved-memory';

/**
 * The reusable shared-dma-pool regions of the device tree (empty without one, as on x86 and on
 * qemu's virt board), each by its node name with and without the unit address ('vpu@30000000', 'vpu').
 */
export function cmaRegionNames(root = RESERVED_MEMORY): string[] {
  let nodes: string[];
  try {
    nodes = readdirSync(root);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const node of nodes) {
    try {
      const compatible = readFileSync(`${root}/${node}/compatible`, 'latin1');
      if (!compatible.split('\0').includes('shared-dma-pool')) continue;
      readFileSync(`${root}/${node}/reusable`);
    } catch {
      continue;
    }
    names.push(node);
    const at = node.indexOf('@');
    if (at > 0) names.push(node.slice(0, at));
  }
  return names;
}
