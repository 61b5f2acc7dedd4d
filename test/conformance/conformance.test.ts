/**
 * The conformance suite: the same tests, unchanged, against every backend (the emulated one in
 * each coherency model, and the kernel one where it can run). Same data, same error codes, same
 * arguments. Behaviour that legitimately differs is chosen by `supports`, never by backend name.
 *
 * This file composes the features (test/conformance/features/, one file each, abstract-level's
 * test/index.js style): each registers its tests for one backend, and a feature whose `supports`
 * flags a backend lacks is left out for that backend. The checks every test shares (nothing left
 * open, no timer or handle left behind) live here.
 */
import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { Supports } from '../../lib/index.js';
import { activeResources, conformanceBackends, leftoverResources, type ConformanceBackend } from '../helpers/backends.js';
import { openFdTargets } from '../helpers/proc.js';
import { allocation } from './features/allocation.js';
import { brackets } from './features/brackets.js';
import { fences } from './features/fences.js';
import { holders } from './features/holders.js';
import { lifecycle } from './features/lifecycle.js';
import { naming } from './features/naming.js';
import { regions } from './features/regions.js';
import { syncFiles } from './features/sync-files.js';
import { validation } from './features/validation.js';

interface Feature {
  register(b: ConformanceBackend): void;
  /** The `supports` flags the feature's tests rely on throughout. */
  needs: readonly (keyof Supports)[];
}

const features: readonly Feature[] = [
  { register: allocation, needs: [] },
  { register: naming, needs: [] },
  { register: brackets, needs: [] },
  { register: holders, needs: [] },
  { register: regions, needs: [] },
  { register: lifecycle, needs: [] },
  { register: validation, needs: [] },
  { register: syncFiles, needs: [] },
  { register: fences, needs: [] },
];

/**
 * Whether `b` runs `feature`. A backend this machine cannot run registers every feature, so that
 * its tests are listed as skipped (and its manifest, which may need the addon, is not asked for).
 */
function selected(b: ConformanceBackend, feature: Feature): boolean {
  return !b.available || feature.needs.every((flag) => b.supports[flag]);
}

describe.each(conformanceBackends())('conformance: $name', (b: ConformanceBackend) => {
  describe.runIf(b.available)('the suite', () => {
    let fdsBefore: string[] | undefined;
    let resourcesBefore: string[];
    beforeEach(async () => {
      fdsBefore = b.supports.realFds ? openFdTargets() : undefined;
      resourcesBefore = await activeResources();
    });
    afterEach(async () => {
      await b.settle();
      // A wait settled from a uv callback resolves its promise (and runs the continuations) before
      // the native waiter closes its dup of the fd, in the same callback: let that callback end.
      await new Promise((resolve) => setImmediate(resolve));
      // Every test closes what it opened: on real fds, /proc/self/fd is as it was, and on every
      // backend no timer or handle outlives the waits.
      if (fdsBefore) expect(openFdTargets()).toEqual(fdsBefore);
      expect(await leftoverResources(resourcesBefore)).toEqual([]);
    });

    for (const feature of features) if (selected(b, feature)) feature.register(b);
  });
});
