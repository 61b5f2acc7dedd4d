// Frames on real dma-bufs: heap (or udmabuf where the kernel has no heaps), udmabuf, and vgem dumb
// buffers (a real DRM exporter: the pitch is the one CREATE_DUMB chose); read back through a second
// import of the same fds, and by an independent consumer (Python's mmap).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FdChannel, Frame, Udmabuf } from '../../lib/index.js';
import { VgemFenceSource } from '../../lib/testing/index.js';
import { kernelAllocator, NEEDS_PYTHON, provides, runKernel, runVgem } from '../helpers/env.js';
import { dmaBufMappings, mappingsMadeSince, fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { fixturePath } from '../helpers/fixtures.js';

/** Writes each plane's rows with a value per plane and row, then checks them through a fresh import. */
function roundTrip(frame: Frame): void {
  frame.withCpuAccess('write', (a) => {
    for (let p = 0; p < frame.planes.length; p++) {
      let r = 0;
      for (const row of a.plane(p).rows()) row.fill((p * 50 + r++) & 0xff);
    }
  });
  using again = Frame.fromPlanes({ ...frame.describe(), modifier: 0n });
  expect(again.planes.length).toBe(frame.planes.length);
  again.withCpuAccess('read', (a) => {
    for (let p = 0; p < again.planes.length; p++) {
      const rows = [...a.plane(p).rows()];
      expect(
        rows.every((row, r) => row.every((b) => b === ((p * 50 + r) & 0xff))),
        `plane ${p}`,
      ).toBe(true);
    }
  });
}

describe.runIf(runKernel)('kernel: frames over real dma-bufs (needs a dma-heap or udmabuf)', () => {
  it.each(['NV12', 'XRGB8888'])('%s from the kernel allocator and from udmabuf, plane by plane, read back through a second import', (format) => {
    using heap = kernelAllocator();
    for (const allocator of [heap, Udmabuf]) {
      using frame = Frame.allocate(allocator, { width: 320, height: 240, format });
      expect(frame.planes.every((p) => p.buffer.backend === 'kernel')).toBe(true);
      roundTrip(frame);
    }
  });

  it('planes sharing one fd share one holder and one bracket; a tiled modifier is refused before any mmap', () => {
    using heap = kernelAllocator();
    using frame = Frame.allocate(heap, { width: 64, height: 64, format: 'NV12' });
    const d = frame.describe();
    using imported = Frame.fromPlanes({ ...d, modifier: 0n });
    expect(imported.planes[0]!.buffer).toBe(imported.planes[1]!.buffer);
    const before = dmaBufMappings();
    using tiled = Frame.fromPlanes({ ...d, modifier: (1n << 56n) | 2n }); // I915_FORMAT_MOD_Y_TILED
    expect(() => tiled.beginCpuAccess('read')).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'modifier' }));
    expect(mappingsMadeSince(before)).toEqual([]);
  });

  it.runIf(runVgem)('vgem dumb buffers: XRGB8888 and NV12 at the pitch CREATE_DUMB chose', () => {
    using vgem = VgemFenceSource.open();
    const rgb = vgem.createDumb(200, 100, 32);
    using rgbBuf = rgb.buffer;
    expect(rgbBuf.exporter).toBe('drm');
    using rgbFrame = Frame.fromPlanes({ width: 200, height: 100, format: 'XRGB8888', modifier: 0n, planes: [{ fd: rgbBuf.fd, offset: 0, stride: rgb.pitch }] });
    roundTrip(rgbFrame);
    const yuv = vgem.createDumb(200, 150, 8); // Y then CbCr, 1.5 × height rows of one byte per pixel
    using yuvBuf = yuv.buffer;
    using nv12 = Frame.fromPlanes({
      width: 200,
      height: 100,
      format: 'NV12',
      modifier: 0n,
      planes: [
        { fd: yuvBuf.fd, offset: 0, stride: yuv.pitch },
        { fd: yuvBuf.fd, offset: yuv.pitch * 100, stride: yuv.pitch },
      ],
    });
    roundTrip(nv12);
  });

  it('FdChannel#sendFrame / Frame.fromMessage: one fd per distinct buffer, the description as JSON', async () => {
    const fds = fdSnapshot();
    {
      using heap = kernelAllocator();
      using frame = Frame.allocate(heap, { width: 64, height: 48, format: 'NV12' });
      frame.withCpuAccess('write', (a) => [...a.plane(1).rows()][3]!.fill(77));
      const [a, b] = FdChannel.pair();
      await a.sendFrame(frame, { sequence: 9 });
      const message = await b.receive({ timeoutMs: 10_000 });
      expect(message.buffers.length).toBe(1); // two planes, one buffer, one fd
      const { frame: received, extra } = Frame.fromMessage(message);
      expect(extra).toEqual({ sequence: 9 });
      expect(received.describe()).toMatchObject({ width: 64, height: 48, formatName: 'NV12', modifier: 0n });
      received.withCpuAccess('read', (x) => expect([...x.plane(1).rows()][3]![0]).toBe(77));
      received.close();
      expect(message.buffers[0]!.closed).toBe(true); // the frame took the message's buffer over
      expect(() => Frame.fromMessage({ text: () => '{"type":"other"}', buffers: [] })).toThrow(
        expect.objectContaining({ code: 'EINVAL', argument: 'message' }),
      );
      a.close();
      b.close();
    }
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it.runIf(provides.python3)(`an independent consumer (Python, mmap) receives the description and fds and finds the pixels ${NEEDS_PYTHON}`, async () => {
    using heap = kernelAllocator();
    using frame = Frame.allocate(heap, { width: 64, height: 48, format: 'NV12' });
    frame.withCpuAccess('write', (a) => {
      [...a.plane(0).rows()][10]!.fill(200);
      [...a.plane(1).rows()][5]!.fill(99);
    });
    const [mine, theirs] = FdChannel.pair();
    const child = spawn('python3', [fixturePath('python_frame.py')], { stdio: ['ignore', 'inherit', 'inherit', theirs.fd] });
    theirs.close();
    // One fd per distinct buffer; each plane names its buffer's index in the message.
    const buffers = [...new Set(frame.planes.map((p) => p.buffer))];
    const d = frame.describe();
    const planes = frame.planes.map((p, i) => ({ buffer: buffers.indexOf(p.buffer), offset: d.planes[i]!.offset, stride: p.stride }));
    await mine.send(
      JSON.stringify({
        ...d,
        modifier: String(d.modifier),
        planes,
        probes: [
          { plane: 0, x: 3, y: 10 },
          { plane: 0, x: 3, y: 11 },
          { plane: 1, x: 7, y: 5 },
        ],
      }),
      buffers,
    );
    const reply = await mine.receive({ timeoutMs: 60_000 });
    expect(JSON.parse(reply.text())).toEqual({ found: [200, 0, 99] });
    await new Promise((resolve) => child.on('exit', resolve));
    mine.close();
  });
});
