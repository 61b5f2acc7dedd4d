// Region arithmetic against a BigInt reference model: for any fields and buffer size, resolveRegion
// either agrees with exact integer arithmetic (start, span, rows) or refuses with EINVAL exactly
// when the model says the region does not fit (or is malformed), never with another error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DmaBufError } from '../../lib/common/errors.js';
import { resolveRegion } from '../../lib/region.js';
import { rowOffsets } from '../../lib/common/rows.js';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const int = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 70 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 31 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 26, 2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1) },
);
const size = fc.oneof(fc.integer({ min: 1, max: 200_000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const small = fc.integer({ min: 0, max: 40 });
/** A pitch near what the fields need: usually enough, sometimes a few bytes short. */
const slack = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: -4, max: -1 }) },
  { weight: 1, arbitrary: int },
);
const rect = fc
  .record({
    x: small,
    y: small,
    width: fc.oneof(small, int),
    height: fc.oneof(small, int),
    bytesPerPixel: fc.oneof(small, int),
    offset: fc.oneof(small, int),
    slack,
  })
  .map(({ slack: extra, ...f }) => ({ kind: 'rect', ...f, stride: Math.max(1, (f.x + f.width) * f.bytesPerPixel + extra) }));
const box = fc
  .record({
    x: small,
    y: small,
    z: small,
    width: fc.oneof(small, int),
    height: small,
    depth: fc.oneof(small, int),
    bytesPerPixel: fc.oneof(small, int),
    offset: fc.oneof(small, int),
    rowSlack: slack,
    sliceSlack: slack,
  })
  .map(({ rowSlack, sliceSlack, ...f }) => {
    const rowPitch = Math.max(1, (f.x + f.width) * f.bytesPerPixel + rowSlack);
    return { kind: 'box', ...f, rowPitch, slicePitch: Math.max(1, (f.y + f.height) * rowPitch + sliceSlack) };
  });

interface Model {
  start: bigint;
  span: bigint;
  rowBytes: bigint;
  rows: bigint;
  slices: bigint;
  rowPitch: bigint;
  slicePitch: bigint;
}

/** What the region is, in exact arithmetic, or null if it is malformed or does not fit in `size`. */
function model(r: Record<string, number>, size: number): Model | null {
  const b = (k: string, fallback = 0): bigint => BigInt(r[k] ?? fallback);
  const S = BigInt(size);
  let m: Model;
  if (r['kind'] === undefined || (r as { kind?: unknown }).kind === 'linear') {
    if (b('length') < 1n) return null;
    m = { start: b('offset'), span: b('length'), rowBytes: b('length'), rows: 1n, slices: 1n, rowPitch: b('length'), slicePitch: b('length') };
  } else {
    const [w, h, bpp] = [b('width'), b('height'), b('bytesPerPixel')];
    if (w < 1n || h < 1n || bpp < 1n) return null;
    const rowBytes = w * bpp;
    if ((r as { kind?: unknown }).kind === 'rect') {
      const stride = b('stride');
      if (stride < 1n || (b('x') + w) * bpp > stride) return null;
      m = {
        start: b('offset') + b('y') * stride + b('x') * bpp,
        span: (h - 1n) * stride + rowBytes,
        rowBytes,
        rows: h,
        slices: 1n,
        rowPitch: stride,
        slicePitch: 0n,
      };
      m.slicePitch = m.span;
    } else {
      const [d, rp, sp] = [b('depth'), b('rowPitch'), b('slicePitch')];
      if (d < 1n || rp < 1n || sp < 1n || (b('x') + w) * bpp > rp || (b('y') + h) * rp > sp) return null;
      m = {
        start: b('offset') + b('z') * sp + b('y') * rp + b('x') * bpp,
        span: (d - 1n) * sp + (h - 1n) * rp + rowBytes,
        rowBytes,
        rows: h,
        slices: d,
        rowPitch: rp,
        slicePitch: sp,
      };
    }
  }
  return m.start + m.span <= S && m.start + m.span <= MAX ? m : null;
}

let accepted = 0;

function check(r: Record<string, unknown>, bufferSize: number): void {
  const expected = model(r as Record<string, number>, bufferSize);
  let got: ReturnType<typeof resolveRegion>;
  try {
    got = resolveRegion('DMA_BUF_IOCTL_SYNC', r, bufferSize);
  } catch (error) {
    expect(error).toBeInstanceOf(DmaBufError);
    expect((error as DmaBufError).code).toBe('EINVAL');
    expect(expected, `refused ${JSON.stringify(r)} in ${bufferSize}: ${(error as Error).message}`).toBeNull();
    return;
  }
  expect(expected, `accepted ${JSON.stringify(r)} in ${bufferSize}`).not.toBeNull();
  accepted++;
  const m = expected!;
  expect([got.start, got.spanLength, got.rowBytes, got.rowCount, got.sliceCount, got.rowPitch].map(BigInt)).toEqual([
    m.start,
    m.span,
    m.rowBytes,
    m.rows,
    m.slices,
    m.rowPitch,
  ]);
  expect(BigInt(got.byteCount)).toBe(m.rowBytes * m.rows * m.slices);
  if (m.rows * m.slices <= 64n) {
    const offsets = [...rowOffsets(got)].map(BigInt);
    const want: bigint[] = [];
    for (let s = 0n; s < m.slices; s++) for (let row = 0n; row < m.rows; row++) want.push(s * m.slicePitch + row * m.rowPitch);
    expect(offsets).toEqual(want);
    // Every row lies inside the span, and the span inside the buffer.
    for (const o of offsets) expect(o + m.rowBytes <= m.span).toBe(true);
  }
}

describe('region arithmetic agrees with exact (BigInt) arithmetic', () => {
  // Both outcomes must be exercised: a generator that only made refused regions would prove little.
  beforeEach(() => {
    accepted = 0;
  });
  afterEach(() => {
    expect(accepted).toBeGreaterThan(300);
  });

  it('linear', () => {
    fc.assert(fc.property(fc.record({ kind: fc.constant('linear'), offset: int, length: int }), size, check), { numRuns: 3000, seed: 1 });
  });

  it('rect', () => {
    fc.assert(
      fc.property(
        fc.oneof(rect, fc.record({ kind: fc.constant('rect'), x: int, y: int, width: int, height: int, stride: int, bytesPerPixel: int, offset: int })),
        size,
        check,
      ),
      {
        numRuns: 3000,
        seed: 2,
      },
    );
  });

  it('box', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          box,
          fc.record({
            kind: fc.constant('box'),
            x: int,
            y: int,
            z: int,
            width: int,
            height: int,
            depth: int,
            rowPitch: int,
            slicePitch: int,
            bytesPerPixel: int,
            offset: int,
          }),
        ),
        size,
        check,
      ),
      { numRuns: 3000, seed: 3 },
    );
  });
});
