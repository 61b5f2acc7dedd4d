// UnixFdSink → real GStreamer 1.26 (the cached Debian 13 root, run from the x86_64 VM) with real
// dma-bufs: frames of a FramePool written under brackets go out as DMABUF memories with a
// GstVideoMeta, `unixfdsrc ! videoconvert ! filesink` converts them (GStreamer reads every plane
// through our memories: one per plane), and the file holds exactly what Node wrote, frame for frame. The pool is smaller than the run: every frame is reused only after
// GStreamer's RELEASE_BUFFER, so a frame written while GStreamer still read it would show in the file.
import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaHeap, type Frame, FramePool, type UnixFdBuffer, type UnixFdMemory, UnixFdSink, UnixFdSrc } from '../../lib/index.js';
import { VividCamera } from '../../lib/testing/index.js';
import { addonLoads, kernelAllocator, provides, runHeaps, runKernel } from '../helpers/env.js';
import { abstractName, connectWhenListening, gstLaunch, hasGst, NEEDS_GST } from '../helpers/gst.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { fdSnapshot, fdsMadeSince, fileId } from '../helpers/proc.js';
import { rounds } from '../helpers/rounds.js';

const W = 100;
const H = 50;

function fill(frame: Frame, i: number): void {
  frame.withCpuAccess('write', (access) => {
    for (let p = 0; p < frame.format.cpp.length; p++) {
      const plane = access.plane(p);
      plane.bytes.fill(0xee); // stride padding: GStreamer must skip it
      let y = 0;
      for (const row of plane.rows()) {
        for (let x = 0; x < row.length; x++) row[x] = pixel(frame.format.name, p, x, y, i);
        y++;
      }
    }
  });
}

/** The byte at (x, y) of plane p of frame i (x counts bytes in the row). */
function pixel(format: string, p: number, x: number, y: number, i: number): number {
  if (format === 'NV12') return p === 0 ? (x * 3 + y * 7 + i) & 0xff : x % 2 === 0 ? (x * 5 + i) & 0xff : (y * 11 + i * 3) & 0xff;
  // XRGB8888: B, G, R, X in memory.
  const px = x >> 2;
  return [(px + i) & 0xff, (y * 3 + i) & 0xff, (px * y + i) & 0xff, 0xff][x & 3] as number;
}

/** What videoconvert writes for frame i: I420 from NV12, RGBx from XRGB8888, in GStreamer's default layout. */
function check(format: string, file: Uint8Array, i: number, size: number): string | undefined {
  const f = file.subarray(i * size, (i + 1) * size);
  if (format === 'NV12') {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (f[y * W + x] !== pixel('NV12', 0, x, y, i)) return `frame ${i} Y(${x},${y})`;
    const cs = Math.ceil(W / 2 / 4) * 4;
    const u = W * H;
    const v = u + cs * (H / 2);
    for (let y = 0; y < H / 2; y++)
      for (let x = 0; x < W / 2; x++) {
        if (f[u + y * cs + x] !== pixel('NV12', 1, 2 * x, y, i)) return `frame ${i} U(${x},${y})`;
        if (f[v + y * cs + x] !== pixel('NV12', 1, 2 * x + 1, y, i)) return `frame ${i} V(${x},${y})`;
      }
    return undefined;
  }
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = y * W * 4 + x * 4;
      const [r, g, b] = [f[o], f[o + 1], f[o + 2]];
      if (r !== pixel(format, 0, x * 4 + 2, y, i) || g !== pixel(format, 0, x * 4 + 1, y, i) || b !== pixel(format, 0, x * 4, y, i))
        return `frame ${i} (${x},${y})`;
    }
  return undefined;
}

