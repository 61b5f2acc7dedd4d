/** Arguments checked before any work, with the same codes and arguments on every backend. */
import { describe, expect, it } from 'vitest';
import { region, type SyncFile, type Region } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { rejection, thrown } from '../../helpers/errors.js';
import { shape } from './shared.js';

export function validation(b: ConformanceBackend): void {
  describe('validation before any work, with the same codes and arguments', () => {
    const size = 4 * 4096;
    const regions: [string, () => unknown, string, string][] = [
      ['past the end', () => region.linear({ offset: size - 1, length: 2 }), 'EINVAL', 'region'],
      ['offset at the end', () => region.linear({ offset: size, length: 1 }), 'EINVAL', 'region'],
      ['plain linear with length 0', () => ({ kind: 'linear', offset: 0, length: 0 }), 'EINVAL', 'length'],
      ['plain linear with a fractional offset', () => ({ kind: 'linear', offset: 0.5, length: 1 }), 'EINVAL', 'offset'],
      ['plain linear past 2^53', () => ({ kind: 'linear', offset: 2 ** 53, length: 1 }), 'EINVAL', 'offset'],
      ['plain linear with a string length', () => ({ kind: 'linear', offset: 0, length: '1' }), 'ERR_INVALID_ARG_TYPE', 'length'],
      ['rect past the end', () => region.rect({ x: 0, y: 60, width: 16, height: 5, stride: 256, bytesPerPixel: 4 }), 'EINVAL', 'region'],
      [
        'plain rect with stride < row',
        () => ({ kind: 'rect', x: 4, y: 0, width: 61, height: 1, stride: 256, bytesPerPixel: 4, offset: 0 }),
        'EINVAL',
        'stride',
      ],
      ['rect with a huge y', () => region.rect({ x: 0, y: 2 ** 52, width: 1, height: 1, stride: 4096, bytesPerPixel: 1 }), 'EINVAL', 'y'],
      [
        'box past the end',
        () => region.box({ x: 0, y: 0, z: 3, width: 1, height: 1, depth: 2, rowPitch: 64, slicePitch: 4096, bytesPerPixel: 1 }),
        'EINVAL',
        'region',
      ],
      [
        'plain box with slicePitch < rows',
        () => ({ kind: 'box', x: 0, y: 0, z: 0, width: 1, height: 65, depth: 1, rowPitch: 64, slicePitch: 4096, bytesPerPixel: 1, offset: 0 }),
        'EINVAL',
        'slicePitch',
      ],
      ['an object that is not a region', () => ({ offset: 0, length: 1 }), 'ERR_INVALID_ARG_TYPE', 'region'],
      ['null', () => null, 'ERR_INVALID_ARG_TYPE', 'region'],
      ['a number', () => 5, 'ERR_INVALID_ARG_TYPE', 'region'],
    ];

    it.each(regions)('a bad region (%s) is refused by every form of START, and no bracket is left open', async (_what, make, code, argument) => {
      using buf = b.allocate(size);
      const r = make() as Region;
      expect(shape(thrown(() => buf.beginCpuAccess('read', r)))).toEqual({ code, argument });
      expect(shape(thrown(() => buf.withCpuAccess('write', r, () => 0)))).toEqual({ code, argument });
      expect(shape(await rejection(buf.cpuAccess('readwrite', r)))).toEqual({ code, argument });
      buf.beginCpuAccess('write').end();
      buf.close();
    });

    it('region helpers refuse bad shapes at construction', () => {
      const cases: [() => unknown, string, string][] = [
        [() => region.linear({ offset: 0, length: 0 }), 'EINVAL', 'length'],
        [() => region.linear({ offset: -1, length: 1 }), 'EINVAL', 'offset'],
        [() => region.rect({ x: 1, y: 0, width: 4, height: 1, stride: 4, bytesPerPixel: 1 }), 'EINVAL', 'stride'],
        [() => region.rect({ x: 0, y: 0, width: 1, height: 0, stride: 4, bytesPerPixel: 1 }), 'EINVAL', 'height'],
        [() => region.box({ x: 0, y: 1, z: 0, width: 1, height: 4, depth: 1, rowPitch: 4, slicePitch: 16, bytesPerPixel: 1 }), 'EINVAL', 'slicePitch'],
        [() => region.linear(null as never), 'ERR_INVALID_ARG_TYPE', 'region.linear'],
      ];
      for (const [make, code, argument] of cases) expect(shape(thrown(make))).toEqual({ code, argument });
    });

    it('bad modes are refused with the same codes by every call that takes one', async () => {
      using buf = b.allocate(4096);
      using other = b.allocate(4096);
      using sync = other.exportSyncFile('read');
      for (const [mode, code] of [
        ['rw', 'EINVAL'],
        ['READ', 'EINVAL'],
        ['', 'EINVAL'],
        [1, 'ERR_INVALID_ARG_TYPE'],
        [undefined, 'ERR_INVALID_ARG_TYPE'],
      ] as const) {
        const m = mode as 'read';
        const want = { code, argument: 'mode' };
        expect(shape(thrown(() => buf.beginCpuAccess(m))), `begin ${String(mode)}`).toEqual(want);
        expect(shape(thrown(() => buf.withCpuAccess(m, () => 0)))).toEqual(want);
        expect(shape(thrown(() => buf.exportSyncFile(m)))).toEqual(want);
        expect(shape(thrown(() => buf.importSyncFile(sync, m)))).toEqual(want);
        expect(shape(await rejection(buf.cpuAccess(m)))).toEqual(want);
        expect(shape(await rejection(buf.waitIdle(m)))).toEqual(want);
      }
      // 'readwrite' is accepted, as the kernel accepts READ|WRITE (a write fence: see the fences tests).
      buf.importSyncFile(sync, 'readwrite');
      expect(shape(thrown(() => buf.importSyncFile({} as SyncFile, 'read')))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', argument: 'syncFile' });
      buf.beginCpuAccess('readwrite').end();
    });

    it('bad wait options are refused before waiting', async () => {
      using buf = b.allocate(4096);
      using sync = buf.exportSyncFile('write');
      const cases: [unknown, string, string][] = [
        [{ timeoutMs: -1 }, 'EINVAL', 'timeoutMs'],
        [{ timeoutMs: Number.NaN }, 'EINVAL', 'timeoutMs'],
        [{ timeoutMs: '5' }, 'ERR_INVALID_ARG_TYPE', 'timeoutMs'],
        [{ signal: {} }, 'ERR_INVALID_ARG_TYPE', 'signal'],
        [7, 'ERR_INVALID_ARG_TYPE', 'options'],
      ];
      for (const [options, code, argument] of cases) {
        const o = options as { timeoutMs: number };
        const want = { code, argument };
        expect(shape(await rejection(buf.waitIdle('read', o))), JSON.stringify(options)).toEqual(want);
        expect(shape(await rejection(buf.cpuAccess('read', undefined, o)))).toEqual(want);
        if (argument !== 'signal') expect(shape(thrown(() => buf.beginCpuAccess('read', undefined, o)))).toEqual(want);
        expect(shape(await rejection(sync.wait(o)))).toEqual(want);
      }
      buf.beginCpuAccess('read', undefined, { timeoutMs: 0 }).end();
    });
  });
}
