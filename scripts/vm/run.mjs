#!/usr/bin/env node
// Runs a command, or the kernel test suite, in a throwaway VM whose kernel has the real dma-buf
// devices (/dev/dma_heap/system, /dev/udmabuf, vgem's /dev/dri/*), which the development and CI
// machines lack (docs/TESTING.md, "The real-kernel suite"). The guest runs in the repo root, as root, with
// DMABUF_REQUIRE_KERNEL=1 and its profile's declaration of what the kernel provides
// (DMABUF_VM_PROVIDES). Profiles (profiles.mjs): x86_64 (default; the host's own userland and
// node over 9p), x86_64-next (the same with Debian's newest amd64 kernel, from trixie-backports
// through a private apt: kernel.mjs), arm64 and arm64-16k (Debian's arm64 kernels under qemu-system-aarch64, an arm64
// userland and Node.js, and the arm64 prebuild: PREBUILDS_ONLY=1, since build/ holds the host's).
//
//   node scripts/vm/run.mjs [options] -- <command...>   run a command (npm run vm -- <command...>)
//   node scripts/vm/run.mjs [options] --test [args...]  the vitest suite via suite.mjs (npm run test:kernel)
//   node scripts/vm/run.mjs [options] --check           list the devices; fails if one is missing
//   node scripts/vm/run.mjs [options] --prepare         install, download and build what a boot needs
//                                                        (qemu, kernel, userland, initramfs), boot nothing:
//                                                        run before VMs that boot concurrently, so that
//                                                        two runners never run apt at once
// options: --profile <name> (DMABUF_VM_PROFILE, default x86_64),
// --timeout <s> (DMABUF_VM_TIMEOUT; default: the profile's, x86_64 and x86_64-next 2700, arm64 3600), --verbose (DMABUF_VM_VERBOSE=1: show
// the boot console). DMABUF_VM_ACCEL=<qemu -accel value> (default: the profile's),
// DMABUF_VM_MEMORY=<MiB> (default 2048).
// Exit status: the command's; 124 on timeout; 125 when the VM failed before reporting one;
// 1 when the host cannot run the VM (the message says what to install).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_ROOT, cacheDir } from '../cache.mjs';
import { ensureHost, HostError } from './host.mjs';
import { getInitramfs } from './initramfs.mjs';
import { getKernel } from './kernel.mjs';
import { cleanupAll, exitAfterKill, isExiting, log, secs, temp } from './proc.mjs';
import { getProfile } from './profiles.mjs';
import { boot } from './qemu.mjs';
import { serveScreendumps } from './screen.mjs';
import { getArm64Userland, GUEST_NODE, GUEST_NODE_PATH } from './userland.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const USAGE =
  'usage: node scripts/vm/run.mjs [--profile x86_64|x86_64-next|arm64|arm64-16k] [--timeout <s>] [--verbose] (-- <command...> | --test [vitest args...] | --check | --prepare)';

function parseArgs(argv) {
  const o = {
    profile: process.env.DMABUF_VM_PROFILE || 'x86_64',
    timeout: process.env.DMABUF_VM_TIMEOUT ? Number(process.env.DMABUF_VM_TIMEOUT) : undefined,
    verbose: process.env.DMABUF_VM_VERBOSE === '1',
    command: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--timeout') o.timeout = Number(argv[++i]);
    else if (a === '--profile') o.profile = argv[++i];
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--') o.command = argv.slice(i + 1);
    else if (a === '--test') o.test = argv.slice(i + 1);
    else if (a === '--check') o.command = ['sh', 'scripts/vm/check.sh'];
    else if (a === '--prepare') o.prepare = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new HostError(`unknown option ${a}\n${USAGE}`);
    if (o.command || o.test || o.prepare) break;
  }
  try {
    o.profile = getProfile(o.profile);
  } catch (e) {
    throw new HostError(`${e.message}\n${USAGE}`);
  }
  // The files named; else the profile's own list (the arm64 profiles: what differs there); else the
  // whole suite, less what never reaches the addon or the kernel (it runs on the host).
  const suite = o.test?.length ? o.test : (o.profile.suite ?? HOST_ONLY_SUITES.map((glob) => `--exclude=${glob}`));
  if (o.test) o.command = ['node', 'scripts/vm/suite.mjs', ...suite];
  if (!o.command?.length && !o.prepare) throw new HostError(USAGE);
  o.timeout ??= o.profile.timeoutSeconds ?? 900;
  if (!(o.timeout > 0)) throw new HostError(`--timeout wants a positive number of seconds\n${USAGE}`);
  return o;
}

