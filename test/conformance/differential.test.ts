/**
 * The differential test (bufferutil style: native and JS must agree on random inputs): seeded
 * random sequences of operations, valid and invalid, run on two backends that must give the same
 * observable results: the same bytes read back, the same error codes and arguments, or both
 * succeeding.
 *
 * The sequences are correct programs where data is concerned (every byte a 'write' bracket covers
 * is written, writes go through rows() only, no two holders of one buffer have overlapping brackets
 * open when one of them writes), so every coherency model must give the kernel's bytes. Misuse that
 * the public layer refuses (closed objects, double end, bad regions, modes and names, a bracket
 * while one is open, close inside a bracket) is generated freely.
 *
 * On the host this is a self-check of the emulated models against each other (all four models);
 * in the real-kernel VM (DMABUF_REQUIRE_KERNEL=1) the kernel backend is compared with the coherent
 * and the writeback model instead, which keeps the VM run near 10 s of software CPU.
 */
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaBufError, region, type CpuAccess, type SyncFile } from '../../lib/index.js';
import { emulatedBackend, kernelBackend, type ConformanceBackend } from '../helpers/backends.js';
import { fdTargets, PAGE, runKernel } from '../helpers/env.js';
import { Rng } from '../../lib/backend/emulated/rng.js';

const SEQUENCES = 200;

/** The emulator's own PRNG (mulberry32: tiny, fast, and the same on every machine), with helpers. */
class Prng extends Rng {
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  /** Fill `bytes` with random bytes, four per step. */
  fill(bytes: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= bytes.length; i += 4) {
      const x = this.next();
      bytes[i] = x;
      bytes[i + 1] = x >>> 8;
      bytes[i + 2] = x >>> 16;
      bytes[i + 3] = x >>> 24;
    }
    for (; i < bytes.length; i++) bytes[i] = this.next();
  }
}

const KINDS = {
  create: 3,
  fromFd: 2,
  setName: 2,
  info: 1,
  begin: 6,
  write: 3,
  read: 3,
  end: 5,
  readAll: 3,
  close: 2,
  export: 2,
  import: 2,
  merge: 1,
  syncClose: 1,
  syncWait: 1,
  waitIdle: 1,
  fromFdSync: 1,
} as const;
type Kind = keyof typeof KINDS;
const WEIGHTED: Kind[] = (Object.entries(KINDS) as [Kind, number][]).flatMap(([kind, weight]) => Array<Kind>(weight).fill(kind));

/** One operation: what to do, which holder/sync file (indices taken modulo what exists), and its own seed. */
interface Op {
  readonly kind: Kind;
  readonly a: number;
  readonly b: number;
  readonly seed: number;
}

function sequence(seed: number): Op[] {
  const r = new Prng(seed);
  const length = 10 + r.int(11);
  const ops: Op[] = [{ kind: 'create', a: 0, b: 0, seed: r.next() }];
  const inBracket: Kind[] = ['write', 'read', 'read', 'end', 'end', 'readAll', 'begin'];
  while (ops.length < length) {
    // Brackets are where the data is: after one opens, the next operations mostly use it.
    const previous = ops[ops.length - 1]?.kind;
    const kind = (previous === 'begin' || previous === 'write' || previous === 'read') && r.chance(0.6) ? r.pick(inBracket) : r.pick(WEIGHTED);
    ops.push({ kind, a: r.next(), b: r.next(), seed: r.next() });
  }
  return ops;
}

const NAME_CHARS = ['a', 'b', 'z', 'Q', '0', '9', '-', '_', '.', ':', ' ', 'é', 'ß', '→', '日'];

/** A name: mostly valid (≤ 31 bytes of UTF-8, some with spaces or non-ASCII), sometimes not. */
function randomName(r: Prng): unknown {
  const k = r.int(10);
  if (k === 0) return 'n'.repeat(32 + r.int(4));
  if (k === 1) return r.pick(['nul\0name', 42, null, 'é'.repeat(16)]);
  let name = '';
  const target = r.int(32);
  while (true) {
    const c = r.pick(NAME_CHARS);
    if (Buffer.byteLength(name + c) > target) break;
    name += c;
  }
  return name;
}

