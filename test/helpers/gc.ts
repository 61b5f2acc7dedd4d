/** Explicit garbage collection, for the tests of finalizers and of what the collector closes. */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { tick } from './loop.js';

/** One full GC; works without --expose-gc on the command line (vitest.config.ts sets it anyway). */
export const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Collect garbage `rounds` times and let what it triggers run: the addon's deferred finalizers
 * (they run from SetImmediate) and FinalizationRegistry callbacks.
 */
export async function collect(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
