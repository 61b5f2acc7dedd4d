import { describe, expect, it } from 'vitest';
import { region, DmaBufError } from '../../lib/index.js';
import { resolveRegion } from '../../lib/region.js';
import { rowOffsets } from '../../lib/common/rows.js';

const einval = (argument?: string) => expect.objectContaining({ code: 'EINVAL', ...(argument ? { argument } : {}) });

describe('region arithmetic', () => {
  it('linear: span is the range itself', () => {
    const r = resolveRegion('t', region.linear({ offset: 10, length: 20 }), 100);
    expect(r).toMatchObject({ start: 10, spanLength: 20, rowBytes: 20, rowCount: 1, sliceCount: 1, byteCount: 20 });
    expect([...rowOffsets(r)]).toEqual([0]);
  });

  it('undefined means the whole buffer', () => {
    expect(resolveRegion('t', undefined, 4096)).toMatchObject({ start: 0, spanLength: 4096, byteCount: 4096 });
  });

  it('rect: start, span, rows and byte count of a 10×10 RGBA region of a 1600×1200 image', () => {
    const stride = 1600 * 4;
    const r = resolveRegion('t', region.rect({ x: 100, y: 50, width: 10, height: 10, stride, bytesPerPixel: 4 }), stride * 1200);
    expect(r.start).toBe(50 * stride + 400);
    expect(r.spanLength).toBe(9 * stride + 40);
    expect(r.byteCount).toBe(400);
    expect([...rowOffsets(r)]).toEqual(Array.from({ length: 10 }, (_, i) => i * stride));
  });

  it('rect with a plane offset', () => {
    const r = resolveRegion('t', region.rect({ x: 1, y: 1, width: 2, height: 2, stride: 8, bytesPerPixel: 2, offset: 64 }), 128);
    expect(r.start).toBe(64 + 8 + 2);
    expect(r.spanLength).toBe(8 + 4);
  });

  it('box: rows of every slice, in memory order', () => {
    const r = resolveRegion('t', region.box({ x: 1, y: 2, z: 1, width: 2, height: 3, depth: 2, rowPitch: 16, slicePitch: 128, bytesPerPixel: 2 }), 512);
    expect(r.start).toBe(128 + 32 + 2);
    expect(r.spanLength).toBe(128 + 2 * 16 + 4);
    expect(r.byteCount).toBe(4 * 3 * 2);
    expect([...rowOffsets(r)]).toEqual([0, 16, 32, 128, 144, 160]);
  });

  it('refuses regions outside the buffer', () => {
    expect(() => resolveRegion('t', region.linear({ offset: 90, length: 11 }), 100)).toThrow(einval('region'));
    expect(() => resolveRegion('t', region.rect({ x: 0, y: 0, width: 4, height: 5, stride: 4, bytesPerPixel: 1 }), 16)).toThrow(einval('region'));
    expect(() => resolveRegion('t', region.rect({ x: 0, y: 0, width: 4, height: 4, stride: 4, bytesPerPixel: 1, offset: 1 }), 16)).toThrow(einval('region'));
  });

  it('refuses stride < row bytes, and slicePitch < rows × rowPitch', () => {
    expect(() => region.rect({ x: 0, y: 0, width: 5, height: 1, stride: 16, bytesPerPixel: 4 })).toThrow(einval('stride'));
    expect(() => region.rect({ x: 1, y: 0, width: 4, height: 1, stride: 16, bytesPerPixel: 4 })).toThrow(einval('stride'));
    expect(() => region.box({ x: 0, y: 0, z: 0, width: 1, height: 3, depth: 1, rowPitch: 16, slicePitch: 32, bytesPerPixel: 1 })).toThrow(einval('slicePitch'));
  });

  it('refuses zero sizes, negatives, fractions and wrong types', () => {
    expect(() => region.linear({ offset: 0, length: 0 })).toThrow(einval('length'));
    expect(() => region.linear({ offset: -1, length: 1 })).toThrow(einval('offset'));
    expect(() => region.rect({ x: 0.5, y: 0, width: 1, height: 1, stride: 4, bytesPerPixel: 1 })).toThrow(einval('x'));
    expect(() => region.rect({ x: 0, y: 0, width: 1, height: 0, stride: 4, bytesPerPixel: 1 })).toThrow(einval('height'));
    expect(() => region.linear({ offset: 0, length: '4' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => resolveRegion('t', { kind: 'circle' }, 100)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', argument: 'region' }));
  });

  it('refuses arithmetic that overflows 2^53 instead of wrapping', () => {
    const huge = 2 ** 52;
    expect(() => region.rect({ x: 0, y: 0, width: huge, height: 1, stride: huge, bytesPerPixel: 4 })).toThrow(DmaBufError);
    expect(() => resolveRegion('t', region.rect({ x: 0, y: huge, width: 1, height: 1, stride: 4096, bytesPerPixel: 1 }), Number.MAX_SAFE_INTEGER)).toThrow(
      einval(),
    );
  });

  it('re-validates hand-made region objects', () => {
    const forged = { kind: 'rect', x: 0, y: 0, width: 100, height: 1, stride: 4, bytesPerPixel: 1, offset: 0 };
    expect(() => resolveRegion('t', forged, 1000)).toThrow(einval('stride'));
  });

  it('a region resolved once is reused for the same buffer size and checked again for another', () => {
    const r = region.rect({ x: 0, y: 0, width: 10, height: 10, stride: 64, bytesPerPixel: 4 });
    const first = resolveRegion('t', r, 4096);
    expect(first.spanLength).toBe(9 * 64 + 40);
    expect(resolveRegion('t', r, 4096)).toBe(first);
    expect(() => resolveRegion('t', r, 512)).toThrow(/outside the 512-byte buffer/);
    expect(resolveRegion('t', r, 8192)).toEqual(first);
  });

  it('regions are frozen', () => {
    const r = region.linear({ offset: 0, length: 1 });
    expect(Object.isFrozen(r)).toBe(true);
  });
});