const MODES = ['read', 'write', 'readwrite'] as const;
const BAD_MODES = ['rw', 'WRITE', 2, undefined];

function randomMode(r: Prng): unknown {
  return r.chance(0.9) ? r.pick(MODES) : r.pick(BAD_MODES);
}

const SIZES = [1, 100, 4095, 4096, 4097, 8192, 3 * 4096 + 17, 16384, 16384, 65536];
const BAD_SIZES = [0, -4096, 1.5, '4096', Number.NaN];

/** A region inside a buffer of `size` bytes (or, sometimes, one that is not). */
function randomRegion(r: Prng, size: number): unknown {
  const k = r.int(20);
  if (k < 4) return undefined;
  if (k < 9) {
    const offset = r.int(size);
    return region.linear({ offset, length: 1 + r.int(Math.min(size - offset, 8192)) });
  }
  if (k < 13) {
    const bytesPerPixel = r.pick([1, 2, 4]);
    const x = r.int(9);
    const width = 1 + r.int(16);
    const stride = (x + width) * bytesPerPixel + r.int(33);
    const rows = Math.floor(size / stride);
    const height = 1 + r.int(Math.min(16, rows));
    const y = r.int(rows - height + 1);
    const offset = r.int(size - (y + height) * stride + 1);
    return region.rect({ x, y, width, height, stride, bytesPerPixel, offset });
  }
  if (k < 16) {
    const bytesPerPixel = 1 + r.int(4);
    const x = r.int(5);
    const width = 1 + r.int(8);
    const rowPitch = (x + width) * bytesPerPixel + r.int(17);
    const y = r.int(3);
    const height = 1 + r.int(4);
    const slicePitch = (y + height) * rowPitch + r.int(65);
    const z = r.int(3);
    const depth = 1 + r.int(4);
    const offset = r.int(size - (z + depth) * slicePitch + 1);
    return region.box({ x, y, z, width, height, depth, rowPitch, slicePitch, bytesPerPixel, offset });
  }
  // Invalid ones, some refused by the region helpers, some only against this buffer.
  switch (r.int(6)) {
    case 0:
      return region.linear({ offset: 1 + r.int(size), length: size });
    case 1:
      return { kind: 'linear', offset: 0, length: 0 };
    case 2:
      return region.rect({ x: 0, y: Math.floor(size / 64), width: 16, height: 2, stride: 64, bytesPerPixel: 4 });
    case 3:
      return { kind: 'rect', x: 2, y: 0, width: 15, height: 1, stride: 64, bytesPerPixel: 4, offset: 0 };
    case 4:
      return region.box({ x: 0, y: 0, z: 0, width: 1, height: 2, depth: 2, rowPitch: 8, slicePitch: size, bytesPerPixel: 1 });
    default:
      return r.pick([{}, null, 12, { kind: 'circle' }]);
  }
}

/** FNV-1a over the rows: enough to compare the bytes without keeping them. */
function hashRows(rows: Iterable<Uint8Array>): string {
  let h = 0x811c9dc5;
  let n = 0;
  for (const row of rows) {
    for (const byte of row) h = Math.imul(h ^ byte, 0x01000193);
    n += row.length;
  }
  return `${(h >>> 0).toString(16)}/${n}`;
}

interface Holder {
  readonly buf: DmaBuf;
  /** Which buffer this holder is of: holders from fromFd share it. */
  readonly id: number;
  /** The open bracket, if any. */
  access: CpuAccess | undefined;
  /** The last bracket opened, ended or not (for double end and use after end). */
  last: CpuAccess | undefined;
}

function describeError(error: unknown): string {
  if (error instanceof DmaBufError) return `err ${error.code}${error.argument === undefined ? '' : `(${error.argument})`}`;
  // Not a DmaBufError: a bug somewhere; record it so that the comparison shows it.
  return `js ${(error as Error)?.name}: ${(error as Error)?.message}`;
}

