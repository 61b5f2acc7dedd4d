// Node → real GStreamer 1.26 → Node with dma-bufs: frames of a FramePool go out of a UnixFdSink
// into `unixfdsrc ! identity ! unixfdsink` (the cached Debian 13 root, run from the x86_64 VM) and
// come back into a UnixFdSrc in the same process. GStreamer forwards our DMABUF memories as it got
// them, so every frame that comes back is one of the pool's own buffers (same inode: no copy
// anywhere), its caps as GStreamer re-serialised them (plain and DMA_DRM forms), its pixels what
// the producer wrote for that frame. Every few frames the run drains (every frame back in the
// pool, nothing held) and counts its fds and dma-buf mappings: the counts stay where they were.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DmaHeap, type Frame, FramePool, UnixFdSink, UnixFdSrc } from '../../lib/index.js';
import { addonLoads, runHeaps } from '../helpers/env.js';
import { abstractName, connectWhenListening, gstLaunch, hasGst, NEEDS_GST } from '../helpers/gst.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { dmaBufMappings, fileId, openFdList } from '../helpers/proc.js';

const W = 96;
const H = 40;
const POOL = 3;

/** The byte at (x, y) of plane p of frame i. */
const pixel = (p: number, x: number, y: number, i: number): number => (p === 0 ? x * 3 + y * 5 + i : x * 7 + y * 11 + i * 13) & 0xff;

function fill(frame: Frame, i: number): void {
  frame.withCpuAccess('write', (access) => {
    for (let p = 0; p < 2; p++) {
      let y = 0;
      for (const row of access.plane(p).rows()) {
        for (let x = 0; x < row.length; x++) row[x] = pixel(p, x, y, i);
        y++;
      }
    }
  });
}

/** The first wrong byte of frame i, or undefined. */
function wrongByte(frame: Frame, i: number): string | undefined {
  return frame.withCpuAccess('read', (access) => {
    for (let p = 0; p < 2; p++) {
      let y = 0;
      for (const row of access.plane(p).rows()) {
        for (let x = 0; x < row.length; x++) if (row[x] !== pixel(p, x, y, i)) return `frame ${i} plane ${p} (${x},${y}): ${row[x]}`;
        y++;
      }
    }
    return undefined;
  });
}

describe.runIf(addonLoads && runHeaps && hasGst)(`Node → unixfdsrc ! identity ! unixfdsink → Node with dma-bufs ${NEEDS_GST}`, () => {
  expectNothingLeftEachTest();
  // The count, also in CI: 1,000 frames take about 25 s here.
  const n = 1000;
  const every = n / 4;

  for (const drmCaps of [false, true]) {
    const form = drmCaps ? 'DMA_DRM caps (drm-format=NV12)' : 'plain caps (format=NV12)';
    it(`${n} NV12 frames with ${form}: each comes back as the pool's own buffer with the pixels written for it; fd and mapping counts flat`, async () => {
      const into = abstractName();
      const back = abstractName();
      using heap = DmaHeap.open('system');
      const pool = FramePool.allocate(heap, { width: W, height: H, format: 'NV12', count: POOL, strideAlign: 4 });
      const ours = new Set<string | undefined>();
      const frames = Array.from({ length: POOL }, () => pool.tryAcquire() as Frame);
      for (const f of frames) ours.add(fileId(f.describe().planes[0]?.fd as number));
      for (const f of frames) pool.release(f);
      expect(ours.size).toBe(POOL);
      const sink = UnixFdSink.listen(`\0${into}`, { waitForConnection: true, framerate: '30/1', drmCaps });
      const gst = gstLaunch([
        'unixfdsrc',
        `socket-path=${into}`,
        'socket-type=abstract',
        '!',
        'identity',
        '!',
        'unixfdsink',
        `socket-path=${back}`,
        'socket-type=abstract',
        'wait-for-connection=true',
        // A sink keeps its last buffer for its last-sample property by default: that one frame
        // would stay lent (unixfdsrc releases a buffer only once GStreamer frees it).
        'enable-last-sample=false',
      ]);
      let src: UnixFdSrc | undefined;
      try {
        const connected = await connectWhenListening(() => UnixFdSrc.connect(`\0${back}`));
        src = connected;
        const counts: string[] = [];
        /** Every frame back in the pool and nothing held here: count what is open. */
        const drained = async (): Promise<void> => {
          const all: Frame[] = [];
          for (let k = 0; k < POOL; k++) all.push(await pool.acquire({ timeoutMs: 30000 }));
          for (const f of all) pool.release(f);
          expect(connected.held).toBe(0);
          counts.push(`${openFdList().length} fds, ${dmaBufMappings().length} dma-buf mappings`);
        };
        const wrong: string[] = [];
        let received = 0;
        let caps = '';
        let shape: unknown[] = [];
        const consumer = (async () => {
          for await (const b of connected) {
            try {
              const frame = b.frame as Frame;
              if (received === 0) {
                caps = b.caps;
                shape = [frame.width, frame.height, frame.format.name, frame.modifier];
              }
              // One memory for both planes of the pool's one-buffer frame, as GStreamer's own NV12 buffers are.
              if (b.memories.length !== 1) wrong.push(`frame ${received} came as ${b.memories.length} memories`);
              for (const p of frame.describe().planes)
                if (!ours.has(fileId(p.fd))) wrong.push(`frame ${received}: fd ${p.fd} is not one of the pool's buffers`);
              const bad = wrongByte(frame, Number(b.offset));
              if (bad) wrong.push(bad);
              if (b.offset !== BigInt(received)) wrong.push(`frame ${received} came with offset ${b.offset}`);
            } catch (error) {
              wrong.push(`frame ${received}: ${error}`);
            } finally {
              b.release();
              received++;
            }
          }
        })();
        // Counted after each quarter of the run (the first after every pool frame has been mapped
        // and sent): the counts must not grow.
        for (let i = 0; i < n; i++) {
          const frame = await pool.acquire({ timeoutMs: 30000 });
          fill(frame, i);
          expect(await sink.send(frame, { offset: BigInt(i) })).toBe(1);
          pool.release(frame);
          if ((i + 1) % every === 0) await drained();
        }
        sink.close();
        await consumer;
        expect(wrong.slice(0, 5)).toEqual([]);
        expect(received).toBe(n);
        expect(caps).toMatch(
          drmCaps ? /^video\/x-raw\(memory:DMABuf\), format=\(string\)DMA_DRM, drm-format=\(string\)NV12,/ : /^video\/x-raw, format=\(string\)NV12,/,
        );
        expect(shape).toEqual([W, H, 'NV12', 0n]);
        expect(new Set(counts).size, counts.join('; ')).toBe(1);
        connected.close();
        const done = await gst.done;
        expect(done, done.output).toMatchObject({ code: 0 });
      } finally {
        src?.close();
        sink.close();
        gst.child.kill();
        await gst.done;
        pool.close();
      }
    }, 600000);
  }
});

describe.runIf(addonLoads && runHeaps && hasGst)(`examples/gstreamer.mjs as the README runs it ${NEEDS_GST}`, () => {
  it('sends its frames through gst-launch-1.0 (found on PATH: scripts/gst/bin here) and every one comes back with its square', async () => {
    const example = join(import.meta.dirname, '..', '..', 'examples', 'gstreamer.mjs');
    const child = spawn(process.execPath, [example, '--frames', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(output).toMatch(/sent 30 frames through GStreamer; 30 came back, 30 with the square where it was drawn; gst-launch exited 0/);
    expect(code, output).toBe(0);
  }, 300000);
});
