/**
 * What this machine offers, for describe.runIf gates. Inside the VM the runner sets
 * DMABUF_REQUIRE_KERNEL=1: then the kernel suites run whatever the probes say, so a missing
 * device fails (and is counted) instead of skipping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { loadAddon } from '../../lib/native/load.js';
import type { NativeAddon } from '../../lib/native/addon.js';

export const requireKernel = process.env['DMABUF_REQUIRE_KERNEL'] === '1';
export const addonLoads = loadAddon().ok;
export const hasSystemHeap = existsSync('/dev/dma_heap/system');
export const hasUdmabuf = existsSync('/dev/udmabuf');
export const hasVgem = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('card'));

/** Run the kernel suites: in the VM always (a missing device is a failure), elsewhere when everything is present. */
export const runKernel = requireKernel || (addonLoads && hasSystemHeap && hasUdmabuf);
export const runVgem = requireKernel || (addonLoads && hasVgem);

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
  return readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);
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
    .filter((line) => /dmabuf|memfd:|udmabuf/.test(line));
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
