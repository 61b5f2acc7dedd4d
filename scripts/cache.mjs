// Where the development scripts keep what they download or build once: the prebuild root, the VM
// kernels, initramfs and arm64 userland, the consumer suite's npm, TypeScript and Node.js
// binaries. Outside the checkout, so that a fresh clone (CI's) reuses them; each entry is keyed by
// its version inside. DMABUF_DEV_CACHE moves it (default ~/.cache/dmabuf-dev, or
// $XDG_CACHE_HOME/dmabuf-dev).
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CACHE_ROOT = process.env.DMABUF_DEV_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dmabuf-dev');

/** `CACHE_ROOT/<parts…>`, made if missing. */
export function cacheDir(...parts) {
  const dir = join(CACHE_ROOT, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
