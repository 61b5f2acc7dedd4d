/**
 * The pattern a copying bracket's gaps hold. The gaps of a bracket's span (its bytes between the
 * region's rows) are not the device's data: they are handed out holding the buffer's poison,
 * aligned to absolute offsets (what a never-synced cache line shows), so a write there is any byte
 * that no longer matches it at END.
 */
import type { Expected } from '../../common/bracket-check.js';
import { eachGap } from '../../common/rows.js';
import type { ResolvedRegion } from '../../common/vocabulary.js';

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

/** What the gaps of `region`'s span should hold: the pattern, page aligned to absolute offsets. */
export function gapPattern(region: ResolvedRegion, page: Uint8Array): Expected {
  const bytes = pattern(page, region.spanLength + page.length);
  return { bytes, index: (at) => (region.start + at) % page.length };
}

/** Fill the gaps of `span` with the pattern. */
export function fillGaps(span: Uint8Array, region: ResolvedRegion, page: Uint8Array): void {
  const { bytes, index } = gapPattern(region, page);
  eachGap(region, (from, to) => {
    const k = index(from, 0);
    span.set(bytes.subarray(k, k + to - from), from);
  });
}
