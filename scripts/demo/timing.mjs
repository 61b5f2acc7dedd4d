/**
 * The cost of syncing the 10×10 region against syncing the whole 1600×1200 buffer, on emulated
 * models where device memory and CPU memory are separate, so START/END copy what they cover.
 * Measured in this run: the median over `rounds` of the mean time of `n` begin+end pairs.
 */
import { performance } from 'node:perf_hooks';
import { emulation } from 'dmabuf';
import { rect, SIZE, SQUARE } from './frame.mjs';

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function timeOps(buf, region, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) buf.beginCpuAccess('readwrite', region).end();
  return (performance.now() - t0) / n;
}

/** Bytes START+END moved for one readwrite bracket over `region`, from the emulation's counters. */
function syncedBytes(emu, buf, region) {
  const before = emu.stats().syncedBytes;
  buf.beginCpuAccess('readwrite', region).end();
  return emu.stats().syncedBytes - before;
}

export function measureSyncCost({ models = ['bounce', 'writeback'], n = 20, rounds = 7 } = {}) {
  const rows = [];
  for (const coherency of models) {
    const emu = emulation.create({ coherency, seed: 1 });
    const buf = emu.heap().allocate(SIZE, { name: `timing-${coherency}` });
    const cases = { region: rect(SQUARE), whole: undefined };
    const samples = { region: [], whole: [] };
    const bytes = {};
    for (const [kind, region] of Object.entries(cases)) {
      bytes[kind] = syncedBytes(emu, buf, region);
      timeOps(buf, region, 3); // warm up
    }
    for (let r = 0; r < rounds; r++) {
      for (const [kind, region] of Object.entries(cases)) samples[kind].push(timeOps(buf, region, n));
    }
    buf.close();
    const regionMs = median(samples.region);
    const wholeMs = median(samples.whole);
    rows.push({ coherency, regionMs, wholeMs, ratio: wholeMs / regionMs, regionBytes: bytes.region, wholeBytes: bytes.whole });
  }
  return { n, rounds, rows };
}

export function formatTime(ms) {
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  return `${ms.toFixed(2)} ms`;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