/** Run `ops` on `backend`; one line per operation, what anyone could observe. */
async function execute(backend: ConformanceBackend, ops: readonly Op[]): Promise<string[]> {
  const holders: Holder[] = [];
  const syncs: SyncFile[] = [];
  let ids = 0;
  const log: string[] = [];
  /** Another holder of the same buffer has a bracket open that this one would overlap with data-wise. */
  const conflicts = (h: Holder, mode: unknown): boolean =>
    holders.some((o) => o !== h && o.id === h.id && o.access !== undefined && !o.access.ended && (mode !== 'read' || o.access.mode !== 'read'));

  const step = async (op: Op): Promise<string> => {
    const r = new Prng(op.seed);
    // Mostly a holder the operation makes sense on (one with an open bracket for read, write and
    // end; an open one otherwise), sometimes any holder, closed ones included.
    const open = (x: Holder): boolean => (['read', 'write', 'end'].includes(op.kind) ? x.access !== undefined : !x.buf.closed);
    const candidates = op.b % 5 === 0 ? holders : holders.filter(open);
    const pool = candidates.length > 0 ? candidates : holders;
    const h = pool.length > 0 ? pool[op.a % pool.length] : undefined;
    const sync = syncs.length > 0 ? syncs[op.b % syncs.length] : undefined;
    switch (op.kind) {
      case 'create': {
        const udmabuf = r.chance(0.4);
        const size = r.chance(0.9) ? r.pick(SIZES) : r.pick(BAD_SIZES);
        const name = r.chance(0.5) ? undefined : randomName(r);
        const options = name === undefined ? undefined : { name: name as string };
        const buf = udmabuf ? backend.udmabuf(size as number, options) : backend.allocate(size as number, options);
        holders.push({ buf, id: ids++, access: undefined, last: undefined });
        return `ok ${udmabuf ? 'udmabuf' : 'heap'} size=${buf.size} exporter=${buf.exporter} name=${JSON.stringify(buf.name)}`;
      }
      case 'fromFd': {
        if (!h) return 'skip';
        const buf = DmaBuf.fromFd(h.buf.fd);
        holders.push({ buf, id: h.id, access: undefined, last: undefined });
        return `ok size=${buf.size} name=${JSON.stringify(buf.name)}`;
      }
      case 'setName': {
        if (!h) return 'skip';
        h.buf.setName(randomName(r) as string);
        return `ok name=${JSON.stringify(h.buf.name)}`;
      }
      case 'info':
        if (!h) return 'skip';
        return `ok size=${h.buf.size} exporter=${h.buf.exporter} name=${JSON.stringify(h.buf.name)} closed=${h.buf.closed}`;
      case 'begin': {
        if (!h) return 'skip';
        const mode = randomMode(r);
        const asynchronous = r.chance(0.3);
        const reg = randomRegion(r, h.buf.closed ? 4096 : h.buf.size) as Parameters<DmaBuf['beginCpuAccess']>[1];
        if (conflicts(h, mode)) return 'skip (another holder has an overlapping bracket open)';
        const access = asynchronous ? await h.buf.cpuAccess(mode as 'read', reg) : h.buf.beginCpuAccess(mode as 'read', reg);
        h.access = access;
        h.last = access;
        const rows = [...access.rows()];
        // A 'write' bracket writes back every byte of its region: write them all (see the models).
        if (access.mode === 'write') for (const row of rows) r.fill(row);
        return `ok ${access.mode} span=${access.bytes.length} rows=${rows.length}x${rows[0]?.length}`;
      }
      case 'write': {
        const access = h?.access ?? h?.last;
        if (!access || access.mode === 'read') return 'skip';
        const rows = [...access.rows()];
        let written = 0;
        for (const row of rows) {
          if (!r.chance(0.5)) continue;
          const from = r.int(row.length);
          const to = from + 1 + r.int(row.length - from);
          r.fill(row.subarray(from, to));
          written += to - from;
        }
        return `ok ${written}`;
      }
      case 'read': {
        const access = h?.access ?? h?.last;
        if (!access || access.mode === 'write') return 'skip';
        return `ok ${hashRows(access.rows())}`;
      }
      case 'end': {
        if (!h) return 'skip';
        const access = h.access ?? h.last;
        if (!access) return 'skip';
        h.access = undefined;
        access.end();
        return 'ok';
      }
      case 'readAll': {
        if (!h) return 'skip';
        if (conflicts(h, 'read')) return 'skip (another holder is writing)';
        return `ok ${h.buf.withCpuAccess('read', (access) => hashRows([access.bytes]))}`;
      }
      case 'close':
        if (!h) return 'skip';
        h.buf.close();
        return 'ok';
      case 'export': {
        if (!h) return 'skip';
        const s = h.buf.exportSyncFile(randomMode(r) as 'read');
        syncs.push(s);
        return `ok ${s.status} fences=${s.info().fences.length}`;
      }
      case 'import':
        if (!h || !sync) return 'skip';
        h.buf.importSyncFile(sync, r.pick(['read', 'write', 'write', 'readwrite']) as 'read');
        return 'ok';
      case 'merge': {
        if (!sync) return 'skip';
        const other = syncs[op.a % syncs.length] as SyncFile;
        const name = r.chance(0.5) ? 'merged' : randomName(r);
        const merged = sync.merge(other, name as string);
        syncs.push(merged);
        return `ok ${merged.status} name=${JSON.stringify(merged.info().name)}`;
      }
      case 'syncClose':
        if (!sync) return 'skip';
        sync.close();
        return 'ok';
      case 'syncWait':
        if (!sync) return 'skip';
        await sync.wait({ timeoutMs: 1000 });
        return `ok ${sync.status}`;
      case 'waitIdle':
        if (!h) return 'skip';
        await h.buf.waitIdle(randomMode(r) as 'read', { timeoutMs: 1000 });
        return 'ok';
      case 'fromFdSync': {
        if (!sync) return 'skip';
        const buf = DmaBuf.fromFd(sync.fd);
        buf.close();
        return 'ok (a sync file imported as a dma-buf!)';
      }
    }
  };

  try {
    for (const [i, op] of ops.entries()) {
      let line: string;
      try {
        line = await step(op);
      } catch (error) {
        line = describeError(error);
      }
      log.push(`${i} ${op.kind}: ${line}`);
    }
  } finally {
    // Correct sequences end cleanly; if one does not, the log comparison has already said why.
    for (const h of holders) {
      try {
        if (h.access && !h.access.ended) h.access.end();
      } finally {
        h.buf.close();
      }
    }
    for (const s of syncs) s.close();
    await backend.settle();
  }
  return log;
}

