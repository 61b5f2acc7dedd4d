// The guest kernel: the Debian kernel of the profile (profiles.mjs). linux-image-6.12-amd64 is
// the one bookworm amd64 kernel with CONFIG_DMABUF_HEAPS_SYSTEM=y, CONFIG_UDMABUF=y and
// CONFIG_DRM_VGEM=m; bookworm's default 6.1 has neither heaps nor udmabuf; the arm64 6.12 kernels
// (4K and 16K pages) have udmabuf and vgem but no heaps (docs/TESTING.md, "The real-kernel suite"). The meta package points
// at the current point release, so the concrete package is resolved at run time and its version is
// the cache key.
//
// The 6.12 profiles resolve through the host's own apt (bookworm's lists). A profile with an `apt`
// field (x86_64-next: trixie-backports) resolves and downloads through a private apt instead: its
// own sources file, lists and package cache under the profile's cache directory, so the host's
// apt sources never name another release. Debian's newer kernels are split into several packages
// (linux-image-<abi> is empty and depends on linux-base-<abi>: config and modules.builtin,
// linux-binary-<abi>: usr/lib/modules/<abi>/vmlinuz, and linux-modules-<abi>: the module tree);
// every part is downloaded and unpacked into one tree.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptEnv, aptUpdate, HostError, isRoot } from './host.mjs';
import { dropTemp, log, run, secs, temp } from './proc.mjs';

const DAY = 24 * 3600 * 1000;

/**
 * The profile's private apt (profile.apt: { sources }) under `cacheRoot`/apt: the sources file, the
 * lists, the package cache and an empty dpkg status, and the options that make apt-get and
 * apt-cache use them and nothing of the host's sources. null for a profile without one.
 */
function privateApt(cacheRoot, profile) {
  if (!profile.apt) return null;
  const dir = join(cacheRoot, 'apt');
  for (const d of ['etc', 'lists/partial', 'cache/archives/partial']) mkdirSync(join(dir, d), { recursive: true });
  const sources = join(dir, 'etc', 'sources.list');
  const stamp = join(dir, 'updated');
  const text = `${[profile.apt.sources].flat().join('\n')}\n`;
  if (!existsSync(sources) || readFileSync(sources, 'utf8') !== text) {
    writeFileSync(sources, text);
    rmSync(stamp, { force: true }); // other sources: the lists are stale
  }
  const status = join(dir, 'status');
  if (!existsSync(status)) writeFileSync(status, '');
  const options = [
    ['Dir::Etc::SourceList', sources],
    ['Dir::Etc::SourceParts', '-'],
    ['Dir::State', dir],
    ['Dir::State::status', status],
    ['Dir::Cache', join(dir, 'cache')],
  ].flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  return { dir, sources: text.trim(), stamp, options };
}

/**
 * apt-get update of the private lists (no root needed: everything it writes is ours). A release
 * the host's archive keyring cannot verify is a HostError saying what to install.
 */
async function privateUpdate(apt) {
  log(`apt-get update (private: ${apt.sources})`);
  const r = await run('apt-get', [...apt.options, '-qq', 'update'], { env: aptEnv(), allowFail: true });
  const said = `${r.err}${r.out}`;
  if (/NO_PUBKEY|is not signed|EXPKEYSIG|KEYEXPIRED|BADSIG/.test(said)) {
    throw new HostError(
      `the host's archive keyring does not verify ${apt.sources}:\n${said.trim()}\n` +
        "install a debian-archive-keyring that holds that release's keys (bookworm's 2023.3+deb12u2 or later has trixie's: apt-get install debian-archive-keyring), or name a keyring that does with [signed-by=…] in the profile's apt.sources",
    );
  }
  if (r.code !== 0) throw new Error(`apt-get update (private) failed (exit ${r.code}):\n${said.trim()}`);
  writeFileSync(apt.stamp, '');
}

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

/**
 * { pkg, version, parts } of the kernel the meta package depends on now: `parts` are the
 * packages to download as pkg=version. One package (vmlinuz in boot/, the modules in lib/modules/)
 * up to 6.12; linux-base-, linux-binary- and linux-modules-<abi> where linux-image-<abi> depends on
 * a linux-binary- package (the split of Debian's later kernels).
 */
