#!/usr/bin/env node
// The mission's case as a frame: a 10×10 update of a 1600×1200 picture, as a two-plane NV12 frame
// in one buffer (Y, then interleaved CbCr at half resolution), read back through a second import of
// the same fds, as another process or API would take it from describe(). Any backend:
//   node examples/nv12-frame.mjs              (kernel where /dev/dma_heap or /dev/udmabuf exist, else emulated)
import { DmaHeap, Frame, Udmabuf, backendInfo } from 'dmabuf';

const heap = DmaHeap.list().includes('system') ? DmaHeap.open('system') : undefined;
const frame = Frame.allocate(heap ?? Udmabuf, { width: 1600, height: 1200, format: 'NV12', name: 'nv12-demo' });
console.log(`backend: ${backendInfo().backend}; ${JSON.stringify(frame.describe(), (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);

// 'readwrite': the update touches 10×10 pixels, not the whole frame.
frame.withCpuAccess('readwrite', (access) => {
  const luma = [...access.plane(0).rows()];
  const chroma = [...access.plane(1).rows()];
  for (let y = 80; y < 90; y++) luma[y].fill(235, 100, 110); // white in Y
  for (let y = 40; y < 45; y++) chroma[y].fill(128, 100, 110); // neutral CbCr for 5 rows of 5 pairs
});

const seen = Frame.fromPlanes({ ...frame.describe(), modifier: 0n });
const ok = seen.withCpuAccess('read', (access) => {
  const luma = [...access.plane(0).rows()];
  return luma[85][105] === 235 && luma[79][105] !== 235 && luma[85][99] !== 235;
});
console.log(`second import sees the square: ${ok}`);
seen.close();
frame.close();
heap?.close();
process.exit(ok ? 0 : 1);
