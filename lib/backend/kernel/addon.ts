/**
 * The door to the native addon. lib/backend/kernel/ is the only part of the package that imports
 * lib/native/ (lint enforces it: .dependency-cruiser.cjs); the selector and `dmabuf doctor` learn
 * whether the addon loads, and where from, through here.
 */
export { loadAddon, requireAddon, SOURCE_BUILD_HINT, type AddonOrigin, type LoadResult } from '../../native/load.js';
export type { NativeAddon } from '../../native/addon.js';