async function resolveOnce(profile, apt) {
  const opts = apt?.options ?? [];
  const dep = await run('apt-cache', [...opts, 'depends', qualified(profile, profile.meta)], { allowFail: true });
  // The versioned image package: linux-image-6.12.118+deb12-amd64, linux-image-7.3.4+deb13-amd64.
  const base = dep.code === 0 && /^\s*Depends:\s*(linux-image-\d[^\s:]*)/m.exec(dep.out)?.[1];
  if (!base) return null;
  const abi = base.slice('linux-image-'.length);
  const show = await run('apt-cache', [...opts, 'show', '--no-all-versions', qualified(profile, base)], { allowFail: true });
  const depends = /^Depends:\s*(.*)$/m.exec(show.out)?.[1] ?? '';
  if (depends.includes(`linux-binary-${abi}`)) {
    const version = /^Version:\s*(\S+)/m.exec(show.out)?.[1];
    if (!version) return null;
    // The unsigned image for a profile whose qemu cannot boot the signed one (see profiles.mjs).
    const binary = profile.unsigned ? `linux-binary-unsigned-${abi}` : `linux-binary-${abi}`;
    const parts = [`linux-base-${abi}`, binary, `linux-modules-${abi}`].map((p) => `${qualified(profile, p)}=${version}`);
    return { pkg: qualified(profile, base), version, parts };
  }
  const pkg = qualified(profile, profile.unsigned ? `${base}-unsigned` : base);
  const pkgShow = profile.unsigned ? await run('apt-cache', [...opts, 'show', '--no-all-versions', pkg], { allowFail: true }) : show;
  const version = /^Version:\s*(\S+)/m.exec(pkgShow.out)?.[1];
  return version ? { pkg, version, parts: [`${pkg}=${version}`] } : null;
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

/** Through the profile's private apt: its lists refreshed daily; offline, the lists it has. */
async function resolvePrivate(cacheRoot, profile) {
  const apt = privateApt(cacheRoot, profile);
  let updated = false;
  const update = async () => {
    try {
      await privateUpdate(apt);
      updated = true;
    } catch (error) {
      if (error instanceof HostError) throw error;
      log(error.message);
    }
  };
  if (!existsSync(apt.stamp) || Date.now() - statSync(apt.stamp).mtimeMs > DAY) await update();
  let found = await resolveOnce(profile, apt);
  if (!found && !updated) {
    await update();
    found = await resolveOnce(profile, apt);
  }
  return found && { ...found, apt };
}

/** { pkg, version, parts, apt? } of the kernel the meta package currently depends on. */
async function resolve(cacheRoot, profile) {
  if (profile.apt) return resolvePrivate(cacheRoot, profile);
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
      throw new HostError(
        profile.apt
          ? `cannot resolve ${meta} from ${profile.apt.sources} (private apt lists in ${join(cacheRoot, 'apt')}); check the network and retry`
          : `cannot resolve ${meta} with apt-cache; run "apt-get update" (as root) and retry`,
      );
    }
    log(`cannot resolve ${meta}; using cached ${any}`);
    return describe(join(root, any));
  }
  const dir = join(root, dirName(want));
  if (existsSync(join(dir, '.complete'))) {
    log(`kernel ${want.pkg} ${want.version} (cached)`);
    return describe(dir);
  }
  log(`downloading ${want.parts.map((p) => p.split('=')[0]).join(', ')} ${want.version}`);
  const tmp = temp(join(root, `.tmp-${process.pid}`));
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    // apt-get download needs no root; as root it warns that _apt cannot write here: harmless.
    await run('apt-get', [...(want.apt?.options ?? []), '-qq', 'download', ...want.parts], { cwd: tmp, env: aptEnv() });
    const debs = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
    if (debs.length !== want.parts.length) throw new Error(`apt-get download ${want.parts.join(' ')} left ${debs.length} .deb files`);
    for (const deb of debs) await run('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'x')]);
    // Keep only the kernel image and its module tree (modules stay xz-compressed here).
    const out = join(tmp, 'kernel');
    mkdirSync(out);
    const { image, release } = findImage(join(tmp, 'x'));
    if (!image) throw new Error(`${debs.join(', ')} hold no boot/vmlinuz-* or lib/modules/*/vmlinuz`);
    renameSync(image, join(out, 'vmlinuz'));
    const mods = [join(tmp, 'x', 'lib', 'modules', release), join(tmp, 'x', 'usr', 'lib', 'modules', release)].find(existsSync);
    if (!mods) throw new Error(`${debs.join(', ')} hold no lib/modules/${release}`);
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

/**
 * The kernel image in an unpacked tree and its release: boot/vmlinuz-<release> (up to 6.12) or
 * (usr/)lib/modules/<release>/vmlinuz (linux-binary-<abi>).
 */
function findImage(root) {
  const boot = join(root, 'boot');
  const inBoot = existsSync(boot) && readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  if (inBoot) return { image: join(boot, inBoot), release: inBoot.slice('vmlinuz-'.length) };
  for (const mods of [join(root, 'usr', 'lib', 'modules'), join(root, 'lib', 'modules')]) {
    for (const release of existsSync(mods) ? readdirSync(mods) : []) {
      if (existsSync(join(mods, release, 'vmlinuz'))) return { image: join(mods, release, 'vmlinuz'), release };
    }
  }
  return {};
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
