/** Shared helpers for the native addon tests: the loaded addon, and views of /proc/self. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { loadAddon } from '../../lib/native/load.js';
import type { NativeAddon } from '../../lib/native/addon.js';

export const isLinux = process.platform === 'linux';

/** The addon; on Linux a missing or broken build is a failure, not a skip. */
export function addon(): NativeAddon {
  const result = loadAddon();
  if (!result.ok) throw new Error(result.reason);
  return result.addon;
}

export function openFds(): number[] {
  return readdirSync('/proc/self/fd').map(Number);
}

/** How many of this process's fds point at `target` (robust against the test runner's own fds). */
export function fdsPointingAt(target: string): number {
  return openFds().filter((fd) => fdTarget(fd) === target).length;
}

export function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Lines of /proc/self/maps that map the memfd called `name`. */
export function mapsOf(name: string): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`/memfd:${name} `));
}

/** fdinfo "flags:" (octal open flags of the file description). */
export function statusFlags(fd: number): number {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s+([0-7]+)/m.exec(text);
  if (!match) throw new Error(`no flags in fdinfo of ${fd}`);
  return parseInt(match[1]!, 8);
}

let fifoCount = 0;
/** A FIFO path; opened O_RDWR it is a pipe whose both ends are one fd (Node has no pipe()). */
export function makeFifo(): string {
  // The random part: a module instance per test file restarts the count, and paths outlive files.
  const path = join(tmpdir(), `dmabuf-native-${process.pid}-${fifoCount++}-${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [path]);
  return path;
}

/** Explicit GC without --expose-gc on the command line. */
export const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Collect garbage and let deferred finalizers (they run from SetImmediate) run. */
export async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface ErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** Run fn, require an errno error with that code and syscall, and return it. */
export function expectErrno(fn: () => unknown, code: string, syscall: string): ErrnoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof Error)) throw new Error(`expected ${code} from ${syscall}, nothing was thrown`);
  const error = caught as Error & { code?: string; syscall?: string; errno?: number };
  if (error.code !== code || error.syscall !== syscall) {
    throw new Error(`expected ${code}/${syscall}, got ${error.code}/${error.syscall}: ${error.message}`);
  }
  return error as ErrnoError;
}
