/** P6: the largest gap between ticks of a 1 ms setInterval, with and without waits pending. */
import { performance } from 'node:perf_hooks';
import { median } from './measure.mjs';

/** Max gap (ns) between 1 ms interval ticks over `windowMs`. */
function maxGap(windowMs) {
  return new Promise((resolve) => {
    let last = performance.now();
    const end = last + windowMs;
    let max = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      max = Math.max(max, now - last);
      last = now;
      if (now >= end) {
        clearInterval(timer);
        resolve(max * 1e6);
      }
    }, 1);
  });
}

/**
 * `rounds` rounds: a window with nothing pending (baseline), then a window after `arm()` has
 * started the waits; `arm` returns a function that awaits and releases them after the window.
 * The figure is the median over rounds of the largest gap with the waits pending.
 */
export async function eventLoopGaps({ rounds, windowMs, arm }) {
  const s = [];
  const b = [];
  for (let r = 0; r < rounds; r++) {
    b.push(await maxGap(windowMs));
    const settle = await arm();
    s.push(await maxGap(windowMs));
    await settle();
  }
  return { subjectNs: median(s), baselineNs: median(b), ratio: median(s) / median(b), rounds, subjectSamples: s, baselineSamples: b };
}
