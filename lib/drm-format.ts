/**
 * DRM pixel formats: the fourcc codes of include/uapi/drm/drm_fourcc.h and the plane geometry of
 * drivers/gpu/drm/drm_fourcc.c's format table (bytes per element of each plane, horizontal and
 * vertical chroma subsampling). Only what a CPU needs to find a plane's rows.
 */
import { invalidArgument, invalidType } from './common/errors.js';

export interface DrmFormat {
  /** The fourcc name as drm_fourcc.h spells it ('XR24', 'NV12'), and the macro's name ('XRGB8888'). */
  readonly fourcc: string;
  readonly name: string;
  /** fourcc_code(a, b, c, d): a | b << 8 | c << 16 | d << 24. */
  readonly code: number;
  /** Bytes per element of each plane (an element is a pixel, or a subsampled chroma sample group). */
  readonly cpp: readonly number[];
  /** Chroma subsampling of planes after the first (1: none). */
  readonly hsub: number;
  readonly vsub: number;
  /** Packed YUV with horizontal subsampling in one plane (YUYV): a row holds ceil(w / hsub) × cpp… of pairs. */
  readonly packed?: boolean;
}

function fourccCode(fourcc: string): number {
  return (fourcc.charCodeAt(0) | (fourcc.charCodeAt(1) << 8) | (fourcc.charCodeAt(2) << 16) | (fourcc.charCodeAt(3) << 24)) >>> 0;
}

function format(name: string, fourcc: string, cpp: number[], hsub = 1, vsub = 1, packed = false): DrmFormat {
  return Object.freeze({ name, fourcc, code: fourccCode(fourcc), cpp: Object.freeze(cpp), hsub, vsub, ...(packed ? { packed } : {}) });
}

/** The formats frames can be built from, by macro name. */
export const DRM_FORMATS: Readonly<Record<string, DrmFormat>> = Object.freeze(
  Object.fromEntries(
    [
      format('XRGB8888', 'XR24', [4]),
      format('ARGB8888', 'AR24', [4]),
      format('XBGR8888', 'XB24', [4]),
      format('ABGR8888', 'AB24', [4]),
      format('ABGR16161616F', 'AB4H', [8]),
      format('RGB565', 'RG16', [2]),
      format('R8', 'R8  ', [1]),
      format('GR88', 'GR88', [2]),
      format('NV12', 'NV12', [1, 2], 2, 2),
      format('NV21', 'NV21', [1, 2], 2, 2),
      format('NV16', 'NV16', [1, 2], 2, 1),
      format('P010', 'P010', [2, 4], 2, 2),
      // YUYV: one plane of Y0 U Y1 V groups, 4 bytes per 2 pixels (drm_fourcc.c: cpp 2, hsub 2).
      format('YUYV', 'YUYV', [4], 2, 1, true),
      format('YUV420', 'YU12', [1, 1, 1], 2, 2),
    ].map((f) => [f.name, f]),
  ),
);

const byCode = new Map(Object.values(DRM_FORMATS).map((f) => [f.code, f]));
const byFourcc = new Map(Object.values(DRM_FORMATS).map((f) => [f.fourcc.trim(), f]));

/** A format from its macro name ('NV12', 'XRGB8888'), its fourcc ('XR24') or its code (a number). */
export function drmFormat(syscall: string, value: unknown): DrmFormat {
  if (typeof value === 'number') {
    const f = byCode.get(value >>> 0);
    if (!Number.isInteger(value) || !f)
      throw invalidArgument(syscall, 'format', `unknown DRM fourcc 0x${(value >>> 0).toString(16)}; known: ${Object.keys(DRM_FORMATS).join(', ')}`);
    return f;
  }
  if (typeof value !== 'string') throw invalidType(syscall, 'format', "a DRM format name ('NV12'), fourcc or code", value);
  const f = DRM_FORMATS[value] ?? byFourcc.get(value.trim());
  if (!f) throw invalidArgument(syscall, 'format', `unknown DRM format '${value}'; known: ${Object.keys(DRM_FORMATS).join(', ')}`);
  return f;
}

/** A plane's size in elements and bytes per row, for a frame of width × height. */
export function planeGeometry(f: DrmFormat, plane: number, width: number, height: number): { rowBytes: number; rows: number } {
  const cpp = f.cpp[plane] as number;
  if (f.packed) return { rowBytes: Math.ceil(width / f.hsub) * cpp, rows: height };
  const w = plane === 0 ? width : Math.ceil(width / f.hsub);
  const h = plane === 0 ? height : Math.ceil(height / f.vsub);
  return { rowBytes: w * cpp, rows: h };
}

/** DRM_FORMAT_MOD_LINEAR: rows of pixels, the one layout a CPU knows. */
export const DRM_FORMAT_MOD_LINEAR = 0n;
/** DRM_FORMAT_MOD_INVALID: "implicit, driver-defined" (no modifier was negotiated). */
export const DRM_FORMAT_MOD_INVALID = 0x00ffffffffffffffn;

/**
 * The emulated tiled model's layout, as fourcc_mod_code(vendor, value) writes a vendor modifier:
 * vendor 0x7f (unassigned in drm_fourcc.h, so no real driver's), value 1.
 */
export const EMULATED_TILED_MODIFIER = (0x7fn << 56n) | 1n;

/** A modifier as a bigint: a bigint, a safe integer, or a string of decimal digits (Electron's form). */
export function drmModifier(syscall: string, value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw invalidArgument(syscall, 'modifier', 'must fit in 64 bits unsigned');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw invalidArgument(syscall, 'modifier', `must be a non-negative integer, got ${value}`);
    return BigInt(value);
  }
  if (typeof value === 'string') {
    if (!/^\d{1,20}$/.test(value)) throw invalidArgument(syscall, 'modifier', `a string modifier must be decimal digits, got '${value}'`);
    return drmModifier(syscall, BigInt(value));
  }
  throw invalidType(syscall, 'modifier', 'a bigint (or a decimal string)', value);
}
