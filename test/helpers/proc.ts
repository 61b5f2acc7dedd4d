/**
 * Views of /proc/self: this process's fds and mappings, for leak checks and their messages. A leak
 * check counts what the test made (fdSnapshot/fdsMadeSince, mappingsMadeSince), never the
 * process's totals: the test runner's own fds come and go, and a finalizer may close an earlier
 * test's dropped object at any time.
 */
import { fstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Open fds of this process, by number, ascending. */
export function openFdList(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The fds open now, each with the file it names (`dev:ino` from fstat), to compare later with
 * fdsMadeSince(): a test counts the fds it made, not the process's. Counting the process's fds is
 * not safe: an object an earlier test (or file, in the VMs' one-process run) dropped without
 * close() may be finalized during this test and close an fd that was open before it.
 */
export function fdSnapshot(): Map<number, string> {
  const snapshot = new Map<number, string>();
  for (const fd of openFdList()) {
    const id = fileId(fd);
    if (id !== undefined) snapshot.set(fd, id);
  }
  return snapshot;
}

/**
 * The fds open now that were not open at `snapshot`, or were but name another file now (a number
 * closed and reused): what the test made and left open, as `7 → /dmabuf:name` (for messages).
 * Empty when nothing leaked.
 */
export function fdsMadeSince(snapshot: ReadonlyMap<number, string>): string[] {
  return openFdList()
    .filter((fd) => {
      const id = fileId(fd);
      return id !== undefined && snapshot.get(fd) !== id;
    })
    .map((fd) => `${fd} → ${fdTarget(fd) ?? '?'}`);
}

/** `dev:ino` of the file `fd` names, or undefined when it is not open. */
export function fileId(fd: number): string | undefined {
  try {
    const st = fstatSync(fd);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** How many fds this process has open. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What `fd` points at (its /proc/self/fd link), or undefined when it is not open. */
export function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Every open fd with its target, as `3 → /dev/null` (for readable leak messages). */
export function openFdTargets(): string[] {
  return openFdList().map((fd) => `${fd} → ${fdTarget(fd) ?? '?'}`);
}

/** How many of this process's fds point at `target` (robust against the test runner's own fds). */
export function fdsPointingAt(target: string): number {
  return openFdList().filter((fd) => fdTarget(fd) === target).length;
}

/** Count of dma-buf fds (their /proc/self/fd link is /dmabuf:<name> or anon_inode:dmabuf). */
export function dmaBufFdCount(): number {
  return openFdTargets().filter((t) => /dmabuf/.test(t)).length;
}

/** Mappings of dma-bufs, memfds and udmabufs in /proc/self/maps. */
export function dmaBufMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => /\/dmabuf:|memfd:/.test(line));
}

/**
 * The dma-buf, memfd and udmabuf mappings a test made and left since `before` (a dmaBufMappings()
 * list): lines there now that were not there then. Like fdsMadeSince, it ignores mappings an
 * earlier test's dropped buffer loses to a finalizer meanwhile.
 */
export function mappingsMadeSince(before: readonly string[]): string[] {
  const old = new Set(before);
  return dmaBufMappings().filter((line) => !old.has(line));
}

/** Lines of /proc/self/maps that map the memfd called `name`. */
export function memfdMappings(name: string): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`/memfd:${name} `));
}

/** /proc/self/fdinfo/<fd> as key/value pairs. */
export function fdinfo(fd: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** fdinfo "flags:" (octal open flags of the file description). */
export function statusFlags(fd: number): number {
  const flags = fdinfo(fd)['flags'];
  if (flags === undefined || !/^[0-7]+$/.test(flags)) throw new Error(`no flags in fdinfo of ${fd}`);
  return parseInt(flags, 8);
}
