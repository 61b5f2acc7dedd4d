/**
 * What this machine offers, for describe.runIf gates. Inside the VM the runner sets
 * DMABUF_REQUIRE_KERNEL=1: then the kernel suites run whatever the probes say, so a missing
 * device fails (and is counted) instead of skipping.
 */
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { loadAddon } from '../../lib/native/load.js';
import type { NativeAddon } from '../../lib/native/addon.js';
import { DmaHeap, Udmabuf, type DmaBuf } from '../../lib/index.js';

export const requireKernel = process.env['DMABUF_REQUIRE_KERNEL'] === '1';
export const addonLoads = loadAddon().ok;
export const hasSystemHeap = existsSync('/dev/dma_heap/system');
export const hasUdmabuf = existsSync('/dev/udmabuf');
export const hasVgem = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('card'));

/**
 * What the kernel offers the suites. In the VM it is what the profile declares
 * (DMABUF_VM_PROVIDES, scripts/vm/profiles.mjs), not what a probe finds: a declared device that is
 * missing fails its tests, and an undeclared one leaves its tests out by declaration (the arm64
 * kernels have no dma-heaps). Elsewhere, what is present and usable.
 */
const declared = requireKernel ? (process.env['DMABUF_VM_PROVIDES'] ?? 'heaps,udmabuf,vgem,python3').split(',') : undefined;
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
/** Tests of the heap-less case: out of a profile whose kernel has heaps. */
export const NEEDS_NO_HEAPS = '[needs a kernel without dma-heaps]';

/** Tests of a machine without any dma-buf device (the emulated default): out of every VM profile. */
export const NEEDS_NO_DEVICES = '[needs a machine without dma-buf devices]';
export const runNoDevices = !hasSystemHeap && !hasUdmabuf;

/** Run the kernel suites: they need a kernel allocator (a heap or udmabuf; see kernelAllocator()). */
export const runKernel = provides.heaps || provides.udmabuf;
export const runHeaps = provides.heaps;
export const runVgem = provides.vgem;

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

export function addon(): NativeAddon {
  const result = loadAddon();
  if (!result.ok) throw new Error(result.reason);
  return result.addon;
}

/** The file the addon was loaded from (a source build or a prebuild), for workers that require it. */
export function addonPath(): string {
  const result = loadAddon();
  if (!result.ok) throw new Error(result.reason);
  return result.path;
}

/** Open fds of this process, by number. */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}

/** What each open fd points at (for leak messages). */
export function fdTargets(): string[] {
  return openFds().map((fd) => {
    try {
      return `${fd} → ${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd} → ?`;
    }
  });
}

/** Mappings of dma-bufs, memfds and udmabufs in /proc/self/maps. */
export function dmaBufMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => /\/dmabuf:|memfd:/.test(line));
}

/** Count of dma-buf fds (their /proc/self/fd link is /dmabuf:<name> or anon_inode:dmabuf). */
export function dmaBufFdCount(): number {
  return fdTargets().filter((t) => /dmabuf/.test(t)).length;
}

export function fdinfo(fd: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc (vitest.config.ts sets it)');
  g();
}

/** Let finalizers and FinalizationRegistry callbacks run. */
export async function collect(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Both ends of a FIFO (node has no pipe(2)); the caller closes them with addon().close. */
export function makeFifo(): [number, number] {
  const a = addon();
  const path = `/tmp/dmabuf-test-fifo-${process.pid}-${Math.random().toString(36).slice(2)}`;
  execFileSync('mkfifo', [path]);
  try {
    const readEnd = a.open(path, a.constants.O_RDONLY | a.constants.O_NONBLOCK);
    return [readEnd, a.open(path, a.constants.O_WRONLY)];
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * Runs one empty worker thread, once per process. The first worker a process starts opens
 * process-wide fds that outlive it (seen with the official Node.js 20 arm64 build: /dev/null and
 * one more); tests that count fds around a worker start from after that, so they see only what
 * their own worker leaves.
 */
let workersWarm: Promise<void> | undefined;
export function warmUpWorkers(): Promise<void> {
  workersWarm ??= new Promise<void>((resolve, reject) => {
    const worker = new Worker('', { eval: true });
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  return workersWarm;
}

/** Resolves with how often a 10 ms interval fired while `work` ran: the event loop stayed free. */
export async function ticksDuring<T>(work: Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 10);
  try {
    return { value: await work, ticks };
  } finally {
    clearInterval(interval);
  }
}
