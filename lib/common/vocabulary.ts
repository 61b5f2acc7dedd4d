/**
 * The vocabulary the backend contract speaks, owned by the contract: access modes and regions.
 * Types only, importing nothing, so the public modules that build these values (region.ts,
 * validate.ts) and the backends that take them both depend on this file, never on each other.
 */

export type AccessMode = 'read' | 'write' | 'readwrite';
export type FenceMode = 'read' | 'write';

export interface LinearRegion {
  readonly kind: 'linear';
  readonly offset: number;
  readonly length: number;
}

export interface RectRegion {
  readonly kind: 'rect';
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly bytesPerPixel: number;
  readonly offset: number;
}

export interface BoxRegion {
  readonly kind: 'box';
  readonly x: number;
  readonly y: number;
  readonly z: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly rowPitch: number;
  readonly slicePitch: number;
  readonly bytesPerPixel: number;
  readonly offset: number;
}

export type Region = LinearRegion | RectRegion | BoxRegion;

/**
 * A region reduced to rows: `sliceCount` slices of `rowCount` rows of `rowBytes` bytes; row (s, r)
 * starts at `start + s * slicePitch + r * rowPitch`. The span is [start, start + spanLength).
 */
export interface ResolvedRegion {
  readonly region: Region;
  readonly start: number;
  readonly spanLength: number;
  readonly rowBytes: number;
  readonly rowCount: number;
  readonly sliceCount: number;
  readonly rowPitch: number;
  readonly slicePitch: number;
  /** rowBytes × rowCount × sliceCount: the bytes the region really covers. */
  readonly byteCount: number;
}
