import { performance } from 'node:perf_hooks';
const bench = (name, f, n = 200000) => { for (let k = 0; k < 3; k++) { const t0 = performance.now(); for (let i = 0; i < n; i++) f(); if (k == 2) console.log(name, ((performance.now() - t0) / n * 1000).toFixed(3), 'µs'); } };
const a = new Uint8Array(57640), b = new Uint8Array(65536);
bench('compare 57K one call', () => Buffer.compare(a, b.subarray(0, 57640)));
bench('compare 9x6360', () => { for (let g = 0; g < 9; g++) Buffer.compare(a.subarray(g * 6400 + 40, g * 6400 + 6400), b.subarray(g * 100, g * 100 + 6360)); });
const ba = Buffer.from(a.buffer), bb = Buffer.from(b.buffer);
bench('buf.compare ranges 9x', () => { for (let g = 0; g < 9; g++) ba.compare(bb, g*100, g*100+6360, g * 6400 + 40, g * 6400 + 6400); });
bench('9x subarray only', () => { for (let g = 0; g < 9; g++) { a.subarray(g * 6400 + 40, g * 6400 + 6400); b.subarray(g * 100, g * 100 + 6360); } });
