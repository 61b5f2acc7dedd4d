#!/usr/bin/env node
// The dmabuf demo (`npm start`): the partial-sync scenario from the dma-buf mailing list. A CPU
// updates a 10×10 square of a 1600×1200 RGBA frame and hands the buffer to a device; done right
// the device sees the update, done wrong (a wrong region, a missing END) it sees stale pixels and
// the package says why. Then the cost of the region sync against a whole-buffer sync.
// Pictures of what the device saw go to demo-output/. Exit 0 when every case behaved as expected.
// Runs on the built package (npm run build); DMABUF_BACKEND=kernel|emulated forces a backend.
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulation } from 'dmabuf';
import { correctCase, missingEndCase, wrongRegionCase, DEVICE_MS } from './demo/cases.mjs';
import { describe, pixelAt, HEIGHT, SIZE, SQUARE, WIDTH } from './demo/frame.mjs';
import { writeCropPng } from './demo/png.mjs';
import { formatBytes, formatTime, measureSyncCost } from './demo/timing.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'demo-output');
const mark = (good) => (good ? '✓' : '✗');
const say = (line = '') => process.stdout.write(`${line}\n`);
const picture = (name, crop) => {
  const path = join(OUT, name);
  writeCropPng(path, crop);
  return relative(process.cwd(), path) || path;
};

say(`dmabuf demo: ${WIDTH}×${HEIGHT} RGBA frame (${formatBytes(SIZE)}), the CPU updates ${SQUARE.width}×${SQUARE.height} pixels at (${SQUARE.x},${SQUARE.y})`);

// 1. Correct.
const one = await correctCase();
say();
say(`1. correct: write bracket on region.rect ${SQUARE.width}×${SQUARE.height}, end(), hand-off — backend: ${one.backend}`);
say(`   ${mark(one.result.wrong === 0)} ${describe(one.result)}`);
if (one.waitedMs !== undefined) {
  say(
    `   ${mark(one.waitedMs >= DEVICE_MS / 2)} the CPU's next bracket waited ${one.waitedMs.toFixed(0)} ms for the device's read fence (${one.device}, busy ${DEVICE_MS} ms)`,
  );
} else say(`   · ${one.note}`);
say(`   → ${picture('1-correct.png', one.seen)}`);

// 2 and 3: on the emulated writeback model, always: the model that exposes these mistakes.
const emu = emulation.create({ coherency: 'writeback', seed: 1 });
const two = await wrongRegionCase(emu);
say();
say(`2. wrong region: drew ${SQUARE.width}×${SQUARE.height}, declared ${two.declared.width}×${two.declared.height} (emulated writeback)`);
if (two.error) {
  const at = two.error.offset === undefined ? '' : ` at pixel (${pixelAt(two.error.offset).x},${pixelAt(two.error.offset).y})`;
  say(`   ${mark(two.error.code === 'ERR_DMABUF_WRITE_OUTSIDE_REGION')} end() threw ${two.error.code}${at}:`);
  say(`     ${two.error.message}`);
} else say(`   ✗ end() reported nothing`);
say(`   ✗ ${describe(two.result)}`);
say(`   → ${picture('2-wrong-region.png', two.seen)}`);

const three = await missingEndCase(emu);
say();
say(`3. missing end(): the write bracket is still open at the hand-off (emulated writeback)`);
say(`   ✗ ${describe(three.result)}`);
say(`   ${mark(three.after.wrong === 0)} after end(): ${describe(three.after)}`);
say(`   → ${picture('3-missing-end.png', three.seen)}, ${picture('3-after-end.png', three.seenAfter)}`);

// The cost.
const cost = measureSyncCost();
say();
say(`sync cost, readwrite begin+end, median of ${cost.rounds} rounds × ${cost.n}:`);
say(`   model       ${SQUARE.width}×${SQUARE.height} region   whole buffer   ratio   synced/op: region   whole`);
for (const r of cost.rows) {
  say(
    `   ${r.coherency.padEnd(9)} ${formatTime(r.regionMs).padStart(12)} ${formatTime(r.wholeMs).padStart(14)} ${`${r.ratio.toFixed(0)}×`.padStart(7)}` +
      `   ${formatBytes(r.regionBytes).padStart(16)} ${formatBytes(r.wholeBytes).padStart(9)}`,
  );
}
say(`   (the kernel cannot sync a sub-range: on real hardware every END flushes the whole buffer)`);

const ok = one.ok && two.ok && three.ok;
say();
say(ok ? '✓ as expected: the correct case is correct and both mistakes were caught' : '✗ NOT as expected: see the lines marked above');
process.exitCode = ok ? 0 : 1;
