// UnixFdSink → real GStreamer 1.26 (the cached Debian 13 root, run from the x86_64 VM) with real
// dma-bufs: frames of a FramePool written under brackets go out as DMABUF memories with a
// GstVideoMeta, `unixfdsrc ! videoconvert ! filesink` converts them (GStreamer reads every plane
// through our memories: one per plane), and the file holds exactly what Node wrote, frame for frame. The pool is smaller than the run: every frame is reused only after
// GStreamer's RELEASE_BUFFER, so a frame written while GStreamer still read it would show in the file.
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DmaHeap, type Frame, FramePool, type UnixFdBuffer, UnixFdSink, UnixFdSrc } from '../../lib/index.js';
import { addonLoads, runHeaps } from '../helpers/env.js';
import { abstractName, gstLaunch, hasGst, NEEDS_GST } from '../helpers/gst.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
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
  let fdsBefore: Map<number, string>;
  beforeEach(() => {
    fdsBefore = fdSnapshot();
  });
  afterEach(() => {
    expect(fdsMadeSince(fdsBefore)).toEqual([]);
  });

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

describe.runIf(addonLoads && runHeaps)('UnixFdSink: a layout only the GstVideoMeta carries (needs a dma-buf heap)', () => {
  it('a frame with padded strides is refused before anything is sent or lent, saying why and how; with trustVideoMeta it goes, and the meta carries its strides', async () => {
    using heap = DmaHeap.open('system');
    const pool = FramePool.allocate(heap, { width: W, height: H, format: 'NV12', count: 1, strideAlign: 64 });
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
    buffer.release();
    src.close();
    trusting.close();
    pool.close();
  });
});
