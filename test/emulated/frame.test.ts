// Frames on the emulated backend: the DRM format table, plane layout, validation before any
// work, brackets over every buffer. Electron's shapes are in frame-electron.test.ts, the pool in
// frame-pool.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DRM_FORMAT_MOD_LINEAR, DRM_FORMATS, DmaBufError, EMULATED_TILED_MODIFIER, emulation, Frame, type DmaBuf } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';

const emu = () => emulation.create({ coherency: 'writeback', seed: 7 });

describe('DRM formats', () => {
  it("fourcc codes are drm_fourcc.h's", () => {
    expect(DRM_FORMATS['XRGB8888']?.code).toBe(0x34325258);
    expect(DRM_FORMATS['ARGB8888']?.code).toBe(0x34325241);
    expect(DRM_FORMATS['NV12']?.code).toBe(0x3231564e);
    expect(DRM_FORMATS['P010']?.code).toBe(0x30313050);
    expect(DRM_FORMATS['YUV420']?.code).toBe(0x32315559);
    expect(DRM_FORMATS['R8']?.code).toBe(0x20203852);
    for (const name of ['XRGB8888', 'ARGB8888', 'XBGR8888', 'ABGR8888', 'RGB565', 'R8', 'GR88', 'NV12', 'NV21', 'NV16', 'P010', 'YUYV', 'YUV420']) {
      expect(DRM_FORMATS[name], name).toBeDefined();
    }
  });
});

