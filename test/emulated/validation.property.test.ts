// Property: every public call given arbitrary arguments either succeeds or throws (rejects with) a
// DmaBufError whose code is documented (an errno name, ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, or a MisuseCode),
// never a TypeError, RangeError or anything else.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AbortError, DmaBuf, DmaBufError, DmaHeap, emulation, Frame, Memfd, MisuseCode, region, SyncFile, Udmabuf } from '../../lib/index.js';

const documented = new Set<string>(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', ...Object.values(MisuseCode)]);
const isDocumented = (code: string): boolean => documented.has(code) || /^E[A-Z0-9]+$/.test(code);

/** Values a caller might pass by mistake, and some valid ones so calls get past the first check. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, -1, 0, -0, 1, 0.5, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, Number.MAX_SAFE_INTEGER, 4096, 65536),
  fc.constantFrom('', 'system', 'cma', 'read', 'write', 'readwrite', 'XR24', 'NV12', '\0', 'a/b', '..', 'x'.repeat(40), 'ünïcödé'),
  fc.constantFrom(true, false, 10n, -1n, Symbol('s'), () => 1, [], {}, new Uint8Array(4), new ArrayBuffer(8), new Date(0)),
  fc.integer({ min: -5, max: 70_000 }),
  fc.string({ maxLength: 12 }),
  fc.record({ name: fc.string({ maxLength: 4 }), timeoutMs: fc.integer({ min: -2, max: 5 }), checked: fc.boolean() }, { requiredKeys: [] }),
  fc.record(
    {
      kind: fc.constantFrom('linear', 'rect', 'box'),
      offset: fc.integer({ min: -2, max: 9000 }),
      length: fc.integer({ min: -2, max: 9000 }),
      width: fc.integer({ min: -1, max: 70 }),
      height: fc.integer({ min: -1, max: 70 }),
      stride: fc.integer({ min: -1, max: 300 }),
      bytesPerPixel: fc.integer({ min: 0, max: 5 }),
    },
    { requiredKeys: [] },
  ),
  fc.array(fc.integer({ min: -1, max: 5000 }), { maxLength: 3 }),
);
const args = fc.array(value, { maxLength: 4 });

function dispose(result: unknown): void {
  for (const v of [result].flat()) {
    if (v === null || typeof v !== 'object') continue;
    const o = v as { end?: () => void; ended?: boolean; close?: () => void; frame?: unknown };
    try {
      if (typeof o.end === 'function' && o.ended === false) o.end();
    } catch {
      // A violation reported at end(): the bracket ended all the same.
    }
    if (typeof o.close === 'function') o.close();
  }
}

/** The outcome of one call: 'ok', or the code of the documented error; anything else fails. */
async function outcome(call: () => unknown): Promise<string> {
  let result: unknown;
  try {
    result = call();
    if (result instanceof Promise) result = await result;
  } catch (error) {
    if (error instanceof AbortError) return 'AbortError';
    if (!(error instanceof DmaBufError)) throw new Error(`not a DmaBufError: ${String(error)}`, { cause: error });
    expect(isDocumented(error.code), error.code).toBe(true);
    return error.code;
  }
  dispose(result);
  return 'ok';
}

describe('every public call, with arbitrary arguments', () => {
  const emu = emulation.create({ coherency: 'writeback' });
  const heap = emu.heap();
  const buf = heap.allocate(8192, { name: 'target' });
  const sync = buf.exportSyncFile('read');

  const calls: [string, (a: unknown[]) => unknown][] = [
    ['DmaHeap.open', (a) => DmaHeap.open(...(a as [string]))],
    ['DmaHeap.list', (a) => DmaHeap.list(...(a as [{ details: true }]))],
    ['emulation.create', (a) => emulation.create(...(a as [object]))],
    ['emu.heap', (a) => emu.heap(...(a as [string]))],
    ['emu.udmabuf', (a) => emu.udmabuf(...(a as [number]))],
    ['emu.device', (a) => emu.device(...(a as [string]))],
    ['heap.allocate', (a) => heap.allocate(...(a as [number]))],
    ['Udmabuf.create', (a) => Udmabuf.create(...(a as [number]))],
    ['Udmabuf.fromSegments', (a) => Udmabuf.fromSegments(...(a as [never[]]))],
    ['DmaBuf.fromFd', (a) => DmaBuf.fromFd(...(a as [number]))],
    ['SyncFile.fromFd', (a) => SyncFile.fromFd(...(a as [number]))],
    ['Memfd.create', (a) => Memfd.create(...(a as [number]))],
    ['region.linear', (a) => region.linear(...(a as [never]))],
    ['region.rect', (a) => region.rect(...(a as [never]))],
    ['region.box', (a) => region.box(...(a as [never]))],
    ['buf.beginCpuAccess', (a) => buf.beginCpuAccess(...(a as ['read']))],
    ['buf.cpuAccess', (a) => buf.cpuAccess(...(a as ['read']))],
    ['buf.withCpuAccess', (a) => buf.withCpuAccess(...(a as ['read', () => void]))],
    ['buf.setName', (a) => buf.setName(...(a as [string]))],
    ['buf.exportSyncFile', (a) => buf.exportSyncFile(...(a as ['read']))],
    ['buf.importSyncFile', (a) => buf.importSyncFile(...(a as [SyncFile, 'read']))],
    ['sync.wait', (a) => sync.wait(...(a as [object]))],
    ['sync.merge', (a) => sync.merge(...(a as [SyncFile]))],
    ['sync.setDeadline', (a) => sync.setDeadline(...(a as [number]))],
    ['Frame.allocate', (a) => Frame.allocate(...(a as [DmaHeap, never]))],
    ['Frame.fromPlanes', (a) => Frame.fromPlanes(...(a as [never]))],
    ['Frame.fromElectron', (a) => Frame.fromElectron(...(a as [never]))],
    ['Frame.fromMessage', (a) => Frame.fromMessage(...(a as [never]))],
  ];

  for (const [name, call] of calls) {
    it(`${name}: a DmaBufError with a documented code, or success`, async () => {
      await fc.assert(
        fc.asyncProperty(args, async (a) => {
          await outcome(() => call(a));
          // Whatever happened, the shared buffer is free for the next call.
          expect(buf.withCpuAccess('read', () => 'free')).toBe('free');
        }),
        { numRuns: 150, seed: 0x5eed },
      );
    });
  }

  it('with the target buffer and heap passed where objects are expected, the calls still only throw DmaBufErrors', async () => {
    const things = fc.constantFrom<unknown>(buf, heap, sync, emu, region.linear({ offset: 0, length: 16 }), 'read', 16, { offset: 0, length: 16 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...calls), fc.array(fc.oneof(things, value), { maxLength: 3 }), async ([, call], a) => {
        await outcome(() => call(a));
      }),
      { numRuns: 400, seed: 0x5eed },
    );
  });
});
