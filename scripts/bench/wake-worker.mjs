// P5's signaller: on each go, sleeps delayMs (so the main thread is parked in its wait), stamps
// CLOCK_MONOTONIC (process.hrtime) into shared memory, then signals the vgem fence.
import { parentPort, workerData } from 'node:worker_threads';

const { sab, card, delayMs, load } = workerData;
const { requireAddon } = await import(load);
const addon = requireAddon();
const ctrl = new Int32Array(sab, 0, 4);
const stamp = new BigInt64Array(sab, 16, 1);
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  if (Atomics.load(ctrl, 3)) break;
  Atomics.wait(ctrl, 2, 0, delayMs);
  const fence = Atomics.load(ctrl, 1);
  Atomics.store(stamp, 0, process.hrtime.bigint());
  addon.vgemFenceSignal(card, fence);
}
