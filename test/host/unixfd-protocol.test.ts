// GStreamer's unixfd protocol, the pure half (lib/unixfd/protocol.ts): the caps a frame is
// described with, both forms (plain raw video, and DMA_DRM where the modifier matters), read back
// as a receiving UnixFdSrc reads them; GStreamer's default layout; NEW_BUFFER with its GstVideoMeta.
import { describe, expect, it } from 'vitest';
import { DRM_FORMATS, type DrmFormat } from '../../lib/index.js';
import {
  capsFor,
  decodeHeader,
  decodeNewBuffer,
  defaultLayout,
  encodeNewBuffer,
  HEADER_BYTES,
  MEMORY_DMABUF,
  NEW_BUFFER,
  NONE,
  parseVideoCaps,
} from '../../lib/unixfd/protocol.js';

const nv12 = DRM_FORMATS.NV12 as DrmFormat;
const xrgb = DRM_FORMATS.XRGB8888 as DrmFormat;

describe('unixfd protocol: caps, layouts and buffers', () => {
  it('linear frames of a format GStreamer names get plain raw-video caps, in GStreamer’s byte-order names', () => {
    expect(capsFor({ width: 64, height: 32, format: nv12, modifier: 0n }, '30/1', false)).toBe(
      'video/x-raw, format=(string)NV12, width=(int)64, height=(int)32, framerate=(fraction)30/1',
    );
    // DRM names a little-endian word, GStreamer the bytes in memory: XRGB8888 is BGRx.
    expect(capsFor({ width: 8, height: 8, format: xrgb, modifier: 0n }, '0/1', false)).toContain('format=(string)BGRx');
  });

  it('DMA_DRM caps carry the fourcc and the modifier, and read back to the same format and modifier', () => {
    const modifier = 0x0100000000000001n; // I915_FORMAT_MOD_X_TILED: any non-linear modifier
    const caps = capsFor({ width: 64, height: 32, format: nv12, modifier }, '30/1', true);
    expect(caps).toBe(
      'video/x-raw(memory:DMABuf), format=(string)DMA_DRM, drm-format=(string)NV12:0x0100000000000001, width=(int)64, height=(int)32, framerate=(fraction)30/1',
    );
    expect(parseVideoCaps(caps)).toEqual({ format: nv12, modifier, width: 64, height: 32 });
    // A linear frame asked to go as DMA_DRM (drmCaps: true) names no modifier, which reads as linear.
    const linear = capsFor({ width: 8, height: 8, format: xrgb, modifier: 0n }, '0/1', true);
    expect(linear).toContain('drm-format=(string)XR24,');
    expect(parseVideoCaps(linear)).toEqual({ format: xrgb, modifier: 0n, width: 8, height: 8 });
    expect(parseVideoCaps(capsFor({ width: 64, height: 32, format: nv12, modifier: 0n }, '30/1', false))).toEqual({
      format: nv12,
      modifier: 0n,
      width: 64,
      height: 32,
    });
  });

  it('caps that are not raw video in a known format, or lack a size, read as nothing', () => {
    for (const caps of [
      'audio/x-raw, format=S16LE',
      'video/x-raw, format=(string)v210, width=(int)8, height=(int)8',
      'video/x-raw, format=(string)NV12',
      'video/x-raw(memory:DMABuf), format=(string)DMA_DRM, width=(int)8, height=(int)8',
      'video/x-raw(memory:DMABuf), format=(string)DMA_DRM, drm-format=(string)NV12:0xZZ, width=(int)8, height=(int)8',
    ]) {
      expect(parseVideoCaps(caps), caps).toBeUndefined();
    }
  });

  it("GStreamer's default layout: rows rounded up to 4, NV12's chroma after the luma of an even height", () => {
    expect(defaultLayout({ format: nv12, modifier: 0n, width: 100, height: 50 })).toEqual({ offsets: [0, 5000], strides: [100, 100] });
    expect(defaultLayout({ format: nv12, modifier: 0n, width: 6, height: 5 })).toEqual({ offsets: [0, 48], strides: [8, 8] });
    expect(defaultLayout({ format: xrgb, modifier: 0n, width: 3, height: 3 })).toEqual({ offsets: [0], strides: [12] });
  });

  it('NEW_BUFFER with a GstVideoMeta decodes to what was encoded', () => {
    const sent = {
      id: 7n,
      pts: 123_456_789n,
      dts: NONE,
      duration: 33_333_333n,
      offset: 3n,
      offsetEnd: NONE,
      flags: 0,
      memoryType: MEMORY_DMABUF,
      memories: [
        { size: 6400, offset: 0 },
        { size: 3200, offset: 6400 },
      ],
      videoMeta: { flags: 0, format: 23, width: 100, height: 50, offsets: [0, 6400], strides: [128, 128] },
    };
    const message = encodeNewBuffer(sent);
    expect(decodeHeader(message.subarray(0, HEADER_BYTES))).toEqual({ type: NEW_BUFFER, size: message.length - HEADER_BYTES });
    expect(decodeNewBuffer(message.subarray(HEADER_BYTES), 2)).toEqual(sent);
  });
});
