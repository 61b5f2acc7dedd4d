// A second real exporter, and a screen (issue 20, item 4): QEMU's virtio-gpu exports a dumb buffer
// as a dma-buf; we write it through our brackets and scan it out (DrmScanout: GETRESOURCES,
// GETCONNECTOR, ADDFB2, SETCRTC, DIRTYFB), and the VM runner photographs the screen with QEMU's
// screendump (test/helpers/screendump.ts). What it teaches: SYNC END alone does not put pixels on
// a virtio-gpu screen (the host keeps its own copy of the resource, and SYNC sends it nothing);
// the dirty-rect flush does.
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../lib/index.js';
import { DrmScanout } from '../../lib/testing/index.js';
import { thrown } from '../helpers/errors.js';
import { NEEDS_VIRTIO_GPU, runVirtioGpu } from '../helpers/env.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { screendump, type Screenshot } from '../helpers/screendump.js';

/** Picture `seed`'s colour at (x, y), as [r, g, b]: every picture differs from the others nearly everywhere. */
const colour = (seed: number, x: number, y: number): [number, number, number] => [
  (x + seed * 40) & 0xff,
  (y + seed * 80) & 0xff,
  (x ^ y ^ (seed * 0x55)) & 0xff,
];

/** Paint picture `seed` into rows [top, bottom) of the XRGB8888 frame (bytes B, G, R, X), under a write bracket. */
function paint(frame: Frame, seed: number): void {
  frame.withCpuAccess('write', (access) => {
    let y = 0;
    for (const row of access.plane(0).rows()) {
      for (let x = 0; x < frame.width; x++) {
        const [r, g, b] = colour(seed, x, y);
        row[x * 4] = b;
        row[x * 4 + 1] = g;
        row[x * 4 + 2] = r;
        row[x * 4 + 3] = 0xff;
      }
      y++;
    }
  });
}

/** Which picture each of the screen's rows shows (by seed; -1: none of them), checked pixel by pixel across the row. */
function rowsShowing(shot: Screenshot, seeds: number[]): number[] {
  const rows: number[] = [];
  for (let y = 0; y < shot.height; y++) {
    const found = seeds.find((seed) => {
      for (let x = 0; x < shot.width; x++) {
        const at = (y * shot.width + x) * 3;
        const [r, g, b] = colour(seed, x, y);
        if (shot.rgb[at] !== r || shot.rgb[at + 1] !== g || shot.rgb[at + 2] !== b) return false;
      }
      return true;
    });
    rows.push(found ?? -1);
  }
  return rows;
}

/** rowsShowing() as runs: [[seed, rows], …] top to bottom, so a failure says what the screen showed. */
function bands(rows: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const seed of rows) {
    const last = out[out.length - 1];
    if (last && last[0] === seed) last[1]++;
    else out.push([seed, 1]);
  }
  return out;
}

describe.runIf(runVirtioGpu)(`kernel: our pixels on a virtio-gpu screen (DrmScanout) ${NEEDS_VIRTIO_GPU}`, () => {
  expectNothingLeftEachTest();

  it('opens the virtio_gpu card: a connected output in its preferred mode, an XRGB8888 dumb buffer exported as a dma-buf we can bracket', () => {
    using screen = DrmScanout.open();
    const { width, height, stride } = screen.mode;
    expect(screen.path).toMatch(/^\/dev\/dri\/card\d+$/);
    expect(width).toBeGreaterThan(0);
    expect(stride).toBeGreaterThanOrEqual(width * 4);
    const frame = screen.frame;
    expect(frame.format.name).toBe('XRGB8888');
    const buffer = frame.planes[0]?.buffer;
    expect(buffer?.size).toBeGreaterThanOrEqual(stride * height);
    expect(buffer?.exporter).toMatch(/virtio|drm/);
    paint(frame, 1);
    frame.withCpuAccess('read', (a) => expect(Array.from(a.plane(0).bytes.subarray(0, 4))).toEqual([(0 ^ 0 ^ 0x55) & 0xff, 80, 40, 0xff]));
  });

  it('SYNC END alone leaves the old picture on the screen; DIRTYFB puts the new one there, a partial one at least in its rectangle', async () => {
    using screen = DrmScanout.open();
    const { width, height } = screen.mode;
    // A modeset uploads and shows the whole framebuffer.
    paint(screen.frame, 1);
    screen.show();
    const first = await screendump();
    expect([first.width, first.height]).toEqual([width, height]);
    expect(bands(rowsShowing(first, [1, 2, 3]))).toEqual([[1, height]]);

    // Picture 2 written under a write bracket: END done, and the screen still shows picture 1.
    paint(screen.frame, 2);
    expect(bands(rowsShowing(await screendump(), [1, 2, 3]))).toEqual([[1, height]]);

    // The dirty-rect flush sends it to the host and the screen.
    screen.flush();
    expect(bands(rowsShowing(await screendump(), [1, 2, 3]))).toEqual([[2, height]]);

    // Picture 3, flushed for the bottom half: those rows show it. Rows outside a damage rectangle
    // may be uploaded too (a driver or host may send more than the damage: on 6.12 under QEMU 7.2
    // the whole screen showed picture 3), so only the flushed rows are asserted.
    paint(screen.frame, 3);
    const half = Math.floor(height / 2);
    screen.flush({ x: 0, y: half, width, height: height - half });
    expect(rowsShowing(await screendump(), [1, 2, 3]).slice(half)).toEqual(new Array(height - half).fill(3));
  });

  it('refuses before any ioctl: a flush outside the screen, a flush or show during a write bracket; close() twice is fine, then every call throws ERR_DMABUF_CLOSED', () => {
    const screen = DrmScanout.open();
    const { width, height } = screen.mode;
    expect(thrown(() => screen.flush({ x: width, y: 0, width: 1, height: 1 }))).toMatchObject({ code: 'EINVAL', syscall: 'DRM_IOCTL_MODE_DIRTYFB' });
    expect(thrown(() => screen.flush({ x: 0, y: 0, width: width + 1, height }))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => screen.flush({ x: 0, y: 0, width: 1 } as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    {
      using _writing = screen.frame.beginCpuAccess('write');
      expect(thrown(() => screen.flush())).toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
      expect(thrown(() => screen.show())).toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
      expect(thrown(() => screen.close())).toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
    }
    screen.close();
    screen.close();
    expect(thrown(() => screen.frame)).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    expect(thrown(() => screen.flush())).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
  });

  it('a driver with no card here is ERR_DMABUF_UNSUPPORTED, and leaves no fd', () => {
    const fds = fdSnapshot();
    expect(thrown(() => DrmScanout.open({ driver: 'no_such_driver' }))).toMatchObject({
      code: 'ERR_DMABUF_UNSUPPORTED',
      message: expect.stringMatching(/no_such_driver/),
    });
    expect(thrown(() => DrmScanout.open({ driver: 7 as never }))).toMatchObject({ code: 'EINVAL' });
    expect(fdsMadeSince(fds)).toEqual([]);
  });
});
