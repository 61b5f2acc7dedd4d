/**
 * Regions: the part of a buffer one CPU bracket may touch. A region is validated against the
 * buffer before any syscall (bounds, arithmetic overflow, stride ≥ row bytes). The kernel can only
 * sync whole buffers (2D sync and SYNC_PARTIAL were refused upstream), so on the kernel backend
 * the region only scopes the bytes handed out; the emulated backend syncs exactly the region.
 */
import type { BoxRegion, LinearRegion, RectRegion, Region, ResolvedRegion } from './common/vocabulary.js';
import { invalidArgument, invalidType } from './common/errors.js';
import { checkOptions } from './validate.js';

export type { BoxRegion, LinearRegion, RectRegion, Region, ResolvedRegion } from './common/vocabulary.js';

const SYSCALL = 'region';

function field(obj: Record<string, unknown>, name: string, min: number, fallback?: number): number {
  const value = obj[name] ?? fallback;
  if (typeof value !== 'number') throw invalidType(SYSCALL, name, 'an integer', value);
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(SYSCALL, name, `must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}

/** A region's fields; `kind` is allowed since a resolved region (which carries it) is checked again through here. */
function spec(value: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw invalidType(SYSCALL, what, 'an object', value);
  return checkOptions(what, value, allowed);
}

/** a × b + c, refusing anything past 2^53 (the products here are byte offsets). */
function mulAdd(a: number, b: number, c: number, what: string): number {
  const product = a * b;
  if (!Number.isSafeInteger(product) || !Number.isSafeInteger(product + c)) {
    throw invalidArgument(SYSCALL, what, 'arithmetic overflows 2^53 bytes');
  }
  return product + c;
}

export const region = {
  /** Bytes [offset, offset + length). */
  linear(options: { offset?: number; length: number }): LinearRegion {
    const o = spec(options, 'region.linear', ['kind', 'offset', 'length']);
    return Object.freeze({ kind: 'linear', offset: field(o, 'offset', 0, 0), length: field(o, 'length', 1) });
  },
  /** A 2D rectangle of pixels in an image with `stride` bytes per row starting at `offset`. */
  rect(options: { x: number; y: number; width: number; height: number; stride: number; bytesPerPixel: number; offset?: number }): RectRegion {
    const o = spec(options, 'region.rect', ['kind', 'x', 'y', 'width', 'height', 'stride', 'bytesPerPixel', 'offset']);
    const r: RectRegion = {
      kind: 'rect',
      x: field(o, 'x', 0),
      y: field(o, 'y', 0),
      width: field(o, 'width', 1),
      height: field(o, 'height', 1),
      stride: field(o, 'stride', 1),
      bytesPerPixel: field(o, 'bytesPerPixel', 1),
      offset: field(o, 'offset', 0, 0),
    };
    const rowEnd = mulAdd(r.x + r.width, r.bytesPerPixel, 0, 'width');
    if (rowEnd > r.stride) {
      throw invalidArgument(SYSCALL, 'stride', `(x + width) × bytesPerPixel = ${rowEnd} exceeds stride ${r.stride}`);
    }
    return Object.freeze(r);
  },
  /** A 3D box of texels in a volume with `rowPitch` bytes per row and `slicePitch` bytes per slice. */
  box(options: {
    x: number;
    y: number;
    z: number;
    width: number;
    height: number;
    depth: number;
    rowPitch: number;
    slicePitch: number;
    bytesPerPixel: number;
    offset?: number;
  }): BoxRegion {
    const o = spec(options, 'region.box', ['kind', 'x', 'y', 'z', 'width', 'height', 'depth', 'rowPitch', 'slicePitch', 'bytesPerPixel', 'offset']);
    const b: BoxRegion = {
      kind: 'box',
      x: field(o, 'x', 0),
      y: field(o, 'y', 0),
      z: field(o, 'z', 0),
      width: field(o, 'width', 1),
      height: field(o, 'height', 1),
      depth: field(o, 'depth', 1),
      rowPitch: field(o, 'rowPitch', 1),
      slicePitch: field(o, 'slicePitch', 1),
      bytesPerPixel: field(o, 'bytesPerPixel', 1),
      offset: field(o, 'offset', 0, 0),
    };
    const rowEnd = mulAdd(b.x + b.width, b.bytesPerPixel, 0, 'width');
    if (rowEnd > b.rowPitch) {
      throw invalidArgument(SYSCALL, 'rowPitch', `(x + width) × bytesPerPixel = ${rowEnd} exceeds rowPitch ${b.rowPitch}`);
    }
    const sliceEnd = mulAdd(b.y + b.height, b.rowPitch, 0, 'height');
    if (sliceEnd > b.slicePitch) {
      throw invalidArgument(SYSCALL, 'slicePitch', `(y + height) × rowPitch = ${sliceEnd} exceeds slicePitch ${b.slicePitch}`);
    }
    return Object.freeze(b);
  },
};

export function isRegion(value: unknown): value is Region {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'linear' || kind === 'rect' || kind === 'box';
}

/**
 * Reduce a region to rows and check it lies inside a buffer of `size` bytes. `undefined` means
 * the whole buffer. Plain objects are accepted if they pass the same checks as region.*().
 */
export function resolveRegion(syscall: string, value: unknown, size: number): ResolvedRegion {
  // A frozen region (what region.* returns) cannot change: checked once per buffer size, it is
  // reused, so a program that brackets the same region every frame does not re-check it.
  const frozen = typeof value === 'object' && value !== null && Object.isFrozen(value);
  const cached = frozen ? resolvedRegions.get(value) : undefined;
  if (cached?.size === size) return cached.resolved;
  const resolved = Object.freeze(resolveFresh(syscall, value, size));
  if (frozen) resolvedRegions.set(value, { size, resolved });
  return resolved;
}

/** The last successful resolution of each frozen region, with the buffer size it was checked against. */
const resolvedRegions = new WeakMap<object, { readonly size: number; readonly resolved: ResolvedRegion }>();

function resolveFresh(syscall: string, value: unknown, size: number): ResolvedRegion {
  let r: Region;
  if (value === undefined) r = region.linear({ offset: 0, length: size });
  else if (!isRegion(value)) throw invalidType(syscall, 'region', 'a region from region.linear/rect/box', value);
  else if (value.kind === 'linear') r = region.linear(value);
  else if (value.kind === 'rect') r = region.rect(value);
  else r = region.box(value);

  let resolved: ResolvedRegion;
  if (r.kind === 'linear') {
    resolved = {
      region: r,
      start: r.offset,
      spanLength: r.length,
      rowBytes: r.length,
      rowCount: 1,
      sliceCount: 1,
      rowPitch: r.length,
      slicePitch: r.length,
      byteCount: r.length,
    };
  } else if (r.kind === 'rect') {
    const rowBytes = r.width * r.bytesPerPixel;
    const start = mulAdd(r.y, r.stride, mulAdd(r.x, r.bytesPerPixel, r.offset, 'x'), 'y');
    const spanLength = mulAdd(r.height - 1, r.stride, rowBytes, 'height');
    resolved = {
      region: r,
      start,
      spanLength,
      rowBytes,
      rowCount: r.height,
      sliceCount: 1,
      rowPitch: r.stride,
      slicePitch: spanLength,
      byteCount: mulAdd(rowBytes, r.height, 0, 'height'),
    };
  } else {
    const rowBytes = r.width * r.bytesPerPixel;
    const start = mulAdd(r.z, r.slicePitch, mulAdd(r.y, r.rowPitch, mulAdd(r.x, r.bytesPerPixel, r.offset, 'x'), 'y'), 'z');
    const lastRow = mulAdd(r.height - 1, r.rowPitch, rowBytes, 'height');
    const spanLength = mulAdd(r.depth - 1, r.slicePitch, lastRow, 'depth');
    resolved = {
      region: r,
      start,
      spanLength,
      rowBytes,
      rowCount: r.height,
      sliceCount: r.depth,
      rowPitch: r.rowPitch,
      slicePitch: r.slicePitch,
      byteCount: mulAdd(mulAdd(rowBytes, r.height, 0, 'height'), r.depth, 0, 'depth'),
    };
  }
  const end = resolved.start + resolved.spanLength;
  if (!Number.isSafeInteger(end) || end > size) {
    throw invalidArgument(syscall, 'region', `bytes [${resolved.start}, ${end}) lie outside the ${size}-byte buffer`);
  }
  return resolved;
}
