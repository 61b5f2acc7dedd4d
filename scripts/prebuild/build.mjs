#!/usr/bin/env node
// `npm run prebuilds`: builds the Node-API addon for linux-x64 and linux-arm64 (glibc) into
// prebuilds/, the files the npm tarball carries so that `npm install dmabuf` needs no compiler and
// runs no install script. Both are built inside a Debian 11 (bullseye) root made with debootstrap:
// a prebuild needs the glibc and libstdc++ of the system it is built on, and bullseye's 2.31 /
// GLIBCXX_3.4.28 are what Debian 11, Ubuntu 20.04 and Raspberry Pi OS bullseye have (built on
// Debian 12 the addon needs GLIBC_2.33 and GLIBCXX_3.4.29). x64 uses bullseye's g++, arm64 its
// cross g++ (g++-aarch64-linux-gnu). prebuildify drives node-gyp; node-gyp-build loads the result.
//
// Needs root and Debian's apt (it installs debootstrap). The root is cached in the development
// cache (scripts/cache.mjs: ~/.cache/dmabuf-dev/prebuild/);
// prebuilds already made from the current native sources are kept (--force rebuilds them).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cacheDir } from '../cache.mjs';
import { aptEnv, aptUpdate, HostError, isRoot } from '../vm/host.mjs';
import { cleanupAll, run, secs, start, temp } from '../vm/proc.mjs';
import { checkPrebuilds, listPrebuilds, nativeSources, PREBUILDS, REPO, sourcesHash, stampPath, TARGETS } from './check.mjs';

const SUITE = 'bullseye';
// What the root holds besides minbase; the list is part of the cache key.
const INCLUDE = ['g++', 'make', 'python3', 'g++-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu'];
const CACHE = cacheDir('prebuild');
const log = (msg) => process.stderr.write(`[prebuild] ${msg}\n`);

/** The Debian archive apt already uses here (deb822 .sources or a sources.list line): bullseye comes from the same place. */
function debianMirror() {
  const texts = [];
  for (const f of ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))]) {
    if (/\.(list|sources)$/.test(f) && existsSync(f)) texts.push(readFileSync(f, 'utf8'));
  }
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].split(/\s+/) ?? [];
      if (uri && suites.some((s) => /^(bookworm|trixie|bullseye|stable)$/.test(s)) && !/security/.test(uri)) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(bookworm|trixie|bullseye|stable)\s/m.exec(text);
    if (line) return line[1];
  }
  throw new HostError('cannot find the Debian archive in /etc/apt/sources.list(.d); debootstrap needs it');
}

function listDir(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function ensureTools() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new HostError('the prebuilds are made on a Linux x86_64 host');
  if (!isRoot()) throw new HostError('making the build root needs root (debootstrap, chroot, mount)');
  const missing = [];
  for (const [tool, pkg] of [
    ['debootstrap', 'debootstrap'],
    ['unshare', 'util-linux'],
    ['readelf', 'binutils'],
  ]) {
    const found = await run('sh', ['-c', `command -v ${tool}`], { allowFail: true });
    if (found.code !== 0) missing.push(pkg);
  }
  if (missing.length === 0) return;
  await aptUpdate();
  log(`installing ${missing.join(' ')}`);
  await run('apt-get', ['-qq', '-y', '--no-install-recommends', 'install', ...missing], { env: aptEnv() });
}

