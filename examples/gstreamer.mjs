#!/usr/bin/env node
// Frames to GStreamer and back, zero copy: Node draws a moving square into NV12 dma-buf frames and
// hands them to a real pipeline, `unixfdsrc ! identity ! unixfdsink` (GStreamer's unixfd elements,
// 1.24 or newer), which hands them back to this process; each frame that comes back is read under a
// read bracket and its square checked. The pool's frames are lent to GStreamer until it releases
// them, so Node never draws into a frame GStreamer still holds.
//
//   node examples/gstreamer.mjs [--frames N]
//
// Needs gst-launch-1.0 (GStreamer 1.24+, with gst-plugins-bad) on PATH, or in GST_LAUNCH, and the
// kernel backend (a dma-heap or /dev/udmabuf). In the test VM, with the project's GStreamer root
// (`npm run gst:prepare`, which also puts scripts/gst/bin/gst-launch-1.0 on the VM's PATH):
//   npm run vm -- node examples/gstreamer.mjs
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { DmaHeap, FramePool, Udmabuf, UnixFdSink, UnixFdSrc } from 'dmabuf';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '60' } } });
const FRAMES = Number(values.frames);
const WIDTH = 320;
const HEIGHT = 240;
const SQUARE = 32;
const into = `dmabuf-example-in-${process.pid}`;
const back = `dmabuf-example-out-${process.pid}`;

// strideAlign 4: GStreamer's default layout, which GStreamer 1.24–1.26 needs (docs/GSTREAMER.md).
const heap = DmaHeap.list().includes('system') ? DmaHeap.open('system') : undefined;
const pool = FramePool.allocate(heap ?? Udmabuf, { width: WIDTH, height: HEIGHT, format: 'NV12', count: 4, strideAlign: 4 });
const sink = UnixFdSink.listen(`\0${into}`, { waitForConnection: true, framerate: '30/1' });

// enable-last-sample=false: a sink keeps its last buffer otherwise, and that frame stays lent.
const gst = spawn(
  process.env.GST_LAUNCH ?? 'gst-launch-1.0',
  [
    '-q',
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
    'enable-last-sample=false',
  ],
  { stdio: 'inherit' },
);
let code; // gst-launch's exit status, once it exits
const exited = new Promise((resolve) => {
  const end = (c) => {
    code = c;
    resolve(c);
  };
  gst.on('exit', end).on('error', (e) => end(e.message));
});

// The pipeline's unixfdsink listens once it starts (its first start scans the plugins): retry until it does.
let src;
while (!src) {
  try {
    src = await UnixFdSrc.connect(`\0${back}`);
  } catch (error) {
    if (error.code !== 'ECONNREFUSED' || code !== undefined) {
      sink.close();
      pool.close();
      throw new Error(`the pipeline did not start (gst-launch: ${code ?? error.message})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const squareAt = (i) => (i * 4) % (WIDTH - SQUARE);

// GStreamer → Node: count the frames whose square is where Node drew it.
const receiving = (async () => {
  let right = 0;
  let n = 0;
  for await (const buffer of src) {
    const x = squareAt(Number(buffer.offset));
    buffer.frame.withCpuAccess('read', (access) => {
      const row = access.plane(0).bytes.subarray(100 * access.plane(0).stride);
      if (row[x] === 235 && row[x + SQUARE - 1] === 235 && row[x + SQUARE] === 16) right++;
    });
    buffer.release(); // RELEASE_BUFFER: GStreamer frees it, and releases our frame in turn
    n++;
  }
  return { n, right };
})();

// Node → GStreamer: draw frame i (black, a white square at squareAt(i)) and send it.
for (let i = 0; i < FRAMES; i++) {
  const frame = await pool.acquire({ timeoutMs: 30_000 }); // waits while GStreamer holds all four
  frame.withCpuAccess('write', (access) => {
    const luma = access.plane(0);
    luma.bytes.fill(16);
    access.plane(1).bytes.fill(128);
    for (const [y, row] of [...luma.rows()].entries()) if (y >= 90 && y < 90 + SQUARE) row.fill(235, squareAt(i), squareAt(i) + SQUARE);
  });
  await sink.send(frame, { offset: BigInt(i) });
  pool.release(frame); // back in the pool once GStreamer released it too
}
sink.close(); // EOS: the pipeline ends, and so does the stream coming back

const { n, right } = await receiving;
src.close();
await exited;
pool.close();
heap?.close();
console.log(`sent ${FRAMES} frames through GStreamer; ${n} came back, ${right} with the square where it was drawn; gst-launch exited ${code}`);
process.exit(n === FRAMES && right === FRAMES && code === 0 ? 0 : 1);
