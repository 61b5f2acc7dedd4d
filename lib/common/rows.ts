/**
 * Walking a resolved region: its rows, and the gaps between them (the span's bytes no row
 * covers). The one place the row arithmetic lives; regions (CpuAccess#rows), the emulated models,
 * bracket checks and race mixing all walk through it.
 *
 * Offsets are from the span start ("span offsets"); a row's "packed offset" is where it would lie
 * if the rows were back to back (row k of the whole region starts at k × rowBytes).
 */
import type { ResolvedRegion } from './vocabulary.js';

/**
 * Call `fn(spanOffset, packedOffset)` for each row, slice by slice, in memory order, until it
 * returns true (then someRow returns true, like Array#some).
 */
export function someRow(region: ResolvedRegion, fn: (at: number, packed: number) => boolean): boolean {
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  let packed = 0;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, at = s * slicePitch; r < rowCount; r++, at += rowPitch, packed += rowBytes) {
      if (fn(at, packed)) return true;
    }
  }
  return false;
}

/** Call `fn(spanOffset, packedOffset)` for each row, slice by slice, in memory order. */
export function eachRow(region: ResolvedRegion, fn: (at: number, packed: number) => void): void {
  someRow(region, (at, packed) => {
    fn(at, packed);
    return false;
  });
}

/** The region's rows leave gaps in its span (a 2D/3D region whose rows are not back to back). */
export function hasGaps(region: ResolvedRegion): boolean {
  return region.byteCount !== region.spanLength;
}

/**
 * Rows and the gaps before them, in memory order: `onGap(from, to)` before each row that a gap
 * precedes, then `onRow(spanOffset, packedOffset)`, until either returns true.
 */
export function someRowOrGap(region: ResolvedRegion, onGap: (from: number, to: number) => boolean, onRow: (at: number, packed: number) => boolean): boolean {
  let gapStart = 0;
  return someRow(region, (at, packed) => {
    if (at > gapStart && onGap(gapStart, at)) return true;
    gapStart = at + region.rowBytes;
    return onRow(at, packed);
  });
}

/** Call `fn(from, to)` (span offsets) for every gap, in memory order. */
export function eachGap(region: ResolvedRegion, fn: (from: number, to: number) => void): void {
  someRowOrGap(
    region,
    (from, to) => {
      fn(from, to);
      return false;
    },
    () => false,
  );
}

/** Offsets of every row from the span start, slice by slice. */
export function* rowOffsets(region: ResolvedRegion): Generator<number> {
  const offsets: number[] = [];
  eachRow(region, (at) => {
    offsets.push(at);
  });
  yield* offsets;
}

/** to[toAt, toAt + n) = from[fromAt, fromAt + n). */
export function copyBytes(from: Uint8Array, fromAt: number, to: Uint8Array, toAt: number, n: number): void {
  to.set(from.subarray(fromAt, fromAt + n), toAt);
}

/**
 * Copy the region's rows from `from` to `to`. Each side is addressed by its own base: row at span
 * offset `at` lies at `from[fromBase + at]` and goes to `to[toBase + at]`. A region without gaps
 * moves as one copy.
 */
export function copyRegionRows(region: ResolvedRegion, from: Uint8Array, fromBase: number, to: Uint8Array, toBase: number): void {
  if (!hasGaps(region)) {
    copyBytes(from, fromBase, to, toBase, region.spanLength);
    return;
  }
  const n = region.rowBytes;
  eachRow(region, (at) => {
    copyBytes(from, fromBase + at, to, toBase + at, n);
  });
}

/** Copy the gaps of `from` (span-shaped) over those of `to`; returns the bytes copied. */
export function copyGaps(from: Uint8Array, to: Uint8Array, region: ResolvedRegion): number {
  let n = 0;
  eachGap(region, (a, b) => {
    to.set(from.subarray(a, b), a);
    n += b - a;
  });
  return n;
}
