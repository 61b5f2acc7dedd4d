// The guest kernel: Debian's 6.12 kernel of the profile (profiles.mjs). linux-image-6.12-amd64 is
// the one Debian amd64 kernel with CONFIG_DMABUF_HEAPS_SYSTEM=y, CONFIG_UDMABUF=y and
// CONFIG_DRM_VGEM=m; bookworm's default 6.1 has neither heaps nor udmabuf; the arm64 6.12 kernels
// (4K and 16K pages) have udmabuf and vgem but no heaps (README, "The real-kernel suite"). The meta package points
// at the current point release, so the concrete package is resolved at run time and its version is
// the cache key.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptEnv, aptUpdate, HostError, isRoot } from './host.mjs';
import { dropTemp, log, run, secs, temp } from './proc.mjs';

const DAY = 24 * 3600 * 1000;

/** Age in ms of the apt package lists: the newest list file or our own stamp of an update. */
function listsAge(stamp) {
  const dir = '/var/lib/apt/lists';
  let newest = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (f.includes('_Packages')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest ? Date.now() - newest : Infinity;
}

/** The meta package as apt names it for the profile's architecture ('pkg' or 'pkg:arm64'). */
const qualified = (profile, pkg) => (profile.aptArch === 'amd64' ? pkg : `${pkg}:${profile.aptArch}`);

async function resolveOnce(profile) {
  const dep = await run('apt-cache', ['depends', qualified(profile, profile.meta)], { allowFail: true });
  const base = dep.code === 0 && /^\s*Depends:\s*(linux-image-6\.12[^\s:]*)/m.exec(dep.out)?.[1];
  if (!base) return null;
  const pkg = qualified(profile, profile.unsigned ? `${base}-unsigned` : base);
  const show = await run('apt-cache', ['show', '--no-all-versions', pkg], { allowFail: true });
  const version = /^Version:\s*(\S+)/m.exec(show.out)?.[1];
  return version ? { pkg, version } : null;
}

/** A foreign architecture's packages are known to apt only once dpkg has the architecture. */
async function ensureArchitecture(profile) {
  if (profile.aptArch === 'amd64') return;
  const { out } = await run('dpkg', ['--print-foreign-architectures']);
  if (out.split('\n').includes(profile.aptArch)) return;
  if (!isRoot()) throw new HostError(`apt does not know ${profile.aptArch} packages; as root: dpkg --add-architecture ${profile.aptArch} && apt-get update`);
  log(`dpkg --add-architecture ${profile.aptArch}`);
  await run('dpkg', ['--add-architecture', profile.aptArch]);
  await aptUpdate(true);
}

/** { pkg, version } of the kernel package the meta package currently depends on. */
async function resolve(cacheRoot, profile) {
  await ensureArchitecture(profile);
  // Refresh stale lists (daily) so that a point release replaces the cached kernel. An update
  // that changes nothing leaves the lists' mtimes alone, hence our own stamp.
  const stamp = join(cacheRoot, 'apt-updated');
  const age = listsAge(stamp);
  if (age > DAY && isRoot()) {
    await aptUpdate();
    writeFileSync(stamp, '');
  } else if (age > 7 * DAY) {
    log(`apt lists are ${Math.round(age / DAY)} days old; "apt-get update" (as root) picks up a newer kernel`);
  }
  let found = await resolveOnce(profile);
  if (!found && isRoot()) {
    await aptUpdate();
    found = await resolveOnce(profile);
  }
  return found;
}

const dirName = ({ pkg, version }) => `${pkg}_${version}`.replace(/[^\w.+~-]/g, '_');

/**
 * Returns { dir, vmlinuz, modules, release } of a kernel unpacked under `cacheRoot`/kernel/,
 * downloading it when the resolved version is not cached yet.
 */
export async function getKernel(cacheRoot, profile) {
  const root = join(cacheRoot, 'kernel');
  mkdirSync(root, { recursive: true });
  const cached = () => readdirSync(root).filter((d) => existsSync(join(root, d, '.complete')));
  const t0 = Date.now();
  const meta = qualified(profile, profile.meta);
  log(`resolving ${meta}`);
  const want = await resolve(cacheRoot, profile);
  if (!want) {
    // Offline or no apt lists: fall back to what is cached, if anything.
    const any = cached().sort().at(-1);
    if (!any) {
      throw new HostError(`cannot resolve ${meta} with apt-cache; run "apt-get update" (as root) and retry`);
    }
    log(`cannot resolve ${meta}; using cached ${any}`);
    return describe(join(root, any));
  }
  const dir = join(root, dirName(want));
  if (existsSync(join(dir, '.complete'))) {
    log(`kernel ${want.pkg} ${want.version} (cached)`);
    return describe(dir);
  }
  log(`downloading ${want.pkg} ${want.version}`);
  const tmp = temp(join(root, `.tmp-${process.pid}`));
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    // apt-get download needs no root; as root it warns that _apt cannot write here: harmless.
    await run('apt-get', ['-qq', 'download', `${want.pkg}=${want.version}`], { cwd: tmp, env: aptEnv() });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${want.pkg} left no .deb`);
    await run('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'x')]);
    // Keep only the kernel image and its module tree (modules stay xz-compressed here).
    const out = join(tmp, 'kernel');
    mkdirSync(out);
    const boot = join(tmp, 'x', 'boot');
    const image = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (!image) throw new Error(`${deb} holds no boot/vmlinuz-*`);
    const release = image.slice('vmlinuz-'.length);
    renameSync(join(boot, image), join(out, 'vmlinuz'));
    const mods = [join(tmp, 'x', 'lib', 'modules', release), join(tmp, 'x', 'usr', 'lib', 'modules', release)].find(existsSync);
    if (!mods) throw new Error(`${deb} holds no lib/modules/${release}`);
    renameSync(mods, join(out, 'modules'));
    writeFileSync(join(out, 'release'), `${release}\n`);
    writeFileSync(join(out, '.complete'), `${want.pkg} ${want.version}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
  } finally {
    dropTemp(tmp);
  }
  // A new point release replaces the old one: drop the older kernels (not another run's .tmp-*).
  for (const d of cached()) if (d !== dirName(want)) rmSync(join(root, d), { recursive: true, force: true });
  log(`kernel downloaded and unpacked in ${secs(t0)}s`);
  return describe(dir);
}

function describe(dir) {
  return {
    dir,
    vmlinuz: join(dir, 'vmlinuz'),
    modules: join(dir, 'modules'),
    release: readFileSync(join(dir, 'release'), 'utf8').trim(),
    package: readFileSync(join(dir, '.complete'), 'utf8').trim(),
  };
}
