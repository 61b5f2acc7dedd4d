#!/usr/bin/env node
// Frame transport between two processes, the pattern Wayland and PipeWire use: the producer owns a
// small pool of dma-bufs, writes a frame into a free one, and sends it with its metadata over an
// FdChannel; the consumer brackets it, reads it, and sends a release back; the producer reuses a
// buffer only after its release (holding a dup of the fd does not stop a producer from writing).
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
import { DmaHeap, FdChannel, Udmabuf, region } from 'dmabuf';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '30' }, socket: { type: 'string' } } });
const FRAMES = Number(values.frames);
const WIDTH = 320;
const HEIGHT = 240;
const STRIDE = WIDTH * 4;
const POOL = 3;

// A buffer from the system heap where the kernel has one, else from udmabuf (arm64 kernels have no heaps).
function allocator() {
  const heap = DmaHeap.list().includes('system') ? DmaHeap.open('system') : undefined;
  return { allocate: (size, name) => (heap ? heap.allocate(size, { name }) : Udmabuf.create(size, { name })), close: () => heap?.close() };
}

const dir = mkdtempSync(join(tmpdir(), 'frames-'));
const path = values.socket ?? join(dir, 'frames.sock');
const server = FdChannel.listen(path);
const consumer = spawn(process.execPath, [new URL('./frame-consumer.mjs', import.meta.url).pathname, path], { stdio: 'inherit' });
const channel = await server.accept({ timeoutMs: 30_000 });
server.close();
console.log(`producer: consumer connected (pid ${channel.peer.pid}); sending ${FRAMES} frames of ${WIDTH}×${HEIGHT} over a pool of ${POOL}`);

const alloc = allocator();
const pool = Array.from({ length: POOL }, (_, id) => ({ id, buf: alloc.allocate(STRIDE * HEIGHT, `frame-${id}`), free: true }));
const releases = [];
const waitForFree = async () => {
  for (;;) {
    const slot = pool.find((s) => s.free);
    if (slot) return slot;
    const message = await channel.receive({ timeoutMs: 30_000 });
    const { release } = JSON.parse(message.text());
    pool[release].free = true;
    releases.push(release);
  }
};

for (let frame = 0; frame < FRAMES; frame++) {
  const slot = await waitForFree();
  slot.free = false;
  // Frame n: every pixel's first byte is n, and a 10×10 square at (n, n) is white.
  slot.buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(frame & 0xff));
  const square = region.rect({ x: frame % (WIDTH - 10), y: frame % (HEIGHT - 10), width: 10, height: 10, stride: STRIDE, bytesPerPixel: 4 });
  slot.buf.withCpuAccess('write', square, (a) => {
    for (const row of a.rows()) row.fill(0xff);
  });
  await channel.send(JSON.stringify({ frame, buffer: slot.id, width: WIDTH, height: HEIGHT, stride: STRIDE }), [slot.buf]);
}
// Drain the outstanding releases, then say goodbye.
while (pool.some((s) => !s.free)) {
  const { release } = JSON.parse((await channel.receive({ timeoutMs: 30_000 })).text());
  pool[release].free = true;
  releases.push(release);
}
await channel.send(JSON.stringify({ end: true }));
const summary = JSON.parse((await channel.receive({ timeoutMs: 30_000 })).text());
channel.close();
for (const slot of pool) slot.buf.close();
alloc.close();
const code = await new Promise((resolve) => consumer.on('exit', resolve));
rmSync(dir, { recursive: true, force: true });
console.log(`producer: ${releases.length} releases; the consumer checked ${summary.checked} frames, ${summary.bad} bad; consumer exit ${code}`);
process.exit(summary.checked === FRAMES && summary.bad === 0 && code === 0 ? 0 : 1);
