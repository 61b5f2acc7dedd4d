// `npm run test:sanitize`: the addon built with AddressSanitizer and UndefinedBehaviorSanitizer,
// and the native and kernel tests run against it in the x86_64 VM. Any report fails the run:
// ASan stops at the first error (halt_on_error), UBSan is built without recovery, and the process
// that hit it dies, which fails its test file.
//
// Node itself is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD) into every node
// of the run; leak detection is off (V8 and Node keep allocations to exit by design).
// The sanitized build lives in a copy of the checkout (.cache/sanitize/repo) so the checkout's own
// native/build/Release stays the plain one; the copy hard-links node_modules and shares the VM images.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COPY = join(ROOT, '.cache', 'sanitize', 'repo');
const SANITIZERS = '-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g';

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) {
    console.error(`sanitize: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  return r;
}

function runtime(name) {
  const r = spawnSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path.startsWith('/') || !existsSync(path)) {
    console.error(`sanitize: gcc has no ${name} (apt-get install gcc)`);
    process.exit(1);
  }
  return path;
}

// 1. A copy of the checkout: tracked files, the built dist/, shared node_modules and VM images.
run('npm', ['run', 'build'], { cwd: ROOT });
rmSync(COPY, { recursive: true, force: true });
mkdirSync(COPY, { recursive: true });
const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
for (const file of tracked) {
  if (!existsSync(join(ROOT, file))) continue;
  mkdirSync(dirname(join(COPY, file)), { recursive: true });
  cpSync(join(ROOT, file), join(COPY, file));
}
cpSync(join(ROOT, 'dist'), join(COPY, 'dist'), { recursive: true });
// node_modules as hard links, not a symlink: the VM shares only the copy, read-write (vitest
// writes its config bundle under node_modules), and sees the rest of this machine read-only.
run('cp', ['-al', join(ROOT, 'node_modules'), join(COPY, 'node_modules')]);

// 2. The sanitized addon, in the copy's native/build/Release (where the loader looks first).
// Through npm, as a checkout builds it: npm's configuration (nodedir, …) reaches node-gyp.
run('npm', ['run', 'build:native'], {
  cwd: COPY,
  env: { ...process.env, CXXFLAGS: SANITIZERS, CFLAGS: SANITIZERS, LDFLAGS: '-fsanitize=address,undefined' },
});

// A build that lost the flags would pass everything and prove nothing: it must need both runtimes.
const needed = spawnSync('readelf', ['-d', join(COPY, 'native/build/Release/dmabuf.node')], { encoding: 'utf8' }).stdout;
for (const lib of ['libasan.so', 'libubsan.so']) {
  if (!needed.includes(lib)) {
    console.error(`sanitize: the addon was built without ${lib}; CXXFLAGS did not reach the build`);
    process.exit(1);
  }
}

// 3. The native and kernel tests in the x86_64 VM (its userland is this machine's: same runtimes);
// with --host, the native tests on this machine instead (no kernel devices here).
const preload = [runtime('libasan.so'), runtime('libubsan.so')].join(':');
const sanitizerEnv = {
  LD_PRELOAD: preload,
  // A small quarantine: freed memory ASan holds back counts in RSS, and the tests that bound RSS
  // over 1000 brackets (checked mode's snapshots) would see its default 256 MiB as a leak.
  ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:quarantine_size_mb=16',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
const args = process.argv.slice(2);
const host = args[0] === '--host';
const files = args.filter((a) => a !== '--host');
if (host) {
  run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...(files.length ? files : ['test/native'])], {
    cwd: COPY,
    env: { ...process.env, ...sanitizerEnv },
  });
} else {
  const suite = ['env', ...Object.entries(sanitizerEnv).map(([k, v]) => `${k}=${v}`)];
  run(
    process.execPath,
    [join(COPY, 'scripts/vm/run.mjs'), '--', ...suite, process.execPath, 'scripts/vm/suite.mjs', ...(files.length ? files : ['test/native', 'test/kernel'])],
    { cwd: COPY },
  );
}
console.log('sanitize: no AddressSanitizer or UndefinedBehaviorSanitizer report');