/**
 * Suites of pure TypeScript (the emulated backend, argument and region arithmetic, the command's
 * argument parsing, how objects print and options are checked) and the consumer suite's compile
 * and Node.js-majors part: the host runs them in CI; the VMs, whose CPUs are emulated, leave them
 * out (the VMs run the installed app against their kernels: test/package/installed.test.ts).
 */
const HOST_ONLY_SUITES = [
  'test/demo/**',
  'test/package/consumer.test.ts',
  'test/host/inspect.test.ts',
  'test/host/options.test.ts',
  'test/host/types-exported.test.ts',
  'test/host/leak-debug.test.ts',
  'test/emulated/**',
  'test/host/region.test.ts',
  'test/host/region.property.test.ts',
  'test/host/validate.test.ts',
  'test/host/constructors.test.ts',
  'test/host/cli.test.ts',
];

const shQuote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

/**
 * Writes the job the guest's /init runs: the repo path (read with `read -r`) and a shell script
 * with every argument single-quoted, so spaces and quotes reach the command unchanged.
 */
function writeJob(command, profile, screenDir) {
  const dir = temp(mkdtempSync(join(tmpdir(), 'dmabuf-vm-')));
  const nodeDir = profile.userland === 'host' ? dirname(process.execPath) : dirname(GUEST_NODE);
  const env = {
    HOME: '/tmp',
    // The host's cache, read-only in the guest: the GStreamer root of the unixfd tests (scripts/gst/root.mjs).
    DMABUF_DEV_CACHE: CACHE_ROOT,
    // scripts/gst/bin: gst-launch-1.0 from that root, for examples/gstreamer.mjs.
    PATH: `${nodeDir}:${REPO}/node_modules/.bin:${REPO}/scripts/gst/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    DMABUF_REQUIRE_KERNEL: '1',
    DMABUF_VM_PROFILE: profile.name,
    DMABUF_VM_PROVIDES: profile.provides.join(','),
    DMABUF_VM_SLOWDOWN: String(profile.slowdown ?? 1),
    DMABUF_VM_ISOLATE: profile.isolateFiles ? '1' : '0',
    // Where the guest asks for screendumps of its virtio-gpu screen (screen.mjs), on profiles with one.
    ...(screenDir ? { DMABUF_VM_SCREEN_DIR: screenDir } : {}),
    LANG: 'C.UTF-8',
    // The arm64 guest cannot load the host's native/build/Release: PREBUILDS_ONLY makes it take
    // the arm64 prebuild, as an installed package would; the test runner's arm64 binding is in /opt.
    ...(profile.userland === 'arm64' ? { PREBUILDS_ONLY: '1', NODE_PATH: GUEST_NODE_PATH } : {}),
  };
  // Forward the package's own switches (DMABUF_BACKEND, …) and the usual output switches.
  for (const [k, v] of Object.entries(process.env)) {
    if ((/^DMABUF_/.test(k) && !/^DMABUF_VM_/.test(k) && !(k in env)) || ['CI', 'NO_COLOR', 'FORCE_COLOR'].includes(k)) env[k] = v;
  }
  const cmd = `${command.map(shQuote).join(' ')} </dev/null`; // nobody types into the guest
  const { isTTY, columns = 120, rows = 40 } = process.stdout;
  const script = [
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}`),
    `cd ${shQuote(REPO)} || exit 126`,
    // The guest's stdout is always the serial console, a tty. Give it the host terminal's size
    // (a serial line reports 0x0); when our stdout is no terminal, pipe the command through cat
    // so that it sees no tty either and skips live redraws (vitest) that clutter logs.
    ...(isTTY
      ? [`stty cols ${columns} rows ${rows} 2>/dev/null`, `exec ${cmd}`]
      : [`{ ${cmd}; echo $? >/tmp/.dmabuf-vm-rc; } 2>&1 | cat`, 'exit "$(cat /tmp/.dmabuf-vm-rc)"']),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'job.sh'), script);
  writeFileSync(join(dir, 'repo'), `${REPO}\n`);
  return dir;
}

