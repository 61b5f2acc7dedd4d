/**
 * Finding bracket violations at END. The kernel cannot see them; the emulator can, because each
 * bracket has its own bytes:
 * - the gaps of the span (between the region's rows) are handed out holding a known pattern, the
 *   buffer's poison aligned to absolute offsets (what a never-synced cache line shows), so a write
 *   there is any byte that no longer matches it;
 * - a 'read' bracket keeps a copy of its rows (not of the gaps), so a write there is any row byte
 *   that no longer matches the copy.
 * Work is one native memcmp per row and per gap (a byte loop only inside the first segment that
 * differs): proportional to the span, at memcmp speed; no copy of the span is ever taken.
 */
import { eachGap, firstDifference, hasGaps, type Violation } from '../../bracket-check.js';
import { MisuseCode } from '../../errors.js';
import type { ResolvedRegion } from '../../region.js';
import type { AccessMode } from '../../validate.js';

/** `page` repeated, at least `length` bytes long, cached per page: the source of gap fills and checks. */
const patterns = new WeakMap<Uint8Array, Buffer>();
function pattern(page: Uint8Array, length: number): Buffer {
  let p = patterns.get(page);
  if (!p || p.length < length) {
    let size = Math.max(p?.length ?? 0, 16 * page.length);
    while (size < length) size *= 2;
    p = Buffer.alloc(size);
    for (let at = 0; at < size; at += page.length) p.set(page.subarray(0, Math.min(page.length, size - at)), at);
    patterns.set(page, p);
  }
  return p;
}

/** Fill the gaps of `span` with the pattern (page aligned to absolute offsets). */
export function fillGaps(span: Uint8Array, region: ResolvedRegion, page: Uint8Array): void {
  const p = pattern(page, region.spanLength + page.length);
  eachGap(region, (from, to) => {
    const k = (region.start + from) % page.length;
    span.set(p.subarray(k, k + to - from), from);
  });
}

/** The region's rows of `span`, back to back: what a 'read' bracket compares with at END. */
export function copyRows(span: Uint8Array, region: ResolvedRegion): Uint8Array {
  if (!hasGaps(region)) return span.slice(0, region.spanLength);
  const out = new Uint8Array(region.byteCount);
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  let at = 0;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, row = s * slicePitch; r < rowCount; r++, row += rowPitch, at += rowBytes) {
      out.set(span.subarray(row, row + rowBytes), at);
    }
  }
  return out;
}

/**
 * The first write the bracket was not allowed to make, in memory order: any change in a 'read'
 * bracket's rows (against `rows`, from copyRows at START), or a change in a gap (against the
 * pattern fillGaps put there) in any bracket.
 */
export function findViolation(
  mode: AccessMode,
  region: ResolvedRegion,
  now: Uint8Array,
  page: Uint8Array,
  rows: Uint8Array | undefined,
): Violation | undefined {
  const gaps = hasGaps(region);
  if (!gaps && mode !== 'read') return undefined;
  const bytes = Buffer.from(now.buffer, now.byteOffset, now.length);
  if (mode === 'read' && rows && !gaps) {
    const write = firstDifference(bytes, 0, rows, 0, region.spanLength);
    return write >= 0 ? { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: write } : undefined;
  }
  const p = gaps ? pattern(page, region.spanLength + page.length) : page;
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  let gapStart = 0;
  let at = 0;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, row = s * slicePitch; r < rowCount; r++, row += rowPitch, at += rowBytes) {
      if (row > gapStart) {
        const k = (region.start + gapStart) % page.length;
        const gap = firstDifference(bytes, gapStart, p, k, row - gapStart);
        if (gap >= 0) return { code: MisuseCode.WRITE_OUTSIDE_REGION, offset: gapStart + gap };
      }
      if (mode === 'read' && rows) {
        const write = firstDifference(bytes, row, rows, at, rowBytes);
        if (write >= 0) return { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: row + write };
      }
      gapStart = row + rowBytes;
    }
  }
  return undefined;
}
