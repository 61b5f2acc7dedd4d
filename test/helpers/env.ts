/**
 * What this machine offers, for describe.runIf gates. Inside the VM the runner sets
 * DMABUF_REQUIRE_KERNEL=1: then the kernel suites run whatever the probes say, so a missing
 * device fails (and is counted) instead of skipping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { loadAddon } from '../../lib/native/load.js';
import { DmaHeap, Udmabuf, type DmaBuf } from '../../lib/index.js';
import { addon } from './addon.js';

/** The addon builds only on Linux: the native tests run there, and a broken build fails them. */
export const isLinux = process.platform === 'linux';
/**
 * How much slower than x86_64's the VM profile's software CPU is (scripts/vm/profiles.mjs; 1 on
 * the host and on x86_64): the factor vitest.config.ts scales the VM's test timeouts by, for the
 * timeouts a test sets itself (a child process's).
 */
export const vmSlowdown = Number(process.env['DMABUF_VM_SLOWDOWN'] ?? 1);
export const requireKernel = process.env['DMABUF_REQUIRE_KERNEL'] === '1';
export const addonLoads = loadAddon().ok;
export const hasSystemHeap = existsSync('/dev/dma_heap/system');
export const hasUdmabuf = existsSync('/dev/udmabuf');
export const hasVgem = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('card'));
/** A vivid capture node: videodev names vivid's nodes "vivid-<instance>-vid-cap" in sysfs. */
export const hasVivid = (() => {
  try {
    return readdirSync('/sys/class/video4linux').some((n) => /^vivid-\d+-vid-cap$/.test(readFileSync(`/sys/class/video4linux/${n}/name`, 'utf8').trim()));
  } catch {
    return false;
  }
})();

/**
 * What the kernel offers the suites. In the VM it is what the profile declares
 * (DMABUF_VM_PROVIDES, scripts/vm/profiles.mjs), not what a probe finds: a declared device that is
 * missing fails its tests, and an undeclared one leaves its tests out by declaration (the arm64
 * kernels have no dma-heaps). Elsewhere, what is present and usable.
 */
const declared = requireKernel ? (process.env['DMABUF_VM_PROVIDES'] ?? 'heaps,udmabuf,vgem,vivid,python3').split(',') : undefined;
const hasPython3 = (): boolean => {
  try {
    execFileSync('python3', ['-c', 'import socket; socket.send_fds'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
export const provides = {
  heaps: declared ? declared.includes('heaps') : addonLoads && hasSystemHeap,
  udmabuf: declared ? declared.includes('udmabuf') : addonLoads && hasUdmabuf,
  vgem: declared ? declared.includes('vgem') : addonLoads && hasVgem,
  /** vivid, the kernel's virtual V4L2 driver (dmabuf/testing's VividCamera). */
  vivid: declared ? declared.includes('vivid') : addonLoads && hasVivid,
  /**
   * QEMU's virtio-gpu (dmabuf/testing's DrmScanout) with the runner's screendump channel
   * (DMABUF_VM_SCREEN_DIR): only in a VM whose profile declares it; nowhere else can a test see the screen.
   */
  virtioGpu: declared ? declared.includes('virtio-gpu') : false,
  /** Python 3.9+ (socket.send_fds), the independent peer of the FdChannel interop tests. */
  python3: declared ? declared.includes('python3') : addonLoads && hasUdmabuf && hasPython3(),
} as const;

/**
 * Titles of tests that need what a VM profile may lack carry these marks. Where the profile
 * declares the feature absent they are out by declaration: scripts/vm/suite.mjs counts them apart
 * and fails on any other skip.
 */
export const NEEDS_HEAPS = '[needs dma-heaps]';
export const NEEDS_PYTHON = '[needs python3]';
export const NEEDS_VIRTIO_GPU = '[needs virtio-gpu]';
/** Tests of the heap-less case: out of a profile whose kernel has heaps. */
export const NEEDS_NO_HEAPS = '[needs a kernel without dma-heaps]';

/** Tests of a machine without any dma-buf device (the emulated default): out of every VM profile. */
export const NEEDS_NO_DEVICES = '[needs a machine without dma-buf devices]';
export const runNoDevices = !hasSystemHeap && !hasUdmabuf;

/** Run the kernel suites: they need a kernel allocator (a heap or udmabuf; see kernelAllocator()). */
export const runKernel = provides.heaps || provides.udmabuf;
export const runHeaps = provides.heaps;
export const runVgem = provides.vgem;
export const runVivid = provides.vivid;
export const runVirtioGpu = provides.virtioGpu;

/**
 * A kernel buffer source for tests that need any real dma-buf: the system heap where the kernel
 * has one, else udmabuf (sizes rounded up to its page size), as a program falls back on a heap-less
 * kernel. `using heap = kernelAllocator()` closes the heap.
 */
export function kernelAllocator(): { allocate(size: number, options?: { name?: string; checked?: boolean }): DmaBuf; close(): void; [Symbol.dispose](): void } {
  const heap = provides.heaps ? DmaHeap.open('system') : undefined;
  return {
    allocate: (size, options) => (heap ? heap.allocate(size, options) : Udmabuf.create(size, options)),
    close: () => heap?.close(),
    [Symbol.dispose]: () => heap?.close(),
  };
}

/** The kernel's page size (16384 on the arm64-16k profile): buffer sizes in kernel tests are multiples of it. */
export const PAGE = addonLoads ? addon().constants.PAGE_SIZE : 4096;

/** This kernel's version, [major, minor] of os.release() ('7.3.4+deb13-amd64' → [7, 3]). */
export const kernelVersion: readonly [number, number] = (() => {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
})();

/**
 * Whether this kernel is `major`.`minor` or later: for the facts that differ between the kernels
 * the VM profiles boot (6.12; x86_64-next: the newest Debian packages), each test asserting its own
 * kernel's behaviour rather than skipping.
 */
export function kernelAtLeast(major: number, minor: number): boolean {
  return kernelVersion[0] > major || (kernelVersion[0] === major && kernelVersion[1] >= minor);
}
