/**
 * Finding the writes a bracket was not allowed to make: the one place both backends do it. At END
 * the span is compared, in memory order, with what it should hold: its gaps (between the region's
 * rows) in every bracket, its rows too in a 'read' bracket. One native memcmp per row and per gap
 * (Buffer#compare), a byte loop only inside the first segment that differs.
 *
 * What it should hold comes from START: a snapshot of the span (the emulator's zero-copy path and
 * the kernel backend's checked mode, DMABUF_CHECK=1 or `checked: true`), or, on the emulator's
 * copying path, the known pattern its gaps were filled with and a copy of its rows. On the
 * snapshot paths the writes found are undone (a read bracket's rows, a region's gaps), as
 * non-coherent hardware would drop them; every violation is reported after END with the buffer's
 * name and the byte's offset.
 *
 * On the kernel the span is shared memory: a change made meanwhile by another holder, thread,
 * process or device is indistinguishable from the bracket's own and is reported as its own.
 */
import { DmaBufError, MisuseCode } from './errors.js';
import type { AccessMode, ResolvedRegion } from './vocabulary.js';
import { copyGaps, hasGaps, someRowOrGap } from './rows.js';

/** A write the bracket was not allowed to make. */
export interface Violation {
  readonly code: typeof MisuseCode.WRITE_IN_READ_BRACKET | typeof MisuseCode.WRITE_OUTSIDE_REGION;
  /** Offset of the first changed byte, relative to the span start. */
  readonly offset: number;
}

/**
 * What a bracket's bytes are checked against: the byte expected at span offset `at` (of a row at
 * packed offset `packed`) is `bytes[index(at, packed)]`, and a gap or a row continues linearly from
 * there.
 */
export interface Expected {
  readonly bytes: Uint8Array;
  readonly index: (at: number, packed: number) => number;
}

/** A snapshot shaped like the span (taken at START). */
export function spanShaped(bytes: Uint8Array): Expected {
  return { bytes, index: (at) => at };
}

/** The region's rows back to back (copied at START). */
export function packedRows(bytes: Uint8Array): Expected {
  return { bytes, index: (_at, packed) => packed };
}

/**
 * Index in [0, length) of the first byte where a[aFrom + i] ≠ b[bFrom + i], or -1. One native
 * memcmp over the ranges (Buffer#compare with offsets: no subarray views are made).
 */
export function firstDifference(a: Buffer, aFrom: number, b: Uint8Array, bFrom: number, length: number): number {
  if (length <= 0 || a.compare(b, bFrom, bFrom + length, aFrom, aFrom + length) === 0) return -1;
  for (let i = 0; i < length; i++) if (a[aFrom + i] !== b[bFrom + i]) return i;
  return -1;
}

/**
 * The first write a bracket was not allowed to make, in memory order: a change in a gap (against
 * `expected.gaps`), in any bracket, or a change in a 'read' bracket's rows (against
 * `expected.rows`). `now` is the span as END found it.
 */
export function findViolation(
  mode: AccessMode,
  region: ResolvedRegion,
  now: Uint8Array,
  expected: { readonly gaps: Expected; readonly rows: Expected | undefined },
): Violation | undefined {
  const gaps = hasGaps(region);
  const rows = mode === 'read' ? expected.rows : undefined;
  if (!gaps && !rows) return undefined;
  const bytes = Buffer.from(now.buffer, now.byteOffset, now.length);
  if (!gaps) {
    // Rows back to back: the span is one row as far as checking goes.
    const write = firstDifference(bytes, 0, rows!.bytes, rows!.index(0, 0), region.spanLength);
    return write >= 0 ? { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: write } : undefined;
  }
  let found: Violation | undefined;
  const { bytes: gapBytes, index: gapIndex } = expected.gaps;
  someRowOrGap(
    region,
    (from, to) => {
      const write = firstDifference(bytes, from, gapBytes, gapIndex(from, 0), to - from);
      if (write >= 0) found = { code: MisuseCode.WRITE_OUTSIDE_REGION, offset: from + write };
      return found !== undefined;
    },
    (at, packed) => {
      if (!rows) return false;
      const write = firstDifference(bytes, at, rows.bytes, rows.index(at, packed), region.rowBytes);
      if (write >= 0) found = { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: at + write };
      return found !== undefined;
    },
  );
  return found;
}

/**
 * findViolation for a bracket over memory that is the buffer's own (the emulator's zero-copy
 * path, the kernel's checked mode): against `reference`, a span-shaped snapshot taken at START
 * (gaps always; rows too for a 'read' bracket). What it finds is undone from the snapshot (a read
 * bracket gets its span back, a write bracket its gaps), as non-coherent hardware would drop it.
 */
export function findAndUndoChange(mode: AccessMode, region: ResolvedRegion, now: Uint8Array, reference: Uint8Array): Violation | undefined {
  const snapshot = spanShaped(reference);
  const violation = findViolation(mode, region, now, { gaps: snapshot, rows: snapshot });
  if (violation) {
    if (mode === 'read') now.set(reference.subarray(0, region.spanLength));
    else copyGaps(reference, now, region);
  }
  return violation;
}

/**
 * Whether a bracket in `mode` over `region` has anything to check: a 'read' bracket (its rows must
 * not change) or a region with gaps (they must not change). A linear write bracket has none.
 */
export function needsSnapshot(mode: AccessMode, region: ResolvedRegion): boolean {
  return mode === 'read' || hasGaps(region);
}

/** The DmaBufError for a violation found at END (END itself has completed). */
export function violationError(violation: Violation, region: ResolvedRegion, bufferName: string, syscall: string): DmaBufError {
  const offset = region.start + violation.offset;
  const what =
    violation.code === MisuseCode.WRITE_IN_READ_BRACKET
      ? `was written inside a 'read' bracket; the write was not synced to the device: use 'write' or 'readwrite'`
      : `lies between the rows of the bracket's region and was written; the write was dropped: write only through rows(), or declare a region that covers it`;
  return new DmaBufError(violation.code, `byte ${offset} of dma-buf '${bufferName}' ${what}`, { syscall, bufferName, offset });
}