describe('Frame on the emulated backend', () => {
  it('allocate NV12: two planes in one buffer, aligned strides, chroma at half size; describe() lists them', () => {
    using heap = emu().heap();
    using frame = Frame.allocate(heap, { width: 1600, height: 1200, format: 'NV12' });
    const d = frame.describe();
    expect(d).toMatchObject({ width: 1600, height: 1200, format: 0x3231564e, formatName: 'NV12', modifier: 0n });
    expect(d.planes).toEqual([
      { fd: frame.planes[0]!.buffer.fd, offset: 0, stride: 1600, size: 1600 * 1200 },
      { fd: frame.planes[0]!.buffer.fd, offset: 1600 * 1200, stride: 1600, size: 1600 * 600 },
    ]);
    expect(frame.planes[0]!.buffer).toBe(frame.planes[1]!.buffer);
  });

  it("the mission's case as NV12: a 10×10 update of a 1600×1200 frame, plane by plane, read back through a second import", () => {
    using heap = emu().heap();
    using frame = Frame.allocate(heap, { width: 1600, height: 1200, format: 'NV12' });
    // 'readwrite': the update touches part of the frame ('write' promises to overwrite all of it,
    // and the writeback model makes a program that breaks that promise see poison).
    frame.withCpuAccess('readwrite', (a) => {
      const y = a.plane(0);
      const uv = a.plane(1);
      expect(y.rowBytes).toBe(1600);
      expect(uv.rowBytes).toBe(1600);
      for (const row of [...y.rows()].slice(80, 90)) row.fill(235, 100, 110);
      for (const row of [...uv.rows()].slice(40, 45)) row.fill(128, 100, 110);
    });
    // A second holder of the same buffer, as another process would import it from describe().
    using again = Frame.fromPlanes({ ...frame.describe(), format: 'NV12', modifier: 0n });
    again.withCpuAccess('read', (a) => {
      const rows = [...a.plane(0).rows()];
      expect(rows[85]![105]).toBe(235);
      expect(rows[85]![99]).toBe(0);
      expect([...a.plane(1).rows()][42]![100]).toBe(128);
    });
  });

  it.each(['coherent', 'writeback', 'bounce', 'tiled'] as const)('works on the %s model (asking for a linear layout)', (coherency) => {
    using heap = emulation.create({ coherency, seed: 3 }).heap();
    using frame = Frame.allocate(heap, { width: 96, height: 64, format: 'NV12', modifier: DRM_FORMAT_MOD_LINEAR });
    frame.withCpuAccess('readwrite', (a) => {
      [...a.plane(0).rows()][10]!.fill(9, 5, 15);
      [...a.plane(1).rows()][5]!.fill(7, 4, 8);
    });
    using again = Frame.fromPlanes({ ...frame.describe(), modifier: 0n });
    again.withCpuAccess('read', (a) => {
      expect([...a.plane(0).rows()][10]![6]).toBe(9);
      expect([...a.plane(1).rows()][5]![5]).toBe(7);
    });
  });

  it('on the tiled model a frame is what the device holds: tiled unless linear is asked for, and the CPU is refused', () => {
    using heap = emulation.create({ coherency: 'tiled' }).heap();
    using tiled = Frame.allocate(heap, { width: 64, height: 64, format: 'XRGB8888' });
    expect(tiled.modifier).toBe(EMULATED_TILED_MODIFIER);
    expect(thrown(() => tiled.beginCpuAccess('read'))).toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'modifier' });
    using linear = Frame.allocate(heap, { width: 64, height: 64, format: 'XRGB8888', modifier: DRM_FORMAT_MOD_LINEAR });
    linear.withCpuAccess('write', (a) => a.plane(0).bytes.fill(1));
    // Elsewhere the default is linear; a vendor layout cannot be allocated here.
    using plain = emulation.create({ coherency: 'bounce' }).heap();
    using frame = Frame.allocate(plain, { width: 8, height: 8, format: 'R8' });
    expect(frame.modifier).toBe(0n);
    expect(thrown(() => Frame.allocate(plain, { width: 8, height: 8, format: 'R8', modifier: 1n << 56n }))).toMatchObject({
      code: 'EINVAL',
      argument: 'modifier',
    });
  });

  it('a frame whose planes share one fd brackets that buffer once; separate buffers once each', async () => {
    const e = emu();
    using heap = e.heap();
    using shared = heap.allocate(64 * 64 * 2);
    using frame = Frame.fromPlanes({
      width: 64,
      height: 64,
      format: 'NV12',
      modifier: 0n,
      planes: [
        { fd: shared.fd, offset: 0, stride: 64 },
        { fd: shared.fd, offset: 64 * 64, stride: 64 },
      ],
    });
    expect(frame.planes[0]!.buffer).toBe(frame.planes[1]!.buffer); // one holder for the one buffer
    const before = e.stats().syncedBytes;
    const access = await frame.cpuAccess('read');
    access.end();
    expect(e.stats().syncedBytes - before).toBe(64 * 64 + 64 * 32);
    using a = heap.allocate(64 * 64);
    using b = heap.allocate(64 * 32);
    using twoBuffers = Frame.fromPlanes({
      width: 64,
      height: 64,
      format: 'NV12',
      modifier: 0n,
      planes: [
        { buffer: a, offset: 0, stride: 64 },
        { buffer: b, offset: 0, stride: 64 },
      ],
    });
    twoBuffers.withCpuAccess('write', (x) => {
      x.plane(0).bytes.fill(1);
      x.plane(1).bytes.fill(2);
    });
    a.withCpuAccess('read', undefined, (x) => expect(x.bytes[0]).toBe(1));
    b.withCpuAccess('read', undefined, (x) => expect(x.bytes[0]).toBe(2));
    // Buffers passed in are the caller's: closing the frame leaves them open.
    twoBuffers.close();
    expect(a.closed).toBe(false);
  });

  it('START on every buffer before any byte, END for all also when one START fails', () => {
    const e = emu();
    using heap = e.heap();
    using a = heap.allocate(64 * 64);
    using b = heap.allocate(64 * 32);
    using frame = Frame.fromPlanes({
      width: 64,
      height: 64,
      format: 'NV12',
      modifier: 0n,
      planes: [
        { buffer: a, offset: 0, stride: 64 },
        { buffer: b, offset: 0, stride: 64 },
      ],
    });
    using held = b.beginCpuAccess('read'); // b's holder is busy: the frame's second START fails
    expect(thrown(() => frame.beginCpuAccess('write')).code).toBe('ERR_DMABUF_BRACKET_ACTIVE');
    // a's bracket was ended: a is free again.
    a.withCpuAccess('read', undefined, () => undefined);
    held.end();
    const access = frame.beginCpuAccess('readwrite');
    const y = access.plane(0).bytes;
    access.end();
    expect(y.length).toBe(0); // detached
    expect(thrown(() => access.end()).code).toBe('ERR_DMABUF_NOT_IN_BRACKET');
  });

  it('a tiled or driver-defined modifier is refused before any bracket, saying to ask for LINEAR', () => {
    using heap = emu().heap();
    using buf = heap.allocate(4096 * 4);
    const I915_Y_TILED = (1n << 56n) | 2n;
    for (const modifier of [I915_Y_TILED, 0x00ffffffffffffffn, '72057594037927938']) {
      using frame = Frame.fromPlanes({ width: 32, height: 32, format: 'XRGB8888', modifier, planes: [{ buffer: buf, offset: 0, stride: 128 }] });
      const error = thrown(() => frame.beginCpuAccess('read'));
      expect(error).toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'modifier' });
      expect(error.message).toMatch(/DRM_FORMAT_MOD_LINEAR/);
    }
    // Nothing was left open.
    buf.withCpuAccess('read', undefined, () => undefined);
  });

  it('bad descriptions are refused with their codes, and leave nothing behind', () => {
    const e = emu();
    using heap = e.heap();
    using buf = heap.allocate(4096);
    const live = e.stats().liveBuffers;
    const base = { width: 32, height: 32, format: 'NV12', modifier: 0n };
    const cases: [object, string, string][] = [
      [{ ...base, planes: [{ buffer: buf, offset: 0, stride: 32 }] }, 'EINVAL', 'planes'],
      [
        {
          ...base,
          planes: [
            { buffer: buf, offset: 0, stride: 31 },
            { buffer: buf, offset: 1024, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[0].stride',
      ],
      [
        {
          ...base,
          planes: [
            { buffer: buf, offset: 0, stride: 32 },
            { buffer: buf, offset: 4000, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[1]',
      ],
      [
        {
          ...base,
          planes: [
            { buffer: buf, offset: 2 ** 53 - 10, stride: 32 },
            { buffer: buf, offset: 0, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[0].offset',
      ],
      [
        {
          ...base,
          planes: [
            { buffer: buf, offset: -1, stride: 32 },
            { buffer: buf, offset: 0, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[0].offset',
      ],
      [
        {
          ...base,
          planes: [
            { buffer: buf, offset: 0.5, stride: 32 },
            { buffer: buf, offset: 0, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[0].offset',
      ],
      [{ ...base, format: 'XYZW', planes: [] }, 'EINVAL', 'format'],
      [{ ...base, format: 0x12345678, planes: [] }, 'EINVAL', 'format'],
      [{ ...base, width: 0, planes: [] }, 'EINVAL', 'width'],
      [{ ...base, height: -3, planes: [] }, 'EINVAL', 'height'],
      [{ ...base, modifier: 'linear', planes: [] }, 'EINVAL', 'modifier'],
      [{ ...base, modifier: -1n, planes: [] }, 'EINVAL', 'modifier'],
      [
        {
          ...base,
          planes: [
            { fd: 2 ** 30 + 999_999, offset: 0, stride: 32 },
            { fd: buf.fd, offset: 1024, stride: 32 },
          ],
        },
        'EBADF',
        'planes[0].fd',
      ],
      [
        {
          ...base,
          planes: [
            { fd: buf.fd, offset: 0, stride: 32 },
            { fd: buf.fd, offset: 4000, stride: 32 },
          ],
        },
        'EINVAL',
        'planes[1]',
      ],
      [{ ...base, planes: 'nope' }, 'ERR_INVALID_ARG_TYPE', 'planes'],
      [
        {
          ...base,
          planes: [
            { buffer: {}, offset: 0, stride: 32 },
            { buffer: buf, offset: 0, stride: 32 },
          ],
        },
        'ERR_INVALID_ARG_TYPE',
        'planes[0].buffer',
      ],
    ];
    for (const [description, code, argument] of cases) {
      const error = thrown(() => Frame.fromPlanes(description as never));
      expect(
        { code: error.code, argument: error.argument },
        JSON.stringify(description, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).toEqual({ code, argument });
    }
    expect(e.stats().liveBuffers).toBe(live);
    expect(thrown(() => Frame.allocate(heap, { width: 16, height: 16, format: 'NV12', strideAlign: 48 }))).toMatchObject({
      code: 'EINVAL',
      argument: 'strideAlign',
    });
    expect(thrown(() => Frame.allocate({} as never, { width: 16, height: 16, format: 'NV12' }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('property: allocated planes never overlap, always fit their buffer, and strides hold a row', () => {
    const names = Object.keys(DRM_FORMATS);
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(1, 2, 4, 16, 64, 256, 4096),
        (name, width, height, strideAlign) => {
          using heap = emu().heap();
          using frame = Frame.allocate(heap, { width, height, format: name, strideAlign });
          const planes = frame.planes;
          const buffer = planes[0]!.buffer;
          for (const [i, p] of planes.entries()) {
            expect(p.stride % strideAlign).toBe(0);
            expect(p.offset % strideAlign).toBe(0);
            expect(p.offset + p.size).toBeLessThanOrEqual(buffer.size);
            const next = planes[i + 1];
            if (next) expect(p.offset + p.size).toBeLessThanOrEqual(next.offset);
          }
          // Every plane's rows are reachable and hold their bytes.
          frame.withCpuAccess('write', (a) => {
            for (let i = 0; i < planes.length; i++) {
              const rows = [...a.plane(i).rows()];
              for (const row of rows) row.fill(i + 1);
            }
          });
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  });

  it('property: fromPlanes agrees with a BigInt model on what fits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 9000 }),
        fc.integer({ min: 1, max: 300 }),
        (width, height, offset, stride) => {
          using heap = emu().heap();
          using buf = heap.allocate(8192);
          const rowBytes = BigInt(width) * 4n;
          const fits = BigInt(stride) >= rowBytes && BigInt(offset) + BigInt(stride) * BigInt(height - 1) + rowBytes <= 8192n;
          let made: Frame | undefined;
          try {
            made = Frame.fromPlanes({ width, height, format: 'XRGB8888', modifier: 0n, planes: [{ buffer: buf as DmaBuf, offset, stride }] });
          } catch (error) {
            expect(error).toBeInstanceOf(DmaBufError);
            expect((error as DmaBufError).code).toBe('EINVAL');
          }
          expect(made !== undefined).toBe(fits);
          made?.close();
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  it('property: two NV12 planes in one buffer are accepted exactly when they fit and share no byte (model: BigInt ranges)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }).map((n) => n * 2),
        fc.integer({ min: 1, max: 32 }).map((n) => n * 2),
        fc.integer({ min: 0, max: 6000 }),
        fc.integer({ min: 0, max: 6000 }),
        fc.integer({ min: 0, max: 16 }),
        (width, height, yOffset, uvOffset, pad) => {
          using heap = emu().heap();
          using buf = heap.allocate(8192);
          const stride = width + pad;
          const yEnd = BigInt(yOffset) + BigInt(stride) * BigInt(height - 1) + BigInt(width);
          const uvEnd = BigInt(uvOffset) + BigInt(stride) * BigInt(height / 2 - 1) + BigInt(width);
          const fits = yEnd <= 8192n && uvEnd <= 8192n;
          const disjoint = yEnd <= BigInt(uvOffset) || uvEnd <= BigInt(yOffset);
          let made: Frame | undefined;
          let error: DmaBufError | undefined;
          try {
            made = Frame.fromPlanes({
              width,
              height,
              format: 'NV12',
              modifier: 0n,
              planes: [
                { buffer: buf as DmaBuf, offset: yOffset, stride },
                { buffer: buf as DmaBuf, offset: uvOffset, stride },
              ],
            });
          } catch (e) {
            error = e as DmaBufError;
          }
          expect(made !== undefined, `y ${yOffset}..${yEnd} uv ${uvOffset}..${uvEnd}`).toBe(fits && disjoint);
          if (fits && !disjoint) {
            expect(error).toMatchObject({ code: 'EINVAL', argument: 'planes[1]' });
            expect(error?.message).toMatch(/overlap planes\[0\]/);
          }
          made?.close();
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it('close() inside an open bracket refuses (ERR_DMABUF_CLOSE_IN_BRACKET) and leaves the frame usable; after end() it closes', () => {
    const e = emu();
    const frame = Frame.allocate(e.heap(), { width: 8, height: 8, format: 'R8' });
    const buffer = frame.planes[0]?.buffer as DmaBuf;
    const access = frame.beginCpuAccess('write');
    expect(thrown(() => frame.close())).toMatchObject({ code: 'ERR_DMABUF_CLOSE_IN_BRACKET' });
    expect(frame.closed).toBe(false);
    access.plane(0).bytes.fill(3);
    access.end();
    frame.withCpuAccess('read', (a) => expect(a.plane(0).bytes[0]).toBe(3));
    frame.close();
    expect(frame.closed).toBe(true);
    expect(buffer.closed).toBe(true);
  });
});

describe('examples/nv12-frame.mjs (the built package: dist/)', () => {
  it('updates a 10×10 square of a 1600×1200 NV12 frame and a second import sees it', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = new URL('../../examples/nv12-frame.mjs', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...process.env, DMABUF_BACKEND: process.env['DMABUF_REQUIRE_KERNEL'] ? '' : 'emulated' },
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"formatName":"NV12"/);
    expect(r.stdout).toMatch(/second import sees the square: true/);
  });
});
