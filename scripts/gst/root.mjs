#!/usr/bin/env node
// A Debian 13 (trixie) root with GStreamer 1.26 (unixfdsink/unixfdsrc live in
// gstreamer1.0-plugins-bad's libgstunixfd.so; Debian 12's 1.22 has none), for the tests that speak
// GStreamer's unixfd protocol with real GStreamer (docs/GSTREAMER.md). Made once with
// `debootstrap --variant=minbase trixie` and then, inside it, `apt-get install
// --no-install-recommends` of the packages below (debootstrap --include of them fails on
// dbus-session-bus alternatives: ../shared/reference/interop.md), cached under
// ~/.cache/dmabuf-dev/gst-root-<key> (scripts/cache.mjs). Making it needs root (debootstrap, chroot)
// and the network; using it needs neither: gstLaunch() runs the root's gst-launch-1.0 through the
// root's own dynamic loader with --library-path, so the host and the x86_64 VM (which sees the
// host's / read-only) run it as any user, without chroot or mounts.
//
//   node scripts/gst/root.mjs            make the root if missing; print its path (npm run gst:prepare)
//   node scripts/gst/root.mjs --path     print the cached root's path, or exit 1 if it is not made
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_ROOT, cacheDir } from '../cache.mjs';

export const SUITE = 'trixie';
export const MIRROR = 'http://deb.debian.org/debian';
export const PACKAGES = ['gstreamer1.0-tools', 'gstreamer1.0-plugins-base', 'gstreamer1.0-plugins-good', 'gstreamer1.0-plugins-bad'];
// Bump when the way the root is made changes.
const RECIPE = 1;
const KEY = createHash('sha256')
  .update([SUITE, MIRROR, RECIPE, ...PACKAGES].join('\n'))
  .digest('hex')
  .slice(0, 12);
const NAME = `gst-root-${KEY}`;
const LIBDIRS = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu/pulseaudio'];

/** The cached root's directory, or null when it has not been made (or not on x86_64). */
export function gstRootPath(cacheRoot = CACHE_ROOT) {
  const root = join(cacheRoot, NAME);
  return process.arch === 'x64' && existsSync(join(root, '.complete')) ? root : null;
}

/**
 * argv and env that run `tool` (gst-launch-1.0, gst-inspect-1.0) from the root with the root's own
 * loader and libraries. GST_REGISTRY_FORK=no scans plugins in-process (the scanner helper would
 * start under the host's loader); the registry goes to `registryDir` (default: the root's /tmp is
 * read-only in the VM, so a per-user tmp dir).
 */
export function gstCommand(root, tool, args, { registryDir = process.env.TMPDIR || '/tmp' } = {}) {
  const libs = LIBDIRS.map((d) => join(root, d)).join(':');
  return {
    file: join(root, 'lib64', 'ld-linux-x86-64.so.2'),
    args: ['--library-path', libs, join(root, 'usr', 'bin', tool), ...args],
    env: {
      ...process.env,
      HOME: registryDir,
      GST_REGISTRY_1_0: join(registryDir, `gst-registry-${KEY}-${process.getuid?.() ?? 0}.bin`),
      GST_REGISTRY_FORK: 'no',
      GST_PLUGIN_SYSTEM_PATH_1_0: join(root, 'usr/lib/x86_64-linux-gnu/gstreamer-1.0'),
      GST_PLUGIN_PATH_1_0: '',
      GIO_MODULE_DIR: join(root, 'usr/lib/x86_64-linux-gnu/gio/modules'),
      GST_DEBUG_NO_COLOR: '1',
    },
  };
}

async function sh(cmd, args, opts = {}) {
  const { spawn } = await import('node:child_process');
  await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${signal ?? `exit ${code}`}`))));
  });
}

/** Makes the root if it is not cached; returns its directory. */
export async function makeGstRoot() {
  const done = gstRootPath();
  if (done) return done;
  if (process.arch !== 'x64') throw new Error('the GStreamer root is made for x86_64 hosts');
  if (process.getuid?.() !== 0) throw new Error('making the GStreamer root needs root (debootstrap, chroot): run `sudo npm run gst:prepare` once');
  if (!existsSync('/usr/sbin/debootstrap')) throw new Error('making the GStreamer root needs debootstrap: apt-get install debootstrap');
  const t0 = Date.now();
  const cache = cacheDir();
  const root = join(cache, NAME);
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  let procMounted = false;
  try {
    process.stderr.write(`[gst] debootstrap ${SUITE} into ${tmp}\n`);
    await sh('/usr/sbin/debootstrap', ['--variant=minbase', SUITE, tmp, MIRROR], { env });
    mkdirSync(join(tmp, 'proc'), { recursive: true });
    await sh('mount', ['-t', 'proc', 'proc', join(tmp, 'proc')]);
    procMounted = true;
    await sh('chroot', [tmp, 'apt-get', '-qq', 'update'], { env });
    process.stderr.write(`[gst] apt-get install ${PACKAGES.join(' ')}\n`);
    await sh('chroot', [tmp, 'apt-get', '-qq', '-y', '--no-install-recommends', 'install', ...PACKAGES], { env });
    await sh('chroot', [tmp, 'apt-get', 'clean'], { env });
    await sh('umount', [join(tmp, 'proc')]);
    procMounted = false;
    writeFileSync(join(tmp, '.complete'), `${SUITE} ${PACKAGES.join(' ')}\n`);
    for (const old of readdirSync(cache)) if (old.startsWith('gst-root-') && !old.includes('.tmp-')) rmSync(join(cache, old), { recursive: true, force: true });
    renameSync(tmp, root);
  } finally {
    if (procMounted) await sh('umount', ['-l', join(tmp, 'proc')]).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stderr.write(`[gst] GStreamer root made in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  return root;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv[2] === '--path') {
      const root = gstRootPath();
      if (!root) process.exit(1);
      process.stdout.write(`${root}\n`);
    } else process.stdout.write(`${await makeGstRoot()}\n`);
  } catch (e) {
    process.stderr.write(`[gst] ${e.message}\n`);
    process.exit(1);
  }
}