/** Fails with the first differing operation, the sequence so far, and the seed to replay it. */
function expectSameLog(seed: number, ops: readonly Op[], expected: readonly string[], actual: readonly string[], names: string): void {
  const i = expected.findIndex((line, k) => line !== actual[k]);
  if (i < 0 && expected.length === actual.length) return;
  const at = i < 0 ? Math.min(expected.length, actual.length) : i;
  const context = expected.slice(0, at).join('\n');
  expect(actual[at], `${names}, seed ${seed}, op ${at} ${JSON.stringify(ops[at])}; before it:\n${context}`).toBe(expected[at]);
}

/** Tallies of outcomes per kind, to check that the sequences exercise both success and failure. */
function tally(logs: readonly string[][]): Map<string, { ok: number; err: number; skip: number }> {
  const counts = new Map<string, { ok: number; err: number; skip: number }>();
  for (const log of logs) {
    for (const line of log) {
      const [, kind, outcome] = /^\d+ (\w+): (\w+)/.exec(line) ?? [];
      const c = counts.get(kind as string) ?? { ok: 0, err: 0, skip: 0 };
      if (outcome === 'ok') c.ok++;
      else if (outcome === 'err') c.err++;
      else c.skip++;
      counts.set(kind as string, c);
    }
  }
  return counts;
}