describe.runIf(addonLoads && runHeaps && hasGst)(`UnixFdSink → GStreamer with dma-bufs ${NEEDS_GST}`, () => {
  expectNothingLeftEachTest();

  const n = rounds(1000, 100);
  for (const [format, out, outSize] of [
    ['NV12', 'I420', W * H + 2 * (Math.ceil(W / 2 / 4) * 4) * (H / 2)],
    ['XRGB8888', 'RGBx', W * H * 4],
  ] as const) {
    it(`${n} ${format} frames through unixfdsrc ! videoconvert ! ${out} ! filesink: the file is what Node wrote; a pool of 3 waits for GStreamer's releases`, async () => {
      const name = abstractName();
      const file = `/tmp/${name}.raw`;
      using heap = DmaHeap.open('system');
      // GStreamer's default layout (strides rounded to 4): unixfdsrc 1.26.2 drops the GstVideoMeta
      // when its process has not registered GstVideoMeta yet (gst_meta_deserialize), as here,
      // and then reads default strides. Padded strides: see docs/GSTREAMER.md, "Known limits".
      const pool = FramePool.allocate(heap, { width: W, height: H, format, count: 3, strideAlign: 4 });
      const sink = UnixFdSink.listen(`\0${name}`, { waitForConnection: true, framerate: '30/1' });
      const gst = gstLaunch([
        'unixfdsrc',
        `socket-path=${name}`,
        'socket-type=abstract',
        '!',
        'videoconvert',
        'chroma-mode=none',
        'dither=none',
        '!',
        `video/x-raw,format=${out}`,
        '!',
        'filesink',
        `location=${file}`,
        'sync=false',
      ]);
      try {
        for (let i = 0; i < n; i++) {
          const frame = await pool.acquire({ timeoutMs: 20000 });
          fill(frame, i);
          expect(await sink.send(frame, { offset: BigInt(i) })).toBe(1);
          pool.release(frame);
        }
        // Every frame back: GStreamer released them all.
        const all = [];
        for (let k = 0; k < 3; k++) all.push(await pool.acquire({ timeoutMs: 20000 }));
        for (const f of all) pool.release(f);
        expect(sink.clients).toBe(1);
        sink.close();
        const done = await gst.done;
        expect(done, done.output).toMatchObject({ code: 0 });
        const bytes = new Uint8Array(readFileSync(file));
        expect(bytes.length).toBe(n * outSize);
        const wrong: string[] = [];
        for (let i = 0; i < n && wrong.length < 5; i++) {
          const bad = check(format, bytes, i, outSize);
          if (bad) wrong.push(bad);
        }
        expect(wrong).toEqual([]);
      } finally {
        sink.close();
        gst.child.kill();
        await gst.done;
        pool.close();
        rmSync(file, { force: true });
      }
    }, 300000);
  }
});

describe.runIf(addonLoads && runKernel)('UnixFdSink: a layout only the GstVideoMeta carries', () => {
  it('a frame with padded strides is refused before anything is sent or lent, saying why and how; with trustVideoMeta it goes, and the meta carries its strides', async () => {
    using alloc = kernelAllocator();
    const pool = FramePool.allocate(alloc, { width: W, height: H, format: 'NV12', count: 1, strideAlign: 64 });
    const name = `\0${abstractName()}`;
    const strict = UnixFdSink.listen(name);
    const frame = pool.tryAcquire() as Frame;
    const before = fdSnapshot();
    await expect(strict.send(frame)).rejects.toMatchObject({
      code: 'ERR_DMABUF_UNSUPPORTED',
      argument: 'frame',
      message: expect.stringMatching(/strides \[128, 128\].*default \[100, 100\].*strideAlign: 4.*trustVideoMeta: true/),
    });
    expect(fdsMadeSince(before)).toEqual([]);
    strict.close();
    // Nothing was lent: the frame goes back to the pool at once.
    pool.release(frame);
    expect(pool.available).toBe(1);

    const trusting = UnixFdSink.listen(name, { trustVideoMeta: true, waitForConnection: true });
    const src = await UnixFdSrc.connect(name);
    const again = pool.tryAcquire() as Frame;
    expect(await trusting.send(again)).toBe(1);
    pool.release(again);
    const buffer = (await src[Symbol.asyncIterator]().next()).value as UnixFdBuffer;
    expect(buffer.frame?.describe().planes.map((p) => p.stride)).toEqual([128, 128]);
    // One memory spanning both planes of the frame's one buffer; the meta places the chroma in it.
    expect(buffer.memories).toHaveLength(1);
    expect(buffer.frame?.describe().planes.map((p) => p.offset)).toEqual([0, 128 * H]);
    buffer.release();
    src.close();
    trusting.close();
    pool.close();
  });
});

