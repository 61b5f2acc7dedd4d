#!/usr/bin/env node
// Frame transport between two processes on a FramePool: the producer fills a free frame of a small
// pool, sends it over an FdChannel, and moves on; the frame is lent to the consumer until the
// consumer's Frame.close() sends the release, and the pool hands it out again only then (a dup of
// the fd does not stop a producer from writing: the pool does).
//
//   node examples/frame-producer.mjs [--frames N] [--socket PATH]
//
// It listens on PATH (a temp path by default) and starts examples/frame-consumer.mjs as a second
// process. Needs the kernel backend (a dma-heap or /dev/udmabuf), e.g. in the test VM:
//   npm run vm -- node examples/frame-producer.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DmaHeap, FdChannel, FramePool, Udmabuf } from 'dmabuf';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '30' }, socket: { type: 'string' } } });
const FRAMES = Number(values.frames);
const WIDTH = 320;
const HEIGHT = 240;
const POOL = 3;

const dir = mkdtempSync(join(tmpdir(), 'frames-'));
const path = values.socket ?? join(dir, 'frames.sock');
const server = FdChannel.listen(path);
const consumer = spawn(process.execPath, [new URL('./frame-consumer.mjs', import.meta.url).pathname, path], { stdio: 'inherit' });
const channel = await server.accept({ timeoutMs: 30_000 });
server.close();
console.log(`producer: consumer connected (pid ${channel.peer.pid}); sending ${FRAMES} frames of ${WIDTH}×${HEIGHT} over a pool of ${POOL}`);

// The system heap where the kernel has one, else udmabuf (arm64 kernels have no heaps).
const heap = DmaHeap.list().includes('system') ? DmaHeap.open('system') : undefined;
const pool = FramePool.allocate(heap ?? Udmabuf, { width: WIDTH, height: HEIGHT, format: 'XRGB8888', count: POOL, name: 'frame' });
let waited = 0;
for (let n = 0; n < FRAMES; n++) {
  if (pool.available === 0) waited++;
  const frame = await pool.acquire({ timeoutMs: 30_000 });
  try {
    // Frame n: every pixel's first byte is n, and a 10×10 square at (n, n) is white.
    frame.withCpuAccess('write', (a) => {
      const plane = a.plane(0);
      plane.bytes.fill(n & 0xff);
      const x = n % (WIDTH - 10);
      const y = n % (HEIGHT - 10);
      for (const row of [...plane.rows()].slice(y, y + 10)) row.fill(0xff, x * 4, (x + 10) * 4);
    });
    frame.timestamp = n * 33_333;
    await channel.sendFrame(frame, { n });
  } finally {
    frame.close(); // the producer's hold ends; the pool reuses the frame once the consumer releases it
  }
}
await channel.send(JSON.stringify({ end: true }));
// The consumer answers once it has released every frame.
const summary = JSON.parse((await channel.receive({ timeoutMs: 30_000 })).text());
const returned = pool.available;
channel.close();
pool.close();
heap?.close();
const code = await new Promise((resolve) => consumer.on('exit', resolve));
rmSync(dir, { recursive: true, force: true });
console.log(
  `producer: the pool waited for a release ${waited} times; ${returned} of ${POOL} frames back; the consumer checked ${summary.checked} frames, ${summary.bad} bad; consumer exit ${code}`,
);
process.exit(summary.checked === FRAMES && summary.bad === 0 && returned === POOL && code === 0 ? 0 : 1);
