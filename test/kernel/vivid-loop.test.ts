// A loop through a real driver (issue 20, item 3): our frame, written under a write bracket, goes
// out through vivid's HDMI output node (the driver imports our dma-buf and reads it) and comes back
// through its HDMI input into another of our buffers (the driver writes it), byte for byte. The
// suite runs checked (DMABUF_CHECK=1): the driver's reads and writes happen outside any bracket.
import { describe, expect, it } from 'vitest';
import { type DmaBuf, emulation, Frame, Udmabuf } from '../../lib/index.js';
import { VividCamera, VividLoop } from '../../lib/testing/index.js';
import { thrown } from '../helpers/errors.js';
import { PAGE, runVivid } from '../helpers/env.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { allocators } from '../helpers/kernel-allocators.js';

const pageRound = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** A YUYV frame of the loop's format over its own buffer (the frame borrows it: close both). */
function frameOf(loop: VividLoop, buffer: DmaBuf): Frame {
  const f = loop.format;
  return Frame.fromPlanes({ width: f.width, height: f.height, format: 'YUYV', modifier: 0n, planes: [{ buffer, offset: 0, stride: f.stride }] });
}

/** Byte x of row y of picture `seed`: every byte differs from its neighbours and from the other seeds' (no test pattern looks like it). */
const byteAt = (seed: number, x: number, y: number): number => (x * 7 + y * 13 + seed * 101) & 0xff;

function paint(frame: Frame, seed: number): void {
  frame.withCpuAccess('write', (access) => {
    let y = 0;
    for (const row of access.plane(0).rows()) {
      for (let x = 0; x < row.length; x++) row[x] = byteAt(seed, x, y);
      y++;
    }
  });
}

/** The first byte where `frame` differs from picture `seed`, or undefined where it is that picture. */
function firstDifference(frame: Frame, seed: number): string | undefined {
  return frame.withCpuAccess('read', (access) => {
    let y = 0;
    for (const row of access.plane(0).rows()) {
      for (let x = 0; x < row.length; x++) if (row[x] !== byteAt(seed, x, y)) return `row ${y}, byte ${x}: ${row[x]}, sent ${byteAt(seed, x, y)}`;
      y++;
    }
    return undefined;
  });
}

describe.runIf(runVivid)("kernel: a loop through vivid's HDMI output and input (VividLoop)", () => {
  expectNothingLeftEachTest();

  it('wires an HDMI output to an HDMI input of one instance: YUYV both ways, at the HDMI timings', () => {
    using loop = VividLoop.open();
    const f = loop.format;
    expect(f.format).toBe('YUYV');
    expect(f.width).toBeGreaterThanOrEqual(640);
    expect(f.stride).toBeGreaterThanOrEqual(f.width * 2);
    expect(f.size).toBe(f.stride * f.height);
  });

  for (const allocator of allocators) {
    it(`our frames written under write brackets go out and come back into other ${allocator.name} buffers, equal, one after another${allocator.marks}`, async () => {
      const source = allocator.make();
      try {
        using loop = VividLoop.open();
        const size = pageRound(loop.format.size);
        using outBuf = source.create(size, { name: 'loop-out' });
        using inBuf = source.create(size, { name: 'loop-in' });
        using out = frameOf(loop, outBuf);
        using back = frameOf(loop, inBuf);
        for (const seed of [1, 2]) {
          paint(out, seed);
          // The write bracket ended (SYNC END) before the driver reads: that is all the kernel
          // asks of a CPU writer handing a buffer to a device.
          const capture = await loop.send(out, back);
          expect(capture.bytesused).toBe(loop.format.size);
          expect(firstDifference(back, seed)).toBeUndefined();
        }
      } finally {
        source.close();
      }
    });
  }

  it('refuses, before any ioctl, what the driver would refuse or could not do; nothing stays queued, and the loop works after', async () => {
    expect(thrown(() => VividLoop.open({ instance: -1 }))).toMatchObject({ code: 'EINVAL', argument: 'instance' });
    expect(thrown(() => VividLoop.open({ instance: 'first' as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    // The VMs load two instances (n_devs=2): a third is no node at all.
    expect(thrown(() => VividLoop.open({ instance: 9 }))).toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', message: expect.stringMatching(/vivid-009/) });
    using loop = VividLoop.open();
    const size = pageRound(loop.format.size);
    using outBuf = Udmabuf.create(size);
    using inBuf = Udmabuf.create(size);
    using out = frameOf(loop, outBuf);
    using back = frameOf(loop, inBuf);
    using small = Udmabuf.create(PAGE, { name: 'small' });
    const emu = emulation.create({ coherency: 'coherent' });
    using fake = emu.udmabuf(size);
    using wrong = Frame.fromPlanes({ width: 640, height: 360, format: 'YUYV', modifier: 0n, planes: [{ buffer: inBuf, offset: 0, stride: 1280 }] });

    await expect(loop.send(out, small)).rejects.toMatchObject({ code: 'EINVAL', argument: 'target', message: expect.stringMatching(/'small' has \d+ bytes/) });
    await expect(loop.send(small, back)).rejects.toMatchObject({ code: 'EINVAL', argument: 'source' });
    await expect(loop.send(out, wrong)).rejects.toMatchObject({ code: 'EINVAL', argument: 'target', message: expect.stringMatching(/640×360/) });
    await expect(loop.send(out, fake)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/emulated/) });
    await expect(loop.send(out, out)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/same buffer/) });
    await expect(loop.send(out, 42 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    {
      using _writing = out.beginCpuAccess('write');
      await expect(loop.send(out, back)).rejects.toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
    }
    const closed = Udmabuf.create(size);
    closed.close();
    await expect(loop.send(out, closed)).rejects.toMatchObject({ code: 'ERR_DMABUF_CLOSED' });

    // Nothing was queued: a whole cycle runs now (REQBUFS would answer EBUSY on a queue left streaming).
    paint(out, 3);
    await loop.send(out, back);
    expect(firstDifference(back, 3)).toBeUndefined();
  });

  it('close() puts the instance back as it found it: the webcam input and its format; closed twice is fine, after close every call throws ERR_DMABUF_CLOSED', async () => {
    const before = (() => {
      using cam = VividCamera.open();
      return cam.format;
    })();
    const loop = VividLoop.open();
    loop.close();
    loop.close();
    expect(thrown(() => loop.format)).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    using buf = Udmabuf.create(pageRound(before.size));
    await expect(loop.send(buf, buf)).rejects.toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    using cam = VividCamera.open();
    expect(cam.format).toEqual(before);
    cam.setPattern('solid-red');
    await cam.captureInto(buf);
  });
});