describe.runIf(addonLoads && provides.vivid && hasGst)(`GStreamer → UnixFdSrc with dma-bufs: v4l2src on vivid ${NEEDS_GST}`, () => {
  it("v4l2src io-mode=dmabuf ! unixfdsink: vivid's own buffers arrive as dma-buf Frames, read under brackets, the pattern exact; every release reaches GStreamer", async () => {
    // The pattern and the text overlay are vivid controls, kept by the device between opens.
    const camera = VividCamera.open();
    const device = camera.path;
    camera.setPattern('solid-green');
    camera.close();
    const name = abstractName();
    const before = fdSnapshot();
    const gst = gstLaunch([
      'v4l2src',
      `device=${device}`,
      'io-mode=dmabuf',
      'num-buffers=12',
      '!',
      'video/x-raw,format=YUY2,width=640,height=360',
      '!',
      'unixfdsink',
      `socket-path=${name}`,
      'socket-type=abstract',
      'wait-for-connection=true',
    ]);
    try {
      const src = await connectWhenListening(() => UnixFdSrc.connect(`\0${name}`));
      const groups = new Set<string>();
      let n = 0;
      for await (const b of src) {
        expect(b.caps).toMatch(/^video\/x-raw, format=\(string\)YUY2, width=\(int\)640, height=\(int\)360/);
        const frame = b.frame as Frame;
        expect(frame).not.toBeNull();
        expect(frame.format.name).toBe('YUYV');
        for (const m of b.memories) expect(m.handle).toBeInstanceOf(DmaBuf);
        // vivid's buffers exported by videobuf2 (vb2_vmalloc's dma-buf exporter), not ours.
        expect(((b.memories[0] as UnixFdMemory).handle as DmaBuf).exporter).toMatch(/videobuf2/);
        const plane = frame.describe().planes[0] as { stride: number };
        expect(plane.stride).toBeGreaterThanOrEqual(1280);
        // The first frames may predate the pattern change; the rest are one colour.
        if (n >= 4) {
          const rows = frame.withCpuAccess('read', (a) => {
            const p = a.plane(0);
            const out: string[] = [];
            for (let y = 0; y < 360; y += 7) {
              const row = p.bytes.subarray(y * p.stride, y * p.stride + 1280);
              for (let x = 0; x < 1280; x += 4) out.push(row.subarray(x, x + 4).join());
            }
            return out;
          });
          for (const g of rows) groups.add(g);
        }
        b.release();
        n++;
      }
      expect(n).toBe(12);
      expect(src.held).toBe(0);
      // One YUYV group everywhere: solid green (Y low-ish, U and V below 128).
      expect([...groups]).toHaveLength(1);
      const [y0, u, y1, v] = ([...groups][0] as string).split(',').map(Number) as [number, number, number, number];
      expect(y0).toBe(y1);
      expect(u).toBeLessThan(128);
      expect(v).toBeLessThan(128);
      src.close();
      const done = await gst.done;
      expect(done, done.output).toMatchObject({ code: 0 });
      expect(fdsMadeSince(before)).toEqual([]);
    } finally {
      gst.child.kill();
      await gst.done;
    }
  }, 300000);
});

describe.runIf(addonLoads && provides.vivid && hasGst)(`A slow Node consumer holds GStreamer's buffers: v4l2src on vivid waits ${NEEDS_GST}`, () => {
  it("with DMA_DRM caps: while Node holds every buffer it took, no new one comes (v4l2src's pool is spent); each release lets the next in, in the buffer just released", async () => {
    const camera = VividCamera.open();
    const device = camera.path;
    camera.close();
    const name = abstractName();
    const before = fdSnapshot();
    const total = 48;
    const gst = gstLaunch([
      'v4l2src',
      `device=${device}`,
      'io-mode=dmabuf',
      `num-buffers=${total}`,
      '!',
      // DMA_DRM caps: the v4l2 pool then never falls back to copying into system memory when
      // downstream holds its buffers (gstv4l2bufferpool.c: no copy threshold with memory:DMABuf
      // caps); it allocates more of vivid's buffers (CREATE_BUFS) up to its maximum, then waits.
      'video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=YUYV,width=320,height=180',
      '!',
      'unixfdsink',
      `socket-path=${name}`,
      'socket-type=abstract',
      'wait-for-connection=true',
    ]);
    const held: UnixFdBuffer[] = [];
    let connected: UnixFdSrc | undefined;
    try {
      const src = await connectWhenListening(() => UnixFdSrc.connect(`\0${name}`));
      connected = src;
      const fileOf = (b: UnixFdBuffer): string | undefined => fileId((b.memories[0] as UnixFdMemory).handle.fd);
      held.push(await src.receive({ timeoutMs: 120000 }));
      // Take buffers without releasing any until none comes for 10 s (vivid sends one every few
      // hundred ms here): then every buffer of v4l2src's pool is here and GStreamer waits for one back.
      for (;;) {
        try {
          held.push(await src.receive({ timeoutMs: 10000 }));
        } catch (error) {
          if ((error as { code?: string }).code !== 'ETIMEDOUT') throw error;
          break;
        }
      }
      const pool = held.length;
      expect(pool).toBeGreaterThanOrEqual(2);
      expect(pool).toBeLessThan(total);
      expect(src.held).toBe(pool);
      // The held buffers are the pool's distinct buffers (vivid's own dma-bufs).
      expect(new Set(held.map(fileOf)).size).toBe(pool);
      let received = pool;
      for (let k = 0; k < 3; k++) {
        const oldest = held.shift() as UnixFdBuffer;
        const freed = fileOf(oldest);
        oldest.release();
        const next = await src.receive({ timeoutMs: 60000 });
        received++;
        // Only the released buffer could be filled again.
        expect(fileOf(next)).toBe(freed);
        held.push(next);
        await expect(src.receive({ timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      }
      for (const b of held.splice(0)) b.release();
      for await (const b of src) {
        b.release();
        received++;
      }
      expect(received).toBe(total);
      expect(src.held).toBe(0);
      src.close();
      const done = await gst.done;
      expect(done, done.output).toMatchObject({ code: 0 });
      expect(fdsMadeSince(before)).toEqual([]);
    } finally {
      for (const b of held) b.release();
      connected?.close();
      gst.child.kill();
      await gst.done;
    }
  }, 400000);
});
