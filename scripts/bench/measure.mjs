/**
 * Timing helpers for the benchmarks: calibrated loops, paired rounds, medians, and the C
 * baselines (compiled from scripts/bench/c/ with the host's cc, run as child processes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** ns per call of `op` over `n` calls. */
export function timeLoop(op, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) op();
  return ((performance.now() - t0) * 1e6) / n;
}

/** How many calls of `op` take about `targetMs` (at least 1, at most `max`), after a warm-up. */
export function calibrate(op, targetMs, max = 1e7) {
  let n = 1;
  for (;;) {
    const ns = timeLoop(op, n);
    const ms = (ns * n) / 1e6;
    if (ms >= targetMs / 4 || n >= max) return Math.max(1, Math.min(max, Math.round((targetMs * 1e6) / ns)));
    n *= 4;
  }
}

/** Call `op` for `ms` milliseconds: the JIT's tiers settle first (slow under a software CPU). */
export function warmUp(op, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) for (let i = 0; i < 16; i++) op();
}

/**
 * One round's timing of `op`: about `targetMs` of calls, their number calibrated at the first
 * round after `warmMs` of warm-up (default 50 × targetMs: 2 s in the VM, 3 s on the host).
 */
export function rounder(op, targetMs, warmMs = 50 * targetMs) {
  let n;
  return () => {
    if (n === undefined) {
      warmUp(op, warmMs);
      n = calibrate(op, targetMs);
    }
    return timeLoop(op, n);
  };
}

/**
 * `rounds` rounds, each timing `subject` then `baseline` (interleaved, so drift hits both). Each
 * returns ns/op for its round (sync or async). The figure is the median of the per-round ratios
 * subject/baseline; the medians of both times come with it.
 */
export async function paired({ rounds, subject, baseline }) {
  const s = [];
  const b = [];
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    const sv = await subject(r);
    const bv = await baseline(r);
    s.push(sv);
    b.push(bv);
    ratios.push(sv / bv);
  }
  return { subjectNs: median(s), baselineNs: median(b), ratio: median(ratios), rounds, subjectSamples: s, baselineSamples: b };
}

/** Compile every scripts/bench/c/*.c whose binary is missing or older than its sources. */
export function buildC(srcDir, binDir, { cc = process.env.CC || 'cc' } = {}) {
  mkdirSync(binDir, { recursive: true });
  const header = statSync(join(srcDir, 'common.h')).mtimeMs;
  const built = {};
  for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.c'))) {
    const name = file.slice(0, -2);
    const src = join(srcDir, file);
    const bin = join(binDir, name);
    const fresh = existsSync(bin) && statSync(bin).mtimeMs >= Math.max(statSync(src).mtimeMs, header);
    if (!fresh) execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-pthread', '-o', bin, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    built[name] = bin;
  }
  return built;
}

/** Run a C baseline; it prints one JSON object with nsPerOp. */
export function runC(bin, args) {
  const r = spawnSync(bin, args.map(String), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

export function formatNs(ns) {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}
