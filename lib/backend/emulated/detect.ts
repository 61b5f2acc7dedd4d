/**
 * Finding bracket violations at END. The kernel cannot see them; the emulator compares the bytes
 * it handed out with a snapshot taken at START. Cost is proportional to the span: one memcmp per
 * row and per gap, and a byte loop only inside the first segment that differs.
 */
import { MisuseCode } from '../../errors.js';
import { rowOffsets, type ResolvedRegion } from '../../region.js';
import type { AccessMode } from '../../validate.js';

export interface Violation {
  readonly code: typeof MisuseCode.WRITE_IN_READ_BRACKET | typeof MisuseCode.WRITE_OUTSIDE_REGION;
  /** Offset of the first changed byte, relative to the span start. */
  readonly offset: number;
}

function firstDifference(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  if (to <= from || Buffer.compare(a.subarray(from, to), b.subarray(from, to)) === 0) return -1;
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * The first write the bracket was not allowed to make, in memory order: any change in a 'read'
 * bracket (rows included), or a change in the gaps between the region's rows in any bracket.
 */
export function findViolation(mode: AccessMode, region: ResolvedRegion, now: Uint8Array, before: Uint8Array): Violation | undefined {
  if (Buffer.compare(now, before) === 0) return undefined;
  let gapStart = 0;
  for (const rowStart of rowOffsets(region)) {
    const gap = firstDifference(now, before, gapStart, rowStart);
    if (gap >= 0) return { code: MisuseCode.WRITE_OUTSIDE_REGION, offset: gap };
    const rowEnd = rowStart + region.rowBytes;
    if (mode === 'read') {
      const write = firstDifference(now, before, rowStart, rowEnd);
      if (write >= 0) return { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: write };
    }
    gapStart = rowEnd;
  }
  return undefined;
}