async function main() {
  const t0 = Date.now();
  const o = parseArgs(process.argv.slice(2));
  // Every exit path (normal, error, timeout, signal) goes through process.exit: kill qemu and
  // remove temp dirs there.
  process.on('exit', cleanupAll);
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ]) {
    process.on(sig, () => {
      log(`${sig}: stopping the VM`);
      exitAfterKill(code);
    });
  }
  setTimeout(() => {
    log(`timed out after ${o.timeout}s (--timeout / DMABUF_VM_TIMEOUT); killing the VM`);
    exitAfterKill(124);
  }, o.timeout * 1000).unref();

  const { profile } = o;
  await ensureHost(profile);
  const cache = cacheDir('vm', profile.name); // outside the checkout: scripts/cache.mjs
  const kernel = await getKernel(cache, profile);
  let root = '/';
  let busybox;
  if (profile.userland === 'arm64') {
    root = await getArm64Userland(cacheDir('vm'), REPO);
    busybox = join(root, 'bin', 'busybox');
    // The repo is mounted on its own path: the read-only root needs the mount point (a path under
    // /tmp or /run lands on the guest's fresh tmpfs, where init.sh makes it).
    if (!/^\/(tmp|run)\//.test(REPO)) mkdirSync(join(root, REPO), { recursive: true });
  }
  const initramfs = await getInitramfs(kernel, cache, busybox);
  if (o.prepare) {
    log(`${profile.name} prepared in ${secs(t0)}s`);
    return 0;
  }
  // A profile with a screen (virtio-gpu) gets the screendump channel: a folder on the repo share,
  // which the guest sees at the same path, and QMP on a socket of ours.
  const screenDir = profile.screen ? temp(join(REPO, '.cache', 'vm-screen', String(process.pid))) : undefined;
  const qmpSocket = profile.screen ? temp(join(tmpdir(), `dmabuf-vm-qmp-${process.pid}.sock`)) : undefined;
  const screen = screenDir && qmpSocket ? serveScreendumps({ dir: screenDir, socket: qmpSocket, device: profile.screen }) : undefined;
  const jobDir = writeJob(o.command, profile, screenDir);
  // TCG: /dev/kvm here is a paravirtual flavour under which a stock guest kernel hangs
  // (docs/TESTING.md, "The real-kernel suite"); the profile says which TCG threading its guest runs best with.
  const accel = process.env.DMABUF_VM_ACCEL || profile.accel;
  const memory = process.env.DMABUF_VM_MEMORY || '2048';
  let r;
  for (let attempt = 1; ; attempt++) {
    log(`booting ${kernel.release} (${profile.name}: ${accel}, ${memory} MiB); ready after ${secs(t0)}s`);
    r = await boot({ profile, kernel: kernel.vmlinuz, initramfs, root, repo: REPO, jobDir, accel, memory, verbose: o.verbose, qmpSocket });
    if (isExiting()) return new Promise(() => {}); // a signal or the timeout is ending the run
    // A guest that died before the command started ran nothing: one more try is safe.
    if (!r.error || r.booted || attempt === 2) break;
    process.stderr.write(
      `[vm] ${r.error}\n${r.tail
        .slice(-8)
        .map((l) => `  | ${l}\n`)
        .join('')}`,
    );
    log('the guest died while booting; trying once more');
  }
  screen?.stop();
  if (r.error) {
    const tail = r.tail.length ? `\n[vm] last console lines:\n${r.tail.map((l) => `  | ${l}`).join('\n')}` : '';
    process.stderr.write(`[vm] ${r.error}${tail}\n`);
    log(`total ${secs(t0)}s`);
    return 125;
  }
  log(`total ${secs(t0)}s`);
  return r.status;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    if (isExiting()) return; // e.g. apt-get killed by the timeout: exitAfterKill exits
    process.stderr.write(`[vm] ${e instanceof HostError ? e.message : e.stack}\n`);
    process.exit(1);
  },
);