function expectCoverage(logs: readonly string[][]): void {
  const counts = tally(logs);
  if (process.env['DMABUF_DIFF_TALLY']) console.log(counts);
  // fromFdSync must always fail (a sync file is not a dma-buf).
  for (const kind of Object.keys(KINDS).filter((k) => k !== 'fromFdSync')) {
    const c = counts.get(kind);
    expect(c?.ok ?? 0, `${kind} never succeeded`).toBeGreaterThan(0);
  }
  // Misuse is exercised too: errors for these kinds at least.
  for (const kind of ['create', 'setName', 'begin', 'end', 'close', 'export', 'import', 'fromFdSync', 'write', 'read']) {
    expect(counts.get(kind)?.err ?? 0, `${kind} never failed`).toBeGreaterThan(0);
  }
  const all = logs.flat();
  expect(all.filter((line) => /ERR_DMABUF_CLOSED/.test(line)).length).toBeGreaterThan(0);
  expect(all.filter((line) => /ERR_DMABUF_NOT_IN_BRACKET/.test(line)).length).toBeGreaterThan(0);
  expect(all.filter((line) => /ERR_DMABUF_BRACKET_ACTIVE/.test(line)).length).toBeGreaterThan(0);
  expect(all.filter((line) => /ERR_DMABUF_CLOSE_IN_BRACKET/.test(line)).length).toBeGreaterThan(0);
  expect(all.filter((line) => /^\d+ (read|readAll): ok/.test(line)).length).toBeGreaterThan(SEQUENCES / 2);
  expect(
    all.some((line) => /^\d+ \w+: js /.test(line)),
    'a non-DmaBufError was thrown',
  ).toBe(false);
  expect(counts.get('fromFdSync')?.ok ?? 0).toBe(0);
}

const seeds = Array.from({ length: SEQUENCES }, (_, i) => 0x5eed0000 + i);

describe('differential: emulated models agree with each other on correct programs', () => {
  it(`${SEQUENCES} random sequences: coherent, writeback, bounce and tiled give the same bytes and the same errors`, async () => {
    const logs: string[][] = [];
    for (const seed of seeds) {
      const ops = sequence(seed);
      const reference = await execute(emulatedBackend('coherent', seed), ops);
      logs.push(reference);
      for (const coherency of ['writeback', 'bounce', 'tiled'] as const) {
        const other = await execute(emulatedBackend(coherency, seed), ops);
        expectSameLog(seed, ops, reference, other, `coherent vs ${coherency}`);
      }
    }
    expectCoverage(logs);
  });

  it('the sequences are reproducible: the same seed gives the same log', async () => {
    const ops = sequence(seeds[7] as number);
    expect(await execute(emulatedBackend('writeback', 3), ops)).toEqual(await execute(emulatedBackend('writeback', 3), ops));
  });
});

describe.runIf(runKernel)('differential: kernel vs emulated (needs the kernel: a dma-heap or udmabuf, and udmabuf)', () => {
  it(`${SEQUENCES} random sequences: the kernel, the coherent and the writeback model give the same bytes and the same errors`, async () => {
    const fdsBefore = fdTargets();
    const logs: string[][] = [];
    const kernel = kernelBackend();
    for (const seed of seeds) {
      const ops = sequence(seed);
      const reference = await execute(kernel, ops);
      logs.push(reference);
      for (const coherency of ['coherent', 'writeback'] as const) {
        const other = await execute(emulatedBackend(coherency, seed, { heaps: kernel.heaps, pageSize: PAGE as 4096 | 16384 | 65536 }), ops);
        expectSameLog(seed, ops, reference, other, `kernel vs ${coherency}`);
      }
    }
    expectCoverage(logs);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fdTargets()).toEqual(fdsBefore);
  });
});
