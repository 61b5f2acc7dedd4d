/** The native addon, loaded the way lib/ loads it; a missing or broken build is a failure, not a skip. */
import { loadAddon } from '../../lib/native/load.js';
import type { NativeAddon } from '../../lib/native/addon.js';

export function addon(): NativeAddon {
  const result = loadAddon();
  if (!result.ok) throw new Error(result.reason);
  return result.addon;
}

/** The file the addon was loaded from (a source build or a prebuild), for workers that require it. */
export function addonPath(): string {
  const result = loadAddon();
  if (!result.ok) throw new Error(result.reason);
  return result.path;
}
