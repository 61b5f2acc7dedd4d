/**
 * `dmabuf ls`: who holds which dma-buf, from /proc as Android's dmabuf_dump reads it
 * (Android's libmeminfo, libdmabufinfo/tools/dmabuf_dump.cpp; fs/proc and drivers/dma-buf/dma-buf.c):
 * - /proc/<pid>/fd/<n> links to '/dmabuf:<name>' (older kernels: 'anon_inode:dmabuf'); stat()
 *   through the link gives the buffer's inode, the same in every process that holds it;
 * - /proc/<pid>/fdinfo/<n> has `size:`, `exp_name:` and `name:` for a dma-buf;
 * - /proc/<pid>/maps lists each mapping with the buffer's inode and '/dmabuf:<name>' as its path.
 * Another user's fd and maps files are unreadable without privilege: those processes are counted,
 * not guessed at.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { parseFdinfo } from '../backend/kernel/fdinfo.js';
import { DmaBufError } from '../common/errors.js';

export interface BufferEntry {
  readonly inode: number;
  /** Bytes (fdinfo `size`; for a buffer only mapped, the largest mapping's end). */
  readonly size: number;
  /** fdinfo `exp_name` ('system', 'udmabuf', 'drm', …); '?' when no readable process holds an fd. */
  readonly exporter: string;
  readonly name: string;
  /** Processes holding it by fd or by mapping, in pid order. */
  readonly holders: readonly number[];
  /** How many fds refer to it, over all readable processes. */
  readonly fds: number;
  /** Processes that have it mapped. */
  readonly mappedBy: readonly number[];
}

export interface ProcessEntry {
  readonly pid: number;
  readonly command: string;
  /** Distinct buffers it holds (fd or mapping). */
  readonly buffers: number;
  /** Their total size. */
  readonly size: number;
  /** Bytes of its address space mapping dma-bufs. */
  readonly mappedSize: number;
  /** Proportional share: each buffer's size divided by the number of processes holding it. */
  readonly pss: number;
}

export interface ExporterEntry {
  readonly exporter: string;
  readonly buffers: number;
  readonly size: number;
}

export interface HoldersReport {
  readonly processes: readonly ProcessEntry[];
  readonly buffers: readonly BufferEntry[];
  readonly exporters: readonly ExporterEntry[];
  readonly total: { readonly buffers: number; readonly size: number };
  /** Processes whose fds or maps this user could not read (another user's, without privilege). */
  readonly unreadable: number;
}

interface Seen {
  inode: number;
  size: number;
  exporter: string;
  name: string;
  fds: number;
  holders: Set<number>;
  mappedBy: Set<number>;
}

function isDmaBufLink(target: string): boolean {
  return target.startsWith('/dmabuf:') || target === 'anon_inode:dmabuf';
}

function command(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** One process's dma-buf fds and mappings, into `seen`; false if its fd table could not be read. */
function scan(pid: number, seen: Map<number, Seen>, mapped: Map<number, number>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (error) {
    // A process that exited meanwhile is simply gone; anything else (EACCES) is unreadable.
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  const entry = (inode: number): Seen => {
    let s = seen.get(inode);
    if (!s) {
      s = { inode, size: 0, exporter: '?', name: '', fds: 0, holders: new Set(), mappedBy: new Set() };
      seen.set(inode, s);
    }
    return s;
  };
  for (const fd of fds) {
    try {
      if (!isDmaBufLink(readlinkSync(`/proc/${pid}/fd/${fd}`))) continue;
      const inode = statSync(`/proc/${pid}/fd/${fd}`).ino;
      const info = parseFdinfo(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      const s = entry(inode);
      s.size = Math.max(s.size, Number(info.get('size') ?? 0));
      s.exporter = info.get('exp_name') ?? s.exporter;
      s.name = info.get('name') ?? s.name;
      s.fds += 1;
      s.holders.add(pid);
    } catch {
      // The fd was closed between readdir and here: nothing to count.
    }
  }
  let maps = '';
  try {
    maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return true;
  }
  let mappedSize = 0;
  for (const line of maps.split('\n')) {
    // start-end perms offset dev inode path
    const fields = line.split(/\s+/);
    const path = fields[5];
    if (!path?.startsWith('/dmabuf:')) continue;
    const [start, end] = (fields[0] ?? '').split('-').map((h) => Number.parseInt(h, 16)) as [number, number];
    const offset = Number.parseInt(fields[2] ?? '0', 16);
    const s = entry(Number(fields[4]));
    if (s.name === '' && path.length > '/dmabuf:'.length) s.name = path.slice('/dmabuf:'.length);
    s.size = Math.max(s.size, offset + (end - start));
    s.holders.add(pid);
    s.mappedBy.add(pid);
    mappedSize += end - start;
  }
  if (mappedSize > 0) mapped.set(pid, mappedSize);
  return true;
}

/**
 * Every readable process's dma-bufs, or only `pid`'s: every process is read either way, because a
 * buffer's PSS share depends on how many processes hold it.
 */
export function listHolders(pid?: number): HoldersReport {
  const pids = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const seen = new Map<number, Seen>();
  const mapped = new Map<number, number>();
  if (pid !== undefined && !pids.includes(pid)) throw new DmaBufError('ESRCH', `no process ${pid} (it may have exited)`, { syscall: 'open' });
  let unreadable = 0;
  for (const p of pids) {
    if (scan(p, seen, mapped)) continue;
    unreadable += 1;
    if (p === pid) throw new DmaBufError('EACCES', `cannot read /proc/${pid}/fd: process ${pid} belongs to another user (run as root)`, { syscall: 'open' });
  }

  const buffers: BufferEntry[] = [...seen.values()]
    .filter((s) => pid === undefined || s.holders.has(pid))
    .sort((a, b) => a.inode - b.inode)
    .map((s) => ({
      inode: s.inode,
      size: s.size,
      exporter: s.exporter,
      name: s.name,
      holders: [...s.holders].sort((a, b) => a - b),
      fds: s.fds,
      mappedBy: [...s.mappedBy].sort((a, b) => a - b),
    }));
  const byPid = new Map<number, { buffers: number; size: number; pss: number }>();
  for (const b of buffers) {
    for (const holder of b.holders) {
      if (pid !== undefined && holder !== pid) continue;
      const p = byPid.get(holder) ?? { buffers: 0, size: 0, pss: 0 };
      p.buffers += 1;
      p.size += b.size;
      p.pss += b.size / b.holders.length;
      byPid.set(holder, p);
    }
  }
  const processes: ProcessEntry[] = [...byPid.entries()]
    .sort(([a], [b]) => a - b)
    .map(([p, t]) => ({ pid: p, command: command(p), buffers: t.buffers, size: t.size, mappedSize: mapped.get(p) ?? 0, pss: Math.round(t.pss) }));
  const byExporter = new Map<string, ExporterEntry>();
  for (const b of buffers) {
    const e = byExporter.get(b.exporter) ?? { exporter: b.exporter, buffers: 0, size: 0 };
    byExporter.set(b.exporter, { exporter: b.exporter, buffers: e.buffers + 1, size: e.size + b.size });
  }
  const exporters = [...byExporter.values()].sort((a, b) => b.size - a.size || a.exporter.localeCompare(b.exporter));
  return {
    processes,
    buffers,
    exporters,
    total: { buffers: buffers.length, size: buffers.reduce((sum, b) => sum + b.size, 0) },
    unreadable,
  };
}
