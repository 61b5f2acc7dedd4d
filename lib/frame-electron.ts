/**
 * Electron's shared textures, both ways, in the shape each Electron version uses (read from
 * electron/electron's osr_converter.cc, electron_api_shared_texture.cc and docs/api/structures at
 * each release tag):
 *
 * - The offscreen 'paint' event's `texture.textureInfo`: Electron 34–38 put `planes` and
 *   `modifier` on textureInfo itself; 39 moved them under `handle.nativePixmap` and added
 *   `colorSpace`. `modifier` is a decimal string; `timestamp` is in microseconds. `texture` is null
 *   (or absent) when Electron fell back to a bitmap (the event's `image`).
 * - `sharedTexture.importSharedTexture({ textureInfo, allReferencesReleased })` exists from 40.0;
 *   it accepts bgra/rgba/rgbaf16, nv12 from 40.2, nv16 and p010le from 42. It reads the modifier
 *   only as a decimal string (a number is ignored and the layout becomes "unknown"), dups the fds,
 *   and calls allReferencesReleased once every process has let go of the texture: only then may
 *   the producer write into the buffer again.
 */
import { DmaBufError, invalidArgument, MisuseCode } from './common/errors.js';
import type { FrameColorSpace, FrameMetadata, FrameRect } from './frame-metadata.js';
import { checkObject } from './validate.js';

const FROM = 'Frame.fromElectron';
const TO = 'Frame.toElectron';

/** One plane of Electron's nativePixmap. */
export interface ElectronPlane {
  fd: number;
  stride: number;
  offset: number;
  size: number;
}

/** `texture.textureInfo` of an offscreen 'paint' event, as Electron 34–38 or 39+ builds it on Linux. */
export interface ElectronTextureInfo {
  pixelFormat: string;
  codedSize: { width: number; height: number };
  visibleRect?: FrameRect;
  colorSpace?: FrameColorSpace;
  timestamp?: number;
  /** Electron 34–38. */
  planes?: readonly ElectronPlane[];
  /** Electron 34–38: the DRM modifier as a decimal string. */
  modifier?: string;
  /** Electron 39 and later. */
  handle?: { nativePixmap?: { planes: readonly ElectronPlane[]; modifier: string; supportsZeroCopyWebGpuImport?: boolean } };
}

/** What `sharedTexture.importSharedTexture(…)` takes (Electron 40+). */
export interface ElectronImportInfo {
  textureInfo: {
    pixelFormat: string;
    codedSize: { width: number; height: number };
    visibleRect?: FrameRect;
    colorSpace?: FrameColorSpace;
    timestamp?: number;
    handle: { nativePixmap: { planes: ElectronPlane[]; modifier: string } };
  };
  /** Present for a pooled frame: Electron calls it when every process has released the texture. */
  allReferencesReleased?: () => void;
}

/** Electron's pixelFormat names → DRM formats. */
const FORMATS: Record<string, string> = {
  bgra: 'ARGB8888',
  rgba: 'ABGR8888',
  rgbaf16: 'ABGR16161616F',
  nv12: 'NV12',
  nv16: 'NV16',
  p010le: 'P010',
};

/** The first Electron release whose importSharedTexture takes each pixelFormat. */
const IMPORT_SINCE: Record<string, [number, number]> = {
  bgra: [40, 0],
  rgba: [40, 0],
  rgbaf16: [40, 0],
  nv12: [40, 2],
  nv16: [42, 0],
  p010le: [42, 0],
};

