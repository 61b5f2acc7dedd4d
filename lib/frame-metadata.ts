/**
 * What a producer says about a frame besides its planes: the colour space its values are in, the
 * part of the coded size that holds the picture, and when it was captured. None of it changes a
 * byte of the buffers; all of it must arrive with them, or a consumer shows YUV as sRGB, shows the
 * padding rows of a 1080p frame coded as 1088, or plays frames at the wrong time.
 */
import { invalidArgument, invalidType } from './common/errors.js';
import { checkInteger, checkObject, checkOptions } from './validate.js';

/**
 * Colour space in Electron's (and Chromium's gfx::ColorSpace) words, kept as given: this package
 * does not convert colours, it carries the producer's statement to the consumer.
 */
export interface FrameColorSpace {
  readonly primaries?: string;
  readonly transfer?: string;
  readonly matrix?: string;
  readonly range?: string;
}

/** A rectangle in pixels of the frame's coded size. */
export interface FrameRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The metadata every way in and out of a Frame carries. */
export interface FrameMetadata {
  /** Absent: the producer did not say (consumers then assume their own default, sRGB for RGB). */
  readonly colorSpace?: FrameColorSpace;
  /** The part of the frame that holds the picture; absent: all of it. */
  readonly visibleRect?: FrameRect;
  /** Capture time in microseconds (Electron's unit; GStreamer's pts is this × 1000). */
  readonly timestamp?: number;
}

const COLOR_SPACE_KEYS = ['primaries', 'transfer', 'matrix', 'range'] as const;

export function checkColorSpace(syscall: string, argument: string, value: unknown): FrameColorSpace | undefined {
  if (value === undefined || value === null) return undefined;
  const o = checkOptions(syscall, checkObject(syscall, argument, value), COLOR_SPACE_KEYS, argument);
  const out: Record<string, string> = {};
  for (const key of COLOR_SPACE_KEYS) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw invalidType(syscall, `${argument}.${key}`, 'a non-empty string', v);
    out[key] = v;
  }
  return Object.freeze(out);
}

export function checkRect(syscall: string, argument: string, value: unknown, width: number, height: number): FrameRect | undefined {
  if (value === undefined || value === null) return undefined;
  const o = checkOptions(syscall, checkObject(syscall, argument, value), ['x', 'y', 'width', 'height'], argument);
  const x = checkInteger(syscall, `${argument}.x`, o['x'], 0, width - 1);
  const y = checkInteger(syscall, `${argument}.y`, o['y'], 0, height - 1);
  const w = checkInteger(syscall, `${argument}.width`, o['width'], 1, width);
  const h = checkInteger(syscall, `${argument}.height`, o['height'], 1, height);
  if (x + w > width || y + h > height) {
    throw invalidArgument(syscall, argument, `${w}×${h} at (${x}, ${y}) reaches past the frame's ${width}×${height}`);
  }
  return Object.freeze({ x, y, width: w, height: h });
}

export function checkTimestamp(syscall: string, argument: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidType(syscall, argument, 'a finite number of microseconds ≥ 0', value);
  }
  return value;
}

/** The three, checked against a frame of `width`×`height`; keys not given stay absent. */
export function checkMetadata(syscall: string, source: Record<string, unknown>, width: number, height: number): FrameMetadata {
  const colorSpace = checkColorSpace(syscall, 'colorSpace', source['colorSpace']);
  const visibleRect = checkRect(syscall, 'visibleRect', source['visibleRect'], width, height);
  const timestamp = checkTimestamp(syscall, 'timestamp', source['timestamp']);
  return {
    ...(colorSpace === undefined ? {} : { colorSpace }),
    ...(visibleRect === undefined ? {} : { visibleRect }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

/** The keys checkMetadata reads, for checkOptions. */
export const METADATA_KEYS = ['colorSpace', 'visibleRect', 'timestamp'] as const;
