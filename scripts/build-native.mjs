// `npm run build:native` (and `prepare` in a checkout): builds the addon from source with node-gyp
// into build/Release, which the loader prefers over a prebuild. Linux only: elsewhere there is
// nothing to build (the kernel interfaces are Linux uapi) and the emulated backend serves.
// Users of the npm package never need this (the tarball carries prebuilds); a user on another
// target (musl, armv7) runs `npm explore dmabuf -- npx node-gyp rebuild` instead.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

// `npm pack` runs prepare too; the tarball carries prebuilds, not build/, so nothing to do there.
if (['pack', 'publish'].includes(process.env.npm_command ?? '')) process.exit(0);
if (process.platform !== 'linux') {
  console.log(`dmabuf: no native addon on ${process.platform}; the emulated backend serves`);
  process.exit(0);
}
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { stdio: 'inherit' });
if (result.status !== 0) {
  console.error('dmabuf: building the native addon failed. It needs python3, make and a C++17 compiler (Debian/Ubuntu: apt-get install python3 make g++).');
}
process.exit(result.status ?? 1);
