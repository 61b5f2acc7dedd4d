/**
 * The one module that loads the native addon (bufferutil/sharp style): it either returns the
 * addon or an explanation of why not and what to do, never a half-loaded module.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DmaBufError, MisuseCode } from '../errors.js';
import type { NativeAddon } from './addon.js';

export type LoadResult = { ok: true; addon: NativeAddon } | { ok: false; reason: string };

let cached: LoadResult | undefined;

/** The package root: lib/native/ in source runs, dist/native/ in built runs; both are two levels down. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function addonPath(): string {
  return join(packageRoot(), 'build', 'Release', 'dmabuf.node');
}

function explain(path: string, platform: NodeJS.Platform, error?: unknown): string {
  if (platform !== 'linux') {
    return `the native addon exists only on Linux (this is ${platform}); use the emulated backend (DMABUF_BACKEND=emulated)`;
  }
  if (!existsSync(path)) {
    return (
      `the native addon was not built (${path} is missing). Build it with \`npm rebuild dmabuf\` ` +
      '(needs python3, make and a C++ compiler: `apt-get install python3 make g++`), or use DMABUF_BACKEND=emulated'
    );
  }
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return `the native addon at ${path} failed to load (${detail}); rebuild it for this Node.js with \`npm rebuild dmabuf\``;
}

/** Load the addon at `path` (uncached; loadAddon() caches the package's own). */
export function tryLoad(path: string, platform: NodeJS.Platform = process.platform): LoadResult {
  if (platform !== 'linux' || !existsSync(path)) return { ok: false, reason: explain(path, platform) };
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    addon.init(DmaBufError);
    return { ok: true, addon };
  } catch (error) {
    return { ok: false, reason: explain(path, platform, error) };
  }
}

export function loadAddon(): LoadResult {
  cached ??= tryLoad(addonPath());
  return cached;
}

/** The addon, or a DmaBufError saying why it cannot be had. */
export function requireAddon(): NativeAddon {
  const result = loadAddon();
  if (result.ok) return result.addon;
  throw new DmaBufError(MisuseCode.BACKEND_UNAVAILABLE, `dmabuf kernel backend unavailable: ${result.reason}`);
}
