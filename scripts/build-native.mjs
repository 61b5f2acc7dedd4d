// `npm run build:native` (and `npm test`/`npm start` in a checkout, through their pre-scripts):
// builds the addon from source with node-gyp into native/build/Release, which the loader prefers
// over a prebuild. binding.gyp lives in native/, not at the package root: npm gives any package
// whose root holds binding.gyp an implicit `node-gyp rebuild` install script (and npm 11 warns
// about it even under `"gypfile": false`), and users of the tarball must never compile.
// Incremental: the first run configures, later runs rebuild only what changed (make).
// Linux only: elsewhere there is nothing to build (the kernel interfaces are Linux uapi) and the
// emulated backend serves. Users on another target (musl, armv7) run the README's source build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.platform !== 'linux') {
  console.log(`dmabuf: no native addon on ${process.platform}; the emulated backend serves`);
  process.exit(0);
}
const native = fileURLToPath(new URL('../native', import.meta.url));
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const gyp = (...args) => spawnSync(process.execPath, [nodeGyp, ...args, '--directory', native, '--loglevel', 'warn'], { stdio: 'inherit' });
const fresh = process.argv.includes('--rebuild') || !existsSync(join(native, 'build', 'Makefile'));
const result = fresh ? gyp('rebuild') : gyp('build');
if (result.status !== 0) {
  console.error('dmabuf: building the native addon failed. It needs python3, make and a C++17 compiler (Debian/Ubuntu: apt-get install python3 make g++).');
}
process.exit(result.status ?? 1);