/** fromPlanes' description of a paint event's texture. */
export function electronTextureToDescription(textureInfo: unknown): {
  width: number;
  height: number;
  format: string;
  modifier: string;
  planes: { fd: number; offset: number; stride: number; size: number }[];
} & FrameMetadata {
  if (textureInfo === null || textureInfo === undefined) {
    throw invalidArgument(
      FROM,
      'textureInfo',
      `is ${textureInfo}: Electron gave the paint event no shared texture (offscreen.useSharedTexture is off, or it fell back to software rendering); the pixels are in the event's image`,
    );
  }
  const info = checkObject(FROM, 'textureInfo', textureInfo);
  if ('textureInfo' in info && typeof info['release'] === 'function') {
    throw invalidArgument(FROM, 'textureInfo', "is the paint event's texture; pass texture.textureInfo (and call texture.release() once the frame is read)");
  }
  const pixelFormat = info['pixelFormat'];
  const format = typeof pixelFormat === 'string' ? FORMATS[pixelFormat] : undefined;
  if (!format) throw invalidArgument(FROM, 'pixelFormat', `'${String(pixelFormat)}' is not one of ${Object.keys(FORMATS).join(', ')}`);
  const size = checkObject(FROM, 'codedSize', info['codedSize']);
  let pixmap: Record<string, unknown>;
  if (info['handle'] !== undefined) {
    const handle = checkObject(FROM, 'handle', info['handle']);
    if (handle['nativePixmap'] === undefined) {
      const other = ['ntHandle', 'ioSurface'].find((k) => k in handle);
      throw invalidArgument(
        FROM,
        'handle',
        other ? `holds a ${other === 'ntHandle' ? 'Windows' : 'macOS'} ${other}, not a dma-buf (nativePixmap is Linux's)` : 'has no nativePixmap',
      );
    }
    pixmap = checkObject(FROM, 'handle.nativePixmap', handle['nativePixmap']); // Electron 39+
  } else if (info['planes'] !== undefined) {
    pixmap = info; // Electron 34–38
  } else {
    throw invalidArgument(FROM, 'textureInfo', 'has neither handle.nativePixmap (Electron 39 and later) nor planes (Electron 34–38)');
  }
  const modifier = pixmap['modifier'];
  if (typeof modifier !== 'string' || !/^\d+$/.test(modifier)) {
    throw invalidArgument(
      FROM,
      'modifier',
      `must be the decimal string Electron gives, got ${typeof modifier === 'string' ? `'${modifier}'` : typeof modifier}`,
    );
  }
  const planes = pixmap['planes'];
  if (!Array.isArray(planes)) throw invalidArgument(FROM, 'planes', 'is not an array');
  return {
    width: size['width'] as number,
    height: size['height'] as number,
    format,
    modifier,
    planes: planes.map((p: unknown, i: number) => {
      const plane = checkObject(FROM, `planes[${i}]`, p);
      return { fd: plane['fd'] as number, offset: plane['offset'] as number, stride: plane['stride'] as number, size: plane['size'] as number };
    }),
    ...(info['colorSpace'] == null ? {} : { colorSpace: info['colorSpace'] as FrameColorSpace }),
    ...(info['visibleRect'] == null ? {} : { visibleRect: info['visibleRect'] as FrameRect }),
    ...(info['timestamp'] == null ? {} : { timestamp: info['timestamp'] as number }),
  };
}

/** [major, minor] of a version string such as '40.2.0' or '42.0.0-beta.7'. */
function parseVersion(version: unknown): [number, number] {
  const m = typeof version === 'string' ? /^v?(\d+)\.(\d+)/.exec(version) : null;
  if (!m) throw invalidArgument(TO, 'electronVersion', `must be a version such as '40.2.0', got ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * The importSharedTexture options for a frame. `electronVersion` (default: this process's
 * Electron; none outside Electron, then nothing is refused) decides which formats are refused.
 * `lend` takes a pooled frame's loan, ended by allReferencesReleased.
 */
export function frameToElectron(
  frame: {
    width: number;
    height: number;
    formatName: string;
    modifier: bigint;
    planes: ElectronPlane[];
  } & FrameMetadata,
  electronVersion: unknown,
  lend: () => (() => void) | undefined,
): ElectronImportInfo {
  const pixelFormat = Object.keys(FORMATS).find((k) => FORMATS[k] === frame.formatName);
  if (!pixelFormat) {
    throw new DmaBufError(MisuseCode.UNSUPPORTED, `Electron has no pixelFormat for ${frame.formatName}; it takes ${Object.values(FORMATS).join(', ')}`, {
      syscall: TO,
    });
  }
  const version = electronVersion ?? process.versions['electron'];
  if (version !== undefined) {
    const [major, minor] = parseVersion(version);
    const [sinceMajor, sinceMinor] = IMPORT_SINCE[pixelFormat] as [number, number];
    if (major < sinceMajor || (major === sinceMajor && minor < sinceMinor)) {
      const why = major < 40 ? 'Electron has no sharedTexture.importSharedTexture before 40.0' : `its importSharedTexture refuses '${pixelFormat}'`;
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `Electron ${String(version)} cannot import a ${frame.formatName} frame: ${why}; '${pixelFormat}' is imported from Electron ${sinceMajor}.${sinceMinor}`,
        { syscall: TO, argument: 'electronVersion' },
      );
    }
  }
  const end = lend();
  // A plain, unfrozen object: importSharedTexture writes an `id` into textureInfo.
  return {
    textureInfo: {
      pixelFormat,
      codedSize: { width: frame.width, height: frame.height },
      ...(frame.visibleRect === undefined ? {} : { visibleRect: { ...frame.visibleRect } }),
      ...(frame.colorSpace === undefined ? {} : { colorSpace: { ...frame.colorSpace } }),
      ...(frame.timestamp === undefined ? {} : { timestamp: frame.timestamp }),
      handle: { nativePixmap: { planes: frame.planes, modifier: frame.modifier.toString() } },
    },
    ...(end === undefined ? {} : { allReferencesReleased: end }),
  };
}
