/**
 * The one module that loads the native addon: a source build in native/build/Release (a checkout
 * after `npm run build:native`, or a user's source build) first, unless PREBUILDS_ONLY is set (as
 * node-gyp-build honours it), else the prebuild in prebuilds/<platform>-<arch>/ that matches this
 * machine, found by node-gyp-build (the npm tarball carries linux-x64 and linux-arm64, glibc). The result is the addon and where it came from, or an explanation of why
 * there is none and what to do: never a half-loaded module.
 */
import { debug } from '../common/debug.js';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DmaBufError, errnoName, MisuseCode } from '../common/errors.js';
import type { NativeAddon } from './addon.js';

/** Where the addon came from: 'source build', 'prebuild linux-arm64', or 'none'. */
export type AddonOrigin = 'source build' | `prebuild ${string}` | 'none';

export type LoadResult = { ok: true; addon: NativeAddon; origin: AddonOrigin; path: string } | { ok: false; origin: 'none'; reason: string };

const require = createRequire(import.meta.url);
let cached: LoadResult | undefined;

/** The package root: lib/native/ in source runs, dist/native/ in built runs; both are two levels down. */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The command that builds the addon from source, as the README documents it. */
export const SOURCE_BUILD_HINT =
  'build it from source with `npm explore dmabuf -- npx node-gyp rebuild --directory native` ' +
  '(needs python3, make and a C++17 compiler: `apt-get install python3 make g++`)';

/** Where a source build lies, relative to the package root (binding.gyp is in native/, see scripts/build-native.mjs). */
export const SOURCE_BUILD_DIR = join('native', 'build', 'Release');

function describeFailure(path: string, error: unknown): string {
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return `the native addon at ${path} failed to load (${detail}); ${SOURCE_BUILD_HINT}`;
}

/** 'source build' for build/…, 'prebuild linux-x64' for prebuilds/linux-x64/…. */
export function originOf(root: string, path: string): AddonOrigin {
  const parts = relative(root, path).split(sep);
  if (parts[0] === 'prebuilds' && parts.length === 3) return `prebuild ${parts[1]}`;
  if (parts[0] === 'native' && parts[1] === 'build') return 'source build';
  return `prebuild ${basename(dirname(path))}`;
}

/** Load the addon at `path` (uncached; loadAddon() caches the package's own). */
export function tryLoad(path: string, platform: NodeJS.Platform = process.platform, root = packageRoot()): LoadResult {
  if (platform !== 'linux') {
    return {
      ok: false,
      origin: 'none',
      reason: `the native addon exists only on Linux (this is ${platform}); use the emulated backend (DMABUF_BACKEND=emulated)`,
    };
  }
  if (!existsSync(path)) return { ok: false, origin: 'none', reason: `the native addon ${path} is missing; ${SOURCE_BUILD_HINT}` };
  try {
    const addon = require(path) as NativeAddon;
    addon.init((errno, syscall, message) => new DmaBufError(errnoName(errno), message, { errno, syscall }));
    return { ok: true, addon, origin: originOf(root, path), path };
  } catch (error) {
    return { ok: false, origin: 'none', reason: describeFailure(path, error) };
  }
}

/** The source build, else the prebuild node-gyp-build picks; throws its "No native build was found" otherwise. */
function findAddon(root: string): string {
  const source = join(root, SOURCE_BUILD_DIR, 'dmabuf.node');
  if (!process.env['PREBUILDS_ONLY'] && existsSync(source)) return source;
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  return nodeGypBuild.path(root);
}

/** The package's own addon, loaded once. */
export function loadAddon(): LoadResult {
  if (!cached) {
    cached = findAndLoad();
    if (cached.ok) debug('addon loaded: %s (%s)', cached.origin, cached.path);
    else debug('addon not loaded: %s', cached.reason);
  }
  return cached;
}

function findAndLoad(): LoadResult {
  const root = packageRoot();
  if (process.platform !== 'linux') return tryLoad('', process.platform, root);
  let path: string;
  try {
    path = findAddon(root);
  } catch {
    const prebuilds = join(root, 'prebuilds');
    let present: string[] = [];
    try {
      present = readdirSync(prebuilds).filter((d) => d.startsWith('linux-'));
    } catch {
      // No prebuilds directory (a checkout), or unreadable: the reason says it has none.
    }
    return {
      ok: false,
      origin: 'none',
      reason:
        `this package has no addon for linux-${process.arch} (glibc): ` +
        `${present.length ? `its prebuilds are for ${present.join(', ')}` : 'it has no prebuilds'} and there is no source build in ` +
        `${join(root, SOURCE_BUILD_DIR)}; ${SOURCE_BUILD_HINT}`,
    };
  }
  return tryLoad(path, process.platform, root);
}

/** The addon, or a DmaBufError saying why it cannot be had. */
export function requireAddon(): NativeAddon {
  const result = loadAddon();
  if (result.ok) return result.addon;
  throw new DmaBufError(MisuseCode.BACKEND_UNAVAILABLE, `dmabuf kernel backend unavailable: ${result.reason}`);
}
