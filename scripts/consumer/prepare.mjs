#!/usr/bin/env node
// Installs the packed tarball the way a user's app would, for test/package/installed.test.ts (on
// the host and in the VMs, which have no network): `npm pack` (prepack builds dist/ and insists on
// both prebuilds), then in a fresh folder `npm install --ignore-scripts <tarball>` with a PATH that
// holds node and npm and nothing else, so no compiler could be used. A second copy of the app has
// the package's prebuilds removed: there `auto` must refuse rather than emulate.
//
//   node scripts/consumer/prepare.mjs      → .cache/consumer/{app,app-without-addon}
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPrebuilds } from '../prebuild/check.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CONSUMER = join(REPO, '.cache', 'consumer');
const log = (msg) => process.stderr.write(`[consumer] ${msg}\n`);

function which(tool) {
  return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
}

function main() {
  process.on('uncaughtException', (e) => {
    log(e.message);
    process.exit(1);
  });
  const t0 = Date.now();
  // What prepack insists on, checked here: the callers (npm run test:kernel…) built dist/ and the
  // prebuilds just before, so pack skips the lifecycle scripts that would build them again.
  const problems = checkPrebuilds({ require: true });
  if (problems.length) throw new Error(`cannot pack: ${problems.join('; ')}`);
  if (!existsSync(join(REPO, 'dist', 'index.js'))) throw new Error('cannot pack: no dist/ (npm run build)');
  rmSync(CONSUMER, { recursive: true, force: true });
  mkdirSync(CONSUMER, { recursive: true });
  log('npm pack');
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', CONSUMER], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarball = join(CONSUMER, packed.trim().split('\n').at(-1));

  // A PATH with node and npm only: no cc, g++, make or python3 to build anything with.
  const bin = mkdtempSync(join(CONSUMER, 'bin-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(which('npm'), join(bin, 'npm'));
  const app = join(CONSUMER, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'dmabuf-consumer', private: true, type: 'module' }, null, 2)}\n`);
  log(`npm install --ignore-scripts ${tarball} (PATH=${bin})`);
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: app,
    env: { ...process.env, PATH: bin, npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  rmSync(bin, { recursive: true, force: true });
  const pkg = join(app, 'node_modules', 'dmabuf');
  if (existsSync(join(pkg, 'build'))) throw new Error('the installed package has a build/ folder: something compiled');
  log(`installed: ${readdirSync(join(pkg, 'prebuilds')).join(', ')}`);

  cpSync(join(REPO, 'scripts', 'consumer', 'check.mjs'), join(app, 'check.mjs'));
  const bare = join(CONSUMER, 'app-without-addon');
  cpSync(app, bare, { recursive: true, verbatimSymlinks: true });
  rmSync(join(bare, 'node_modules', 'dmabuf', 'prebuilds'), { recursive: true, force: true });
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${app}, ${bare}`);
}

main();
