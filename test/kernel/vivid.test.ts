// A real device on the other end of our buffers: vivid, the kernel's virtual V4L2 driver, loaded
// in every VM profile. It writes its test pattern into our heap and udmabuf buffers
// (V4L2_MEMORY_DMABUF: videobuf2-vmalloc imports and vmaps them) and exports its own
// (VIDIOC_EXPBUF), which we read under brackets like any other dma-buf. The suite runs checked
// (DMABUF_CHECK=1): the driver's writes happen outside any bracket, as a device's must.
import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaBufError, Frame, FramePool, Memfd, Udmabuf } from '../../lib/index.js';
import { VividCamera } from '../../lib/testing/index.js';
import { thrown } from '../helpers/errors.js';
import { PAGE, runVivid } from '../helpers/env.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { rounds } from '../helpers/rounds.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { allocators } from '../helpers/kernel-allocators.js';

const BIN = new URL('../../bin/dmabuf.js', import.meta.url).pathname;
const CAPTURES = rounds(1000, 200);

/** The bytes of each plane row by row, read under a read bracket. */
function readPlanes(frame: Frame): { rows: Uint8Array[] }[] {
  return frame.withCpuAccess('read', (access) =>
    frame.planes.map((_, i) => {
      const plane = access.plane(i);
      const rows: Uint8Array[] = [];
      for (let offset = 0; offset + plane.rowBytes <= plane.bytes.length; offset += plane.stride) rows.push(plane.bytes.slice(offset, offset + plane.rowBytes));
      return { rows };
    }),
  );
}

/** Every `group`-byte group of every row equals the first: a solid picture. Returns that group. */
function solid(rows: Uint8Array[], group: number): number[] {
  const first = Array.from((rows[0] as Uint8Array).subarray(0, group));
  rows.forEach((row, r) => {
    for (let x = 0; x < row.length; x += group) {
      const got = Array.from(row.subarray(x, x + group));
      if (got.join() !== first.join()) expect.fail(`row ${r}, byte ${x}: ${got} where the solid pattern has ${first}`);
    }
  });
  return first;
}

/**
 * Eight bars of equal width (v4l2-tpg: bar = x * 8 / width), each one value across its columns
 * and down every row; returns each bar's `group` bytes. `unit` is how many bytes one column of
 * pixels takes in the row (YUYV 4 per pixel pair, NV12 luma 1, NV12 chroma 2 per pair).
 */
function bars(rows: Uint8Array[], group: number): number[][] {
  const row0 = rows[0] as Uint8Array;
  const barBytes = row0.length / 8;
  const values: number[][] = [];
  for (let b = 0; b < 8; b++) values.push(Array.from(row0.subarray(b * barBytes, b * barBytes + group)));
  rows.forEach((row, r) => {
    for (let x = 0; x < row.length; x += group) {
      const want = values[Math.floor(x / barBytes)] as number[];
      const got = Array.from(row.subarray(x, x + group));
      if (got.join() !== want.join()) expect.fail(`row ${r}, byte ${x}: ${got} where bar ${Math.floor(x / barBytes)} is ${want}`);
    }
  });
  for (let b = 1; b < 8; b++) expect(values[b], `bar ${b} differs from bar ${b - 1}`).not.toEqual(values[b - 1]);
  return values;
}

/** Red in limited-range YCbCr: low luma (about 81 of 16–235), low Cb, Cr near its top (240). */
function expectRed(y: number, u: number, v: number): void {
  expect(y).toBeGreaterThan(60);
  expect(y).toBeLessThan(100);
  expect(u).toBeLessThan(110);
  expect(v).toBeGreaterThan(220);
}

// 100% colour bars, white to black: their luma falls bar by bar (BT.601/709 weights alike).
function expectFallingLuma(lumas: number[]): void {
  for (let b = 1; b < 8; b++) expect(lumas[b] as number, `bar ${b}'s luma below bar ${b - 1}'s`).toBeLessThan(lumas[b - 1] as number);
}

