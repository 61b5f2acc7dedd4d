// Host prerequisites: Linux x86_64 with Debian's apt (the kernels come from Debian's archive, see
// docs/TESTING.md, "The real-kernel suite") plus the profile's qemu, a static busybox, xz and cpio.
import { existsSync } from 'node:fs';
import { log, run, secs } from './proc.mjs';

// Debian package -> what we use from it.
const PACKAGES = {
  'busybox-static': '/bin/busybox (static: it runs alone in the x86 initramfs, and lists the applets of the arm64 one)',
  'xz-utils': 'xz (the kernel modules are .ko.xz)',
  cpio: 'cpio (initramfs archive)',
};

export class HostError extends Error {}

async function installed(pkg) {
  // dpkg-query's own format syntax, not a template literal.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format placeholder
  const { code, out } = await run('dpkg-query', ['-W', '-f=${Status}', pkg], { allowFail: true });
  return code === 0 && out.includes('install ok installed');
}

/** apt-get update, at most once per run. */
let updated = false;
export async function aptUpdate(force = false) {
  if (updated && !force) return;
  log('apt-get update');
  await run('apt-get', ['-qq', 'update'], { env: aptEnv() });
  updated = true;
}

export function aptEnv() {
  return { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
}

export const isRoot = () => process.getuid?.() === 0;

/** Checks the host and installs what is missing (as root), or throws HostError saying what to do. */
export async function ensureHost(profile) {
  const packages = { [profile.qemuPackage]: profile.qemu, ...PACKAGES };
  if (process.platform !== 'linux') {
    throw new HostError(
      `the kernel VM needs a Linux x86_64 host with apt (this is ${process.platform}); the emulated backend's tests run anywhere with "npm test"`,
    );
  }
  if (process.arch !== 'x64') {
    throw new HostError(`the kernel VM runner works on an x86_64 host (this is ${process.arch})`);
  }
  if (!existsSync('/usr/bin/apt-get') || !existsSync('/usr/bin/dpkg-query')) {
    throw new HostError(
      "the kernel VM needs a Debian-like host with apt (the kernel is Debian's linux-image-6.12-amd64) and these packages:\n" +
        Object.entries(packages)
          .map(([p, why]) => `  ${p}: ${why}`)
          .join('\n'),
    );
  }
  const missing = [];
  for (const pkg of Object.keys(packages)) if (!(await installed(pkg))) missing.push(pkg);
  if (missing.length === 0) return;
  const cmd = `apt-get install --no-install-recommends ${missing.join(' ')}`;
  if (!isRoot()) throw new HostError(`missing packages; install them as root and retry:\n  sudo apt-get update && sudo ${cmd}`);
  const t0 = Date.now();
  await aptUpdate();
  log(`installing ${missing.join(' ')}`);
  await run('apt-get', ['-qq', '-y', '--no-install-recommends', 'install', ...missing], { env: aptEnv() });
  log(`installed in ${secs(t0)}s`);
}
