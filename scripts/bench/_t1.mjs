import { emulation, region } from 'dmabuf';
import { performance } from 'node:perf_hooks';
for (const c of ['coherent','bounce','writeback']) {
const emu = emulation.create({ coherency: c, seed: 1 });
const small = emu.heap().allocate(4096);
const frame = emu.heap().allocate(6400*1200);
const sq = region.rect({ x: 795, y: 595, width: 10, height: 10, stride: 6400, bytesPerPixel: 4 });
for (const [name, b, r] of [['4k', small, undefined], ['sq', frame, sq]]) {
for (let k = 0; k < 3; k++) {
  const n = 2000; const t0 = performance.now();
  for (let i = 0; i < n; i++) b.beginCpuAccess('readwrite', r).end();
  console.log(c, name, ((performance.now() - t0) / n * 1000).toFixed(2), 'µs');
}}
}
