import { emulation, region } from 'dmabuf';
import { performance } from 'node:perf_hooks';
const emu = emulation.create({ coherency: 'bounce', seed: 1 });
const frame = emu.heap().allocate(6400*1200);
const sq = region.rect({ x: 795, y: 595, width: 10, height: 10, stride: 6400, bytesPerPixel: 4 });
for (let k = 0; k < 5; k++) {
  const n = 200000; const t0 = performance.now();
  for (let i = 0; i < n; i++) frame.beginCpuAccess('readwrite', sq).end();
  console.log(((performance.now() - t0) / n * 1000).toFixed(2), 'µs');
}
