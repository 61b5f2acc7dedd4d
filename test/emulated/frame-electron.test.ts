// Electron's shared textures, one test per version shape. Each object is built field by field as
// that Electron version's C++ converter builds it on Linux (electron/electron
// shell/common/gin_converters/osr_converter.cc and docs/api/structures/offscreen-shared-texture.md
// at the tags named; electron_api_shared_texture.cc for what importSharedTexture reads). Electron
// itself downloads its binary at install and cannot run here; these objects are its shapes.
import { describe, expect, it } from 'vitest';
import { emulation, Frame, FramePool, type ElectronTextureInfo } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';

const emu = () => emulation.create({ coherency: 'writeback', seed: 7 });

type Plane = { stride: number; offset: number; size: number; fd: number };
/** Planes in the key order the converter sets them (stride, offset, size, fd). */
const planesOf = (f: Frame): Plane[] => f.describe().planes.map((p) => ({ stride: p.stride, offset: p.offset, size: p.size, fd: p.fd }));

const metadata = { captureUpdateRect: null, regionCaptureRect: null, sourceSize: { width: 64, height: 32 }, frameCount: 3 };

/** v34.0.0 … v38.8.6: planes and modifier on textureInfo itself; no colorSpace, no handle. */
function electron34(source: Frame) {
  return {
    widgetType: 'frame',
    pixelFormat: 'bgra',
    codedSize: { width: 64, height: 32 },
    visibleRect: { x: 0, y: 0, width: 60, height: 30 },
    contentRect: { x: 0, y: 0, width: 60, height: 30 },
    timestamp: 1_500_000,
    metadata,
    planes: planesOf(source),
    modifier: '0',
  };
}

/** v39.0.0 and later: handle.nativePixmap, and colorSpace. */
function electron39(source: Frame, pixelFormat = 'bgra') {
  return {
    widgetType: 'frame',
    pixelFormat,
    codedSize: { width: source.width, height: source.height },
    visibleRect: { x: 0, y: 0, width: 60, height: 30 },
    contentRect: { x: 0, y: 0, width: 60, height: 30 },
    colorSpace: { primaries: 'bt709', transfer: 'srgb', matrix: 'rgb', range: 'full' },
    timestamp: 2_500_000,
    metadata,
    handle: { nativePixmap: { planes: planesOf(source), modifier: '0', supportsZeroCopyWebGpuImport: false } },
  };
}

