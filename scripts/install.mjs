// npm install hook: build the native addon on Linux only. Elsewhere there is nothing to build (the
// kernel interfaces are Linux uapi) and the emulated backend serves, so install must not require
// a C++ toolchain there.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

if (process.platform !== 'linux') {
  console.log(`dmabuf: no native addon on ${process.platform}; the emulated backend will be used`);
  process.exit(0);
}
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'dmabuf: building the native addon failed. It needs python3, make and a C++17 compiler ' +
      '(Debian/Ubuntu: apt-get install python3 make g++). The emulated backend still works (DMABUF_BACKEND=emulated).',
  );
}
process.exit(result.status ?? 1);