describe.runIf(runVivid)('kernel: vivid writes into our buffers and exports its own (VividCamera)', () => {
  expectNothingLeftEachTest();

  it('opens the first vivid capture node: YUYV 640×360 with stride 1280 (460800 bytes) by default, YUYV and NV12 among its formats', () => {
    using cam = VividCamera.open();
    expect(cam.path).toMatch(/^\/dev\/video\d+$/);
    expect(cam.formats()).toEqual(expect.arrayContaining(['YUYV', 'NV12']));
    expect(cam.setFormat({ width: 640, height: 360, format: 'YUYV' })).toEqual({ width: 640, height: 360, format: 'YUYV', stride: 1280, size: 460800 });
    // NV12 in one buffer: the chroma plane right after the luma plane, half its rows.
    expect(cam.setFormat({ width: 640, height: 360, format: 'NV12', stride: 1024 })).toEqual({
      width: 640,
      height: 360,
      format: 'NV12',
      stride: 1024,
      size: 1024 * 360 * 1.5,
    });
    // The webcam input's sizes are fixed: the driver answers the nearest.
    expect(cam.setFormat({ width: 600, height: 350, format: 'YUYV' })).toMatchObject({ width: 640, height: 360 });
    cam.close();
    expect(thrown(() => cam.setFormat({ width: 640, height: 360, format: 'YUYV' }))).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
  });

  for (const allocator of allocators) {
    for (const format of ['YUYV', 'NV12'] as const) {
      for (const strideAlign of [64, 1024]) {
        it(`captures into ${format} frames of ${allocator.name} (strideAlign ${strideAlign}): a solid red picture pixel-exact, colour bars bar-exact, where describe() says${allocator.marks}`, async () => {
          const source = allocator.make();
          using cam = VividCamera.open();
          using frame = Frame.allocate(source, { width: 640, height: 360, format, strideAlign, name: `vivid-${format}` });
          try {
            const d = frame.describe();
            expect(cam.formats()).toContain(format);
            cam.setPattern('solid-red');
            const first = await cam.captureInto(frame);
            expect(cam.format).toMatchObject({ width: 640, height: 360, format, stride: d.planes[0]?.stride });
            expect(first.bytesused).toBe(cam.format.size);
            // The first frame after the pattern changed may have been generated before: take the next.
            const second = await cam.captureInto(frame);
            expect(second.sequence).toBeGreaterThan(first.sequence);
            let planes = readPlanes(frame);
            if (format === 'YUYV') {
              // Y0 U Y1 V: red in limited-range YCbCr is low luma, low Cb, high Cr, and both pixels alike.
              const [y0, u, y1, v] = solid(planes[0]?.rows ?? [], 4) as [number, number, number, number];
              expect(y0).toBe(y1);
              expectRed(y0, u, v);
            } else {
              const [y] = solid(planes[0]?.rows ?? [], 1) as [number];
              const [u, v] = solid(planes[1]?.rows ?? [], 2) as [number, number];
              expectRed(y, u, v);
            }
            cam.setPattern('colorbars');
            await cam.captureInto(frame);
            await cam.captureInto(frame);
            planes = readPlanes(frame);
            if (format === 'YUYV') {
              const values = bars(planes[0]?.rows ?? [], 4);
              for (const [y0, , y1] of values) expect(y0).toBe(y1);
              expectFallingLuma(values.map((v) => v[0] as number));
            } else {
              expectFallingLuma(bars(planes[0]?.rows ?? [], 1).map((v) => v[0] as number));
              bars(planes[1]?.rows ?? [], 2);
            }
          } finally {
            source.close();
          }
        });
      }
    }
  }

  it('reads the buffers vivid exports (VIDIOC_EXPBUF) under brackets: exporter videobuf2_vmalloc, importable by fd, listed by `dmabuf ls` as ours', async () => {
    using cam = VividCamera.open();
    cam.setFormat({ width: 640, height: 360, format: 'YUYV' });
    cam.setPattern('solid-blue');
    const frames = cam.exportFrames(3);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames) {
      expect(f.planes[0]?.buffer.exporter).toBe('videobuf2_vmalloc');
      expect(f.planes[0]?.buffer.size).toBeGreaterThanOrEqual(460800);
    }
    // Skip the frames the driver may have generated before the pattern applied.
    for (let i = 0; i < 2; i++) cam.release(await cam.capture());
    const frame = await cam.capture();
    expect(frames).toContain(frame);
    const [y0, u, y1, v] = solid(readPlanes(frame)[0]?.rows ?? [], 4) as [number, number, number, number];
    expect(y0).toBe(y1);
    expect(u).toBeGreaterThan(200); // blue: high Cb
    expect(v).toBeLessThan(128);
    // Imported by fd like any producer's buffer: the same exporter, the same bytes.
    const fd = frame.planes[0]?.buffer.fd as number;
    using imported = DmaBuf.fromFd(fd);
    expect(imported.exporter).toBe('videobuf2_vmalloc');
    using again = Frame.fromPlanes({ width: 640, height: 360, format: 'YUYV', modifier: 0n, planes: [{ buffer: imported, offset: 0, stride: 1280 }] });
    const bytes = (f: Frame) => Buffer.concat(readPlanes(f)[0]?.rows ?? []);
    expect(bytes(again).equals(bytes(frame)), 'the import reads what the exporter holds').toBe(true);
    // `dmabuf ls` sees vivid's buffers held by this process.
    const ls = spawnSync(process.execPath, [BIN, 'ls', '--json', '--pid', String(process.pid)], { encoding: 'utf8' });
    expect(ls.status, ls.stderr).toBe(0);
    const vivid = JSON.parse(ls.stdout).buffers.filter((b: { exporter: string }) => b.exporter === 'videobuf2_vmalloc');
    expect(vivid.length).toBe(frames.length);
    for (const b of vivid) expect(b.holders).toContain(process.pid);
    expect(thrown(() => cam.release(again))).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/not one of the frames this camera exported/) });
    cam.release(frame);
    expect(thrown(() => cam.release(frame))).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/queued in the driver already/) });
    await expect(cam.captureInto(again)).rejects.toMatchObject({ code: 'EBUSY', message: expect.stringMatching(/exportFrames/) });
    cam.close();
    // close() closed the camera's frames; ours (the import) still reads.
    expect(frames.every((f) => f.closed)).toBe(true);
    expect(imported.closed).toBe(false);
  });

  it('refuses what the driver would refuse (too small a buffer or udmabuf, a size or plane layout it cannot write, an open bracket) before queueing anything, and says why', async () => {
    using cam = VividCamera.open();
    cam.setFormat({ width: 640, height: 360, format: 'YUYV' });
    using small = Udmabuf.create(PAGE, { name: 'too-small' });
    await expect(cam.captureInto(small)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(new RegExp(`'too-small' has ${PAGE} bytes, and the 640×360 YUYV format with stride 1280 needs 460800`)),
    });
    // A frame whose size the webcam input does not have.
    using odd = Frame.allocate(Udmabuf, { width: 600, height: 360, format: 'YUYV' });
    await expect(cam.captureInto(odd)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/vivid takes 640×360 .* for a 600×360 YUYV frame/),
    });
    // NV12 whose chroma plane is not where a single-planar capture writes it.
    using buf = Udmabuf.create(640 * 360 * 2);
    using gap = Frame.fromPlanes({
      width: 640,
      height: 360,
      format: 'NV12',
      modifier: 0n,
      planes: [
        { buffer: buf, offset: 0, stride: 640 },
        { buffer: buf, offset: 640 * 400, stride: 640 },
      ],
    });
    await expect(cam.captureInto(gap)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/planes\[1\]: at offset 256000 .* writes plane 1 at offset 230400/),
    });
    // An open bracket: the device must not write under it.
    using ok = Frame.allocate(Udmabuf, { width: 640, height: 360, format: 'YUYV' });
    const access = ok.beginCpuAccess('read');
    await expect(cam.captureInto(ok)).rejects.toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
    access.end();
    await expect(cam.captureInto(ok, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await cam.captureInto(ok)).bytesused).toBe(460800);
  });

  // Each failure the driver injects (vivid's error-injection controls) must leave the queue
  // stopped and freed: S_FMT is EBUSY while buffers are allocated (vb2_is_busy), so a setFormat
  // that goes through proves REQBUFS 0 ran; and the camera captures again after.
  for (const [kind, code, syscall] of [
    ['qbuf', 'EINVAL', 'VIDIOC_QBUF'],
    ['streamon', 'EINVAL', 'VIDIOC_STREAMON'],
    ['buffer', 'EIO', 'VIDIOC_DQBUF'],
  ] as const) {
    it(`a driver failure at ${syscall} (injected: '${kind}') rejects with ${code} and leaves nothing queued`, async () => {
      using cam = VividCamera.open();
      using frame = Frame.allocate(Udmabuf, { width: 640, height: 360, format: 'YUYV' });
      await cam.captureInto(frame);
      // Freed once between captures, so the injected QBUF and STREAMON failures meet a fresh queue.
      cam.setFormat({ width: 640, height: 360, format: 'YUYV' });
      cam.injectError(kind);
      await expect(cam.captureInto(frame)).rejects.toMatchObject({ code, syscall });
      expect(cam.setFormat({ width: 640, height: 360, format: 'YUYV' })).toMatchObject({ stride: 1280 });
      expect(inspect(cam)).toMatch(/streaming: false/);
      expect((await cam.captureInto(frame)).bytesused).toBe(460800);
    });
  }

  it('vivid with videobuf2-dma-contig (instance 1: allocators=1) refuses a scattered udmabuf at QBUF with EFAULT saying why, and leaves nothing queued', async () => {
    using cam = VividCamera.open({ instance: 1 });
    expect(cam.setFormat({ width: 640, height: 360, format: 'YUYV' })).toMatchObject({ size: 460800 });
    const pages = Math.ceil(460800 / PAGE);
    using memfd = Memfd.create(pages * PAGE, { name: 'scattered' });
    memfd.seal();
    // Even pages, then odd ones: neighbours in the buffer are never neighbours in the memfd, so
    // the buffer's pages cannot form one contiguous range, however the memfd's pages lie.
    const order = [...Array(pages).keys()].sort((a, b) => (a % 2) - (b % 2) || a - b);
    using scattered = Udmabuf.fromSegments(
      order.map((i) => ({ memfd, offset: i * PAGE, size: PAGE })),
      { name: 'scattered' },
    );
    await expect(cam.captureInto(scattered)).rejects.toMatchObject({
      code: 'EFAULT',
      syscall: 'VIDIOC_QBUF',
      message: expect.stringMatching(/could not map buffer 'scattered' \(exporter udmabuf\) as one contiguous range/),
    });
    expect(cam.setFormat({ width: 640, height: 360, format: 'YUYV' })).toMatchObject({ stride: 1280 });
    expect(inspect(cam)).toMatch(/streaming: false/);
  });

  it('close() during a capture rejects it with ERR_DMABUF_CLOSED: the wait on the event loop ends, nothing is left open', async () => {
    const cam = VividCamera.open();
    using frame = Frame.allocate(Udmabuf, { width: 640, height: 360, format: 'YUYV' });
    await cam.captureInto(frame);
    const pending = cam.captureInto(frame);
    cam.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    expect(inspect(cam)).toMatch(/closed: true/);
  });

  it(`${CAPTURES} captures into a pool of 3 frames: fd and mapping counts flat, each frame's sequence newer than the last`, { timeout: 600_000 }, async () => {
    using cam = VividCamera.open();
    using pool = FramePool.allocate(Udmabuf, { width: 320, height: 180, format: 'YUYV', count: 3, name: 'vivid-pool' });
    cam.setPattern('solid-green');
    let last = -1;
    let fdsAfterWarmUp: string[] | undefined;
    const warmFds = fdSnapshot();
    for (let i = 0; i < CAPTURES; i++) {
      const frame = await pool.acquire();
      const { sequence } = await cam.captureInto(frame);
      expect(sequence).toBeGreaterThan(last);
      last = sequence;
      if (i === 10) fdsAfterWarmUp = fdsMadeSince(warmFds);
      frame.close();
    }
    expect(fdsMadeSince(warmFds)).toEqual(fdsAfterWarmUp);
    // The last frame holds the pattern.
    const frame = await pool.acquire();
    await cam.captureInto(frame);
    const [y0, u, y1, v] = solid(readPlanes(frame)[0]?.rows ?? [], 4) as [number, number, number, number];
    expect(y0).toBe(y1);
    expect(u).toBeLessThan(128);
    expect(v).toBeLessThan(128);
    frame.close();
  });

  it('bad arguments are DmaBufErrors before any ioctl', async () => {
    using cam = VividCamera.open();
    expect(thrown(() => cam.setPattern('plaid' as never))).toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/unknown pattern 'plaid'; known: colorbars/),
    });
    expect(thrown(() => cam.setFormat({ width: 640, height: 360, format: 'P010' }))).toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/vivid offers .*YUYV.* not P010/),
    });
    expect(thrown(() => cam.setFormat({ width: 0, height: 360, format: 'YUYV' }))).toBeInstanceOf(DmaBufError);
    expect(thrown(() => cam.exportFrames(0))).toMatchObject({ code: 'EINVAL' });
    await expect(cam.capture()).rejects.toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', message: expect.stringMatching(/exportFrames/) });
    await expect(cam.captureInto({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => VividCamera.open({ instance: 63 }))).toMatchObject({
      code: 'ERR_DMABUF_UNSUPPORTED',
      message: expect.stringMatching(/no capture node of vivid instance 63 \(platform:vivid-063\).*modprobe vivid n_devs=64`/),
    });
  });
});