/** The bullseye root, made once and cached under a key of what it includes. */
async function ensureRoot() {
  const key = createHash('sha256').update(INCLUDE.join(' ')).digest('hex').slice(0, 12);
  const root = join(CACHE, `${SUITE}-${key}`);
  if (existsSync(join(root, '.complete'))) {
    log(`build root ${SUITE} (cached)`);
    return root;
  }
  const t0 = Date.now();
  const mirror = debianMirror();
  log(`debootstrap ${SUITE} with ${INCLUDE.join(', ')} (about 2 minutes)`);
  const tmp = temp(`${root}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  // In a private mount namespace: debootstrap mounts /proc (and more) inside the new root, and an
  // interrupted run would otherwise leave those mounted under .cache/.
  await run('unshare', ['--mount', '--propagation', 'private', 'debootstrap', '--variant=minbase', `--include=${INCLUDE.join(',')}`, SUITE, tmp, mirror], {
    env: aptEnv(),
  });
  writeFileSync(join(tmp, '.complete'), `${SUITE} ${INCLUDE.join(' ')}\n`);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  for (const old of listDir(CACHE))
    if (join(CACHE, old) !== root && !old.includes('.tmp-') && old !== 'stage' && !old.startsWith('built-'))
      rmSync(join(CACHE, old), { recursive: true, force: true });
  log(`build root ready in ${secs(t0)}s`);
  return root;
}

/** Node's headers: where npm's nodedir points (this machine's npm is set to /usr), else next to node. */
function nodeHeaders() {
  const candidates = [];
  try {
    const dir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).trim();
    if (dir && dir !== 'undefined' && dir !== 'null') candidates.push(join(dir, 'include', 'node'));
  } catch {
    // npm missing: try next to node
  }
  candidates.push(join(process.execPath, '..', '..', 'include', 'node'));
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'common.gypi')));
  if (!found) throw new HostError(`Node's headers (node_api.h, common.gypi) are not in ${candidates.join(' or ')}`);
  return found;
}

/** A clean stage with what a build reads: native/'s sources and binding.gyp, a package.json, Node's headers. */
function makeStage() {
  const stage = join(CACHE, 'stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const f of nativeSources()) cpSync(join(REPO, f), join(stage, basename(f)));
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'dmabuf', private: true }));
  cpSync(nodeHeaders(), join(stage, 'node-headers', 'include', 'node'), { recursive: true });
  return stage;
}

function inRoot(root, stage, arch) {
  const script = join(REPO, 'scripts', 'prebuild', 'in-root.sh');
  const args = ['--mount', '--propagation', 'private', 'sh', script, root, stage, join(REPO, 'node_modules'), process.execPath, arch];
  return new Promise((resolve, reject) => {
    const child = start('unshare', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`the ${arch} build failed (exit ${code})`))));
  });
}

/** Both prebuilds exist, were built from these sources and pass the checks: nothing to do. */
function upToDate() {
  const quiet = { write() {} };
  return listPrebuilds().length === TARGETS.length && checkPrebuilds({ require: true, out: quiet }).length === 0;
}

async function main() {
  const t0 = Date.now();
  process.on('exit', cleanupAll);
  if (!process.argv.includes('--force') && upToDate()) {
    checkPrebuilds({ require: true });
    log('up to date with native/ (--force rebuilds)');
    return 0;
  }
  // Built before from these very sources (another clone, an earlier CI run): take those.
  const built = join(CACHE, `built-${sourcesHash()}`);
  if (!process.argv.includes('--force') && existsSync(join(built, '.complete'))) {
    rmSync(PREBUILDS, { recursive: true, force: true });
    cpSync(built, PREBUILDS, { recursive: true, filter: (src) => !src.endsWith('.complete') });
    writeFileSync(stampPath(), `${sourcesHash()}\n`);
    if (checkPrebuilds({ require: true }).length === 0) {
      log(`taken from the cache (${built}) in ${secs(t0)}s`);
      return 0;
    }
  }
  await ensureTools();
  const root = await ensureRoot();
  const stage = makeStage();
  for (const target of TARGETS) {
    const arch = target.slice('linux-'.length);
    log(`building ${target}`);
    await inRoot(root, stage, arch);
  }
  rmSync(PREBUILDS, { recursive: true, force: true });
  cpSync(join(stage, 'prebuilds'), PREBUILDS, { recursive: true });
  writeFileSync(stampPath(), `${sourcesHash()}\n`);
  const problems = checkPrebuilds({ require: true });
  for (const p of problems) log(`problem: ${p}`);
  if (!problems.length) {
    for (const old of readdirSync(CACHE)) if (old.startsWith('built-')) rmSync(join(CACHE, old), { recursive: true, force: true });
    cpSync(PREBUILDS, built, { recursive: true });
    writeFileSync(join(built, '.complete'), '');
  }
  log(`done in ${secs(t0)}s`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(e instanceof HostError ? e.message : e.stack);
    process.exit(1);
  },
);