describe("Frame.fromElectron: every Electron's paint texture", () => {
  it('Electron 34–38 (planes and modifier on textureInfo): imported, with visibleRect and timestamp', () => {
    using heap = emu().heap();
    using source = Frame.allocate(heap, { width: 64, height: 32, format: 'ARGB8888' });
    source.withCpuAccess('write', (a) => a.plane(0).bytes.fill(0x5a));
    using frame = Frame.fromElectron(electron34(source));
    expect(frame.format.name).toBe('ARGB8888');
    expect(frame.modifier).toBe(0n);
    expect(frame.visibleRect).toEqual({ x: 0, y: 0, width: 60, height: 30 });
    expect(frame.timestamp).toBe(1_500_000);
    expect(frame.colorSpace).toBeUndefined();
    // dup'd: Electron's fds die with texture.release(); the frame's own do not.
    expect(frame.planes[0]!.buffer.fd).not.toBe(source.planes[0]!.buffer.fd);
    expect(frame.withCpuAccess('read', (a) => a.plane(0).bytes[100])).toBe(0x5a);
  });

  it('Electron 39+ (handle.nativePixmap, colorSpace): imported with all its metadata', () => {
    using heap = emu().heap();
    using source = Frame.allocate(heap, { width: 64, height: 32, format: 'ABGR16161616F' });
    using frame = Frame.fromElectron(electron39(source, 'rgbaf16'));
    expect(frame.format.name).toBe('ABGR16161616F');
    expect(frame.colorSpace).toEqual({ primaries: 'bt709', transfer: 'srgb', matrix: 'rgb', range: 'full' });
    expect(frame.describe()).toMatchObject({ visibleRect: { x: 0, y: 0, width: 60, height: 30 }, timestamp: 2_500_000 });
  });

  it("Electron 43+'s nv12 paint output (two planes) is imported", () => {
    using heap = emu().heap();
    using source = Frame.allocate(heap, { width: 64, height: 32, format: 'NV12' });
    using frame = Frame.fromElectron(electron39(source, 'nv12'));
    expect(frame.planes.map((p) => p.offset)).toEqual(source.planes.map((p) => p.offset));
  });

  it('what is not a texture gets an error that says what to do', () => {
    using heap = emu().heap();
    using source = Frame.allocate(heap, { width: 64, height: 32, format: 'ARGB8888' });
    // texture null (software fallback) or undefined (useSharedTexture off): the pixels are in `image`.
    expect(thrown(() => Frame.fromElectron(null as unknown as ElectronTextureInfo))).toMatchObject({ code: 'EINVAL', argument: 'textureInfo' });
    expect(thrown(() => Frame.fromElectron(null as unknown as ElectronTextureInfo)).message).toMatch(/the pixels are in the event's image/);
    expect(thrown(() => Frame.fromElectron(undefined as unknown as ElectronTextureInfo)).message).toMatch(/is undefined/);
    // The texture object instead of its textureInfo.
    const texture = { textureInfo: electron39(source), release: () => undefined };
    expect(thrown(() => Frame.fromElectron(texture as unknown as ElectronTextureInfo)).message).toMatch(/pass texture\.textureInfo/);
    // Windows' and macOS' handles.
    const windows = { ...electron39(source), handle: { ntHandle: Buffer.alloc(8) } };
    expect(thrown(() => Frame.fromElectron(windows as unknown as ElectronTextureInfo)).message).toMatch(/Windows ntHandle, not a dma-buf/);
    const neither = { ...electron34(source), planes: undefined };
    expect(thrown(() => Frame.fromElectron(neither as unknown as ElectronTextureInfo)).message).toMatch(/neither handle\.nativePixmap .* nor planes/);
    expect(thrown(() => Frame.fromElectron({ ...electron39(source), pixelFormat: 'yuv9' }))).toMatchObject({ code: 'EINVAL', argument: 'pixelFormat' });
    // A number modifier is not what Electron gives (and its import ignores one).
    expect(thrown(() => Frame.fromElectron({ ...electron34(source), modifier: 0 } as unknown as ElectronTextureInfo))).toMatchObject({ argument: 'modifier' });
  });
});

describe("Frame.toElectron: importSharedTexture's options, per version", () => {
  const formats = [
    ['bgra', 'ARGB8888', '40.0.0'],
    ['rgba', 'ABGR8888', '40.0.0'],
    ['rgbaf16', 'ABGR16161616F', '40.0.0'],
    ['nv12', 'NV12', '40.2.0'],
    ['nv16', 'NV16', '42.0.0'],
    ['p010le', 'P010', '42.0.0'],
  ] as const;

  it('each format from the first version that imports it, refused by the one before, naming the version that can', () => {
    using heap = emu().heap();
    const before: Record<string, string> = { '40.0.0': '39.8.10', '40.2.0': '40.1.0', '42.0.0': '41.10.6' };
    for (const [pixelFormat, drm, since] of formats) {
      using f = Frame.allocate(heap, { width: 16, height: 16, format: drm });
      expect(f.toElectron({ electronVersion: since }).textureInfo.pixelFormat).toBe(pixelFormat);
      expect(f.toElectron({ electronVersion: '45.0.0-nightly.20260821' }).textureInfo.pixelFormat).toBe(pixelFormat);
      const error = thrown(() => f.toElectron({ electronVersion: before[since] as string }));
      expect(error).toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'electronVersion' });
      expect(error.message).toContain(`'${pixelFormat}' is imported from Electron ${since.slice(0, -2)}`);
    }
    using r8 = Frame.allocate(heap, { width: 16, height: 16, format: 'R8' });
    expect(thrown(() => r8.toElectron()).code).toBe('ERR_DMABUF_UNSUPPORTED');
    using nv12 = Frame.allocate(heap, { width: 16, height: 16, format: 'NV12' });
    expect(thrown(() => nv12.toElectron({ electronVersion: 'forty' }))).toMatchObject({ code: 'EINVAL', argument: 'electronVersion' });
  });

  it('the shape importSharedTexture reads: handle.nativePixmap, a decimal-string modifier, metadata both ways, an object it may write its id into', () => {
    using heap = emu().heap();
    using source = Frame.allocate(heap, { width: 64, height: 32, format: 'NV12' });
    using frame = Frame.fromElectron(electron39(source, 'nv12'));
    const options = frame.toElectron({ electronVersion: '41.0.0' });
    expect(options).toEqual({
      textureInfo: {
        pixelFormat: 'nv12',
        codedSize: { width: 64, height: 32 },
        visibleRect: { x: 0, y: 0, width: 60, height: 30 },
        colorSpace: { primaries: 'bt709', transfer: 'srgb', matrix: 'rgb', range: 'full' },
        timestamp: 2_500_000,
        handle: { nativePixmap: { planes: planesOf(frame).map(({ fd, stride, offset, size }) => ({ fd, stride, offset, size })), modifier: '0' } },
      },
    });
    // Electron's lib does Object.assign(options.textureInfo, { id }).
    Object.assign(options.textureInfo, { id: 'x' });
    // A paint texture goes round: what toElectron gives, fromElectron takes.
    using again = Frame.fromElectron(options.textureInfo);
    expect(again.describe()).toMatchObject({ formatName: 'NV12', timestamp: 2_500_000, colorSpace: frame.colorSpace });
  });

  it('an open write bracket refuses the export; a read bracket does not', () => {
    using heap = emu().heap();
    using frame = Frame.allocate(heap, { width: 16, height: 16, format: 'ARGB8888' });
    const writing = frame.beginCpuAccess('write');
    expect(thrown(() => frame.toElectron({ electronVersion: '40.0.0' }))).toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
    writing.end();
    frame.withCpuAccess('read', () => expect(frame.toElectron({ electronVersion: '40.0.0' }).textureInfo.pixelFormat).toBe('bgra'));
  });

  it('a pooled frame is lent to Electron until allReferencesReleased: the pool does not hand it out before', async () => {
    using heap = emu().heap();
    using pool = FramePool.allocate(heap, { width: 16, height: 16, format: 'ARGB8888', count: 1 });
    const frame = await pool.acquire();
    const { allReferencesReleased } = frame.toElectron({ electronVersion: '40.0.0' });
    expect(allReferencesReleased).toBeTypeOf('function');
    frame.close();
    expect(pool.available).toBe(0);
    expect(thrown(() => frame.toElectron())).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    allReferencesReleased?.();
    expect(pool.available).toBe(1);
    allReferencesReleased?.(); // Electron calls it once; a second call changes nothing
    expect(pool.available).toBe(1);
  });
});
