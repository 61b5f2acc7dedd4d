/**
 * The backends the conformance and differential suites run against (serialport/abstract-level
 * style: one suite, every backend). Each entry supplies the same few operations; the tests branch
 * on `supports`, never on the entry's name.
 *
 * - the emulated backend in each coherency model (always);
 * - the kernel backend: DmaHeap.open('system') and Udmabuf (when `runKernel`; inside the VM it
 *   always runs, with DMABUF_REQUIRE_KERNEL=1, so a missing device is a failure).
 *
 * A "fence source" makes a buffer busy with a pending reader or writer fence and releases it:
 * on the kernel, a vgem fence (VGEM_FENCE_ATTACH … VGEM_FENCE_SIGNAL, released on demand); on the
 * emulator, a device job that reads or writes the buffer for HOLD_MS and changes no byte (the
 * emulated device has no release-on-demand: release() awaits the job). Either way a hold lasts
 * well under a second and the checks made while it is held must finish well inside HOLD_MS.
 */
import { Udmabuf, emulation, type Coherency, type DmaBuf, type FenceMode, type SyncFile, type Supports } from '../../lib/index.js';
import { getKernelBackend } from '../../lib/backend/kernel/index.js';
import { COHERENCIES } from '../../lib/backend/emulated/models.js';
import { VgemFenceSource, type VgemFence } from '../../lib/testing/index.js';
import { kernelAllocator, provides, requireKernel, runKernel, runVgem } from './env.js';

/**
 * How long an emulated fence is held (the job's duration): long enough for the checks a test makes
 * while it is held (≤ ~150 ms of timeouts), short because every fence test waits it out. The VM
 * runs node 10–50× slower (software CPU), so it gets more.
 */
export const HOLD_MS = requireKernel ? 800 : 300;

export interface FenceHold {
  readonly mode: FenceMode;
  /** Signal the fence (kernel) or let the job finish (emulator); resolves once it has signalled. */
  release(): Promise<void>;
}

export interface ConformanceBackend {
  /** For titles only: tests branch on `supports`. */
  readonly name: string;
  /** Whether this machine can run it (describe.runIf); the title says what it needs. */
  readonly available: boolean;
  /** Whether busy() works here (the kernel needs vgem). */
  readonly fences: boolean;
  readonly supports: Supports;
  /** 'kernel' or 'emulated': what buf.backend must say. */
  readonly kind: 'kernel' | 'emulated';
  /** Whether allocate() draws from a dma-heap (false on a heap-less kernel: it falls back to udmabuf). */
  readonly heaps: boolean;
  allocate(size: number, options?: { name?: string }): DmaBuf;
  udmabuf(size: number, options?: { name?: string }): DmaBuf;
  /** Attach a pending `mode` fence to `buf` (a reader or a writer) until release(). */
  busy(buf: DmaBuf, mode: FenceMode): FenceHold;
  /** Release every hold still pending and close what this entry opened (the heap, vgem). */
  settle(): Promise<void>;
}

/**
 * An emulated entry. `heaps: false` makes allocate() draw from udmabuf, as the kernel entry does
 * on a heap-less kernel, so that the differential test compares like with like there.
 */
export function emulatedBackend(coherency: Coherency, seed = 1, { heaps = true, pageSize = 4096 as 4096 | 16384 | 65536 } = {}): ConformanceBackend {
  const emu = emulation.create({ coherency, seed, pageSize });
  const heap = emu.heap('system');
  const device = emu.device('conformance');
  const pending = new Set<SyncFile>();
  return {
    name: `emulated (${coherency})`,
    available: true,
    fences: true,
    supports: emu.supports,
    kind: 'emulated',
    heaps,
    allocate: (size, options) => (heaps ? heap.allocate(size, options) : emu.udmabuf(size, options)),
    udmabuf: (size, options) => emu.udmabuf(size, options),
    busy(buf, mode) {
      const job = device.submit(mode === 'write' ? { writes: [buf], durationMs: HOLD_MS } : { reads: [buf], durationMs: HOLD_MS });
      pending.add(job);
      let released: Promise<void> | undefined;
      return {
        mode,
        release: () =>
          (released ??= job.wait().finally(() => {
            pending.delete(job);
            job.close();
          })),
      };
    },
    async settle() {
      const jobs = [...pending];
      pending.clear();
      for (const job of jobs) {
        await job.wait();
        job.close();
      }
    },
  };
}

export function kernelBackend(): ConformanceBackend {
  let heap: ReturnType<typeof kernelAllocator> | undefined;
  let vgem: VgemFenceSource | undefined;
  const pending = new Set<VgemFence>();
  const expectKernel = (buf: DmaBuf): DmaBuf => {
    if (buf.backend !== 'kernel') {
      buf.close();
      throw new Error('the kernel entry got an emulated buffer: unset DMABUF_BACKEND');
    }
    return buf;
  };
  return {
    name: 'kernel (the system dma-heap where the kernel has one, else udmabuf; and udmabuf; fences need vgem)',
    available: runKernel,
    fences: runVgem,
    get supports() {
      return getKernelBackend().supports;
    },
    kind: 'kernel',
    heaps: provides.heaps,
    allocate(size, options) {
      heap ??= kernelAllocator();
      return expectKernel(heap.allocate(size, options));
    },
    udmabuf: (size, options) => expectKernel(Udmabuf.create(size, options)),
    busy(buf, mode) {
      vgem ??= VgemFenceSource.open();
      const source = vgem;
      const fence = source.attachFence(buf, mode);
      pending.add(fence);
      return {
        mode,
        release: async () => {
          if (!pending.delete(fence)) return;
          source.signal(fence);
        },
      };
    },
    async settle() {
      for (const fence of pending) {
        try {
          vgem?.signal(fence);
        } catch {
          // Already expired (ETIMEDOUT after vgem's 10 s): signalled either way.
        }
      }
      pending.clear();
      vgem?.close();
      vgem = undefined;
      heap?.close();
      heap = undefined;
    },
  };
}

/** Every backend entry, in a fixed order: the four emulated models, then the kernel. */
export function conformanceBackends(): ConformanceBackend[] {
  return [...COHERENCIES.map((coherency) => emulatedBackend(coherency)), kernelBackend()];
}

/** process.getActiveResourcesInfo(), sorted, once pending closes have run. */
export async function activeResources(): Promise<string[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return [...process.getActiveResourcesInfo()].sort();
}

/**
 * What is active now and was not in `before` (a multiset difference). Only growth counts, and only
 * growth that lasts: the test runner's own timers (its report throttling) come and go meanwhile,
 * so a difference is looked at again for up to `graceMs` before it is reported.
 */
export async function leftoverResources(before: readonly string[], graceMs = 1000): Promise<string[]> {
  const deadline = performance.now() + graceMs;
  for (;;) {
    const remaining = [...before];
    const extra: string[] = [];
    for (const resource of await activeResources()) {
      const i = remaining.indexOf(resource);
      if (i >= 0) remaining.splice(i, 1);
      else extra.push(resource);
    }
    if (extra.length === 0 || performance.now() > deadline) return extra;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
