/**
 * Checking a bracket against a snapshot taken at its START: what the emulator's zero-copy path and
 * the kernel backend's checked mode (DMABUF_CHECK=1, or `checked: true` on a buffer) both do. A
 * snapshot of the span (one memcpy) at START; at END one native memcmp per row and per gap
 * (Buffer#compare), a byte loop only inside the first segment that differs. The writes found are
 * undone (a read bracket's rows, a region's gaps), as non-coherent hardware would drop them, and
 * reported after END with the buffer's name and the byte's offset.
 *
 * On the kernel the span is shared memory: a change made meanwhile by another holder, thread,
 * process or device is indistinguishable from the bracket's own and is reported as its own.
 */
import { DmaBufError, MisuseCode } from './errors.js';
import type { ResolvedRegion } from './region.js';
import type { AccessMode } from './validate.js';

/** A write the bracket was not allowed to make. */
export interface Violation {
  readonly code: typeof MisuseCode.WRITE_IN_READ_BRACKET | typeof MisuseCode.WRITE_OUTSIDE_REGION;
  /** Offset of the first changed byte, relative to the span start. */
  readonly offset: number;
}

/** The region's rows leave gaps in its span (a 2D/3D region whose rows are not back to back). */
export function hasGaps(region: ResolvedRegion): boolean {
  return region.byteCount !== region.spanLength;
}

/** Call `fn(gapStart, gapEnd)` (span offsets) for every gap before a row, in memory order. */
export function eachGap(region: ResolvedRegion, fn: (from: number, to: number) => void): void {
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  let gapStart = 0;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, row = s * slicePitch; r < rowCount; r++, row += rowPitch) {
      if (row > gapStart) fn(gapStart, row);
      gapStart = row + rowBytes;
    }
  }
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
 * The first write a bracket was not allowed to make, for a bracket over memory that is the
 * buffer's own (the emulator's coherent zero-copy path, the kernel's checked mode): the span's bytes against `reference`, a
 * span-shaped snapshot taken at START (gaps always; rows too for a 'read' bracket), in memory order.
 */
export function findChange(mode: AccessMode, region: ResolvedRegion, now: Uint8Array, reference: Uint8Array): Violation | undefined {
  const gaps = hasGaps(region);
  if (!gaps && mode !== 'read') return undefined;
  const ref = Buffer.from(reference.buffer, reference.byteOffset, reference.length);
  if (mode === 'read' && !gaps) {
    const write = firstDifference(ref, 0, now, 0, region.spanLength);
    return write >= 0 ? { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: write } : undefined;
  }
  const { rowBytes, rowCount, rowPitch, sliceCount, slicePitch } = region;
  let gapStart = 0;
  for (let s = 0; s < sliceCount; s++) {
    for (let r = 0, row = s * slicePitch; r < rowCount; r++, row += rowPitch) {
      if (row > gapStart) {
        const gap = firstDifference(ref, gapStart, now, gapStart, row - gapStart);
        if (gap >= 0) return { code: MisuseCode.WRITE_OUTSIDE_REGION, offset: gapStart + gap };
      }
      if (mode === 'read') {
        const write = firstDifference(ref, row, now, row, rowBytes);
        if (write >= 0) return { code: MisuseCode.WRITE_IN_READ_BRACKET, offset: row + write };
      }
      gapStart = row + rowBytes;
    }
  }
  return undefined;
}

/**
 * Whether a bracket in `mode` over `region` has anything to check: a 'read' bracket (its rows must
 * not change) or a region with gaps (they must not change). A linear write bracket has none.
 */
export function needsSnapshot(mode: AccessMode, region: ResolvedRegion): boolean {
  return mode === 'read' || hasGaps(region);
}

/** Undo what findChange found: a read bracket gets its snapshot back, a write bracket its gaps. */
export function undoChange(mode: AccessMode, region: ResolvedRegion, now: Uint8Array, reference: Uint8Array): void {
  if (mode === 'read') now.set(reference.subarray(0, region.spanLength));
  else copyGaps(reference, now, region);
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
