// The package as users receive it, on the host: the apps scripts/consumer/prepare.mjs installed from
// the packed tarball with a plain `npm install` (npm 10 and 11, with and without a compiler on
// PATH), the TypeScript apps of test/package/app/ compiled with `strict` and `skipLibCheck: false`
// by the oldest and the newest TypeScript, and run on every Node.js major the package claims.
// `npm run test:package` prepares and runs this; without the apps (plain `npm test`) it is skipped
// and says so. The VMs run the installed app against their kernels (installed.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireKernel } from '../helpers/env.js';

const CONSUMER = join(import.meta.dirname, '..', '..', '.cache', 'consumer');
const prepared = existsSync(join(CONSUMER, 'tools.json'));
const tools = prepared ? (JSON.parse(readFileSync(join(CONSUMER, 'tools.json'), 'utf8')) as { modules: string }) : { modules: '' };
const REPO_PKG = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { engines: { node: string } };

/** Each Node.js major the package claims, and the binary that runs it here. */
const NODES: [string, string][] = [
  ['20', process.execPath],
  ['22', join(tools.modules, 'node22', 'bin', 'node')],
  ['24', join(tools.modules, 'node24', 'bin', 'node')],
];
const TYPESCRIPTS: [string, string][] = [
  ['5.2 (the oldest with `using`)', join(tools.modules, 'ts52', 'bin', 'tsc')],
  ['newest', join(tools.modules, 'tsnext', 'bin', 'tsc')],
];

/**
 * An npm log without the one line this machine's own ~/.npmrc causes (`nodedir`, set for the
 * repository's node-gyp builds; npm 11 calls it an unknown user config): a user's has none.
 */
function npmLog(path: string): string {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.includes('Unknown user config "nodedir"'))
    .join('\n');
}

function run(file: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(file, args, { cwd, encoding: 'utf8', env: { ...process.env, DMABUF_BACKEND: '', PREBUILDS_ONLY: '', ...env }, timeout: 120_000 });
}

function tsc(tscPath: string, project: string, cwd: string, outDir: string) {
  rmSync(join(cwd, outDir), { recursive: true, force: true });
  return run(process.execPath, [tscPath, '-p', project, '--outDir', outDir], cwd);
}

describe.runIf(prepared && !requireKernel)("the packed tarball in a user's app (npm run test:package prepares it)", () => {
  const apps: [string, string][] = [
    ['npm 11, no compiler on PATH', 'app'],
    ['npm 10, no compiler on PATH', 'app-npm10'],
    ['npm 11, a compiler on PATH', 'app-compiler'],
  ];

  it.each(apps)('plain npm install (%s) compiles nothing, runs no script, and the app loads the prebuild', (_, name) => {
    const app = join(CONSUMER, name);
    const log = npmLog(join(app, 'install.log'));
    expect(log).toMatch(/^added \d+ packages? in /m);
    expect(log).not.toMatch(/gyp|make|g\+\+|prebuild-install|install-scripts|warn|error/i);
    const installed = join(app, 'node_modules', 'dmabuf');
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(existsSync(join(installed, 'native', 'build'))).toBe(false);
    const check = run(process.execPath, ['-e', "import('dmabuf').then((d) => console.log(JSON.stringify(d.backendInfo().addon)))"], app);
    expect(check.status, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toEqual({
      origin: `prebuild linux-${process.arch}`,
      path: join(installed, 'prebuilds', `linux-${process.arch}`, 'dmabuf.glibc.node'),
    });
  });

  it('the published package.json has no script npm runs at install, no root binding.gyp, and gypfile false', () => {
    const installed = join(CONSUMER, 'app', 'node_modules', 'dmabuf');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; gypfile?: boolean };
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts?.[script], script).toBeUndefined();
    expect(pkg.gypfile).toBe(false);
    expect(existsSync(join(installed, 'binding.gyp'))).toBe(false);
    // The source build's inputs are there for the documented command.
    expect(existsSync(join(installed, 'native', 'binding.gyp'))).toBe(true);
  });

  it('a later npm install in the app warns about nothing (npm 11 lists unapproved install scripts)', () => {
    const log = npmLog(join(CONSUMER, 'app', 'reinstall.log'));
    expect(log).toMatch(/up to date/);
    expect(log).not.toMatch(/warn|install-scripts|gyp/i);
  });

  it(`engines says exactly the majors this suite runs: ${NODES.map(([m]) => m).join(', ')}`, () => {
    expect(REPO_PKG.engines.node).toBe('^20.11.0 || ^22.0.0 || ^24.0.0');
    for (const [major, node] of NODES) {
      const version = run(node, ['--version'], CONSUMER);
      expect(version.stdout.trim(), node).toMatch(new RegExp(`^v${major}\\.`));
    }
  });

  describe.each(TYPESCRIPTS)('TypeScript %s, strict, skipLibCheck false', (label, tscPath) => {
    const app = join(CONSUMER, 'app-ts');
    const out = `out-${label.split(' ')[0]}`;

    it('compiles the ES module app (using, regions, frames, the channel, typed errors) with no error', () => {
      const version = run(process.execPath, [tscPath, '--version'], app);
      expect(version.stdout).toMatch(label.startsWith('5.2') ? /Version 5\.2\./ : /Version \d+\./);
      const result = tsc(tscPath, 'tsconfig.json', app, out);
      expect(result.stdout + result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it.each(NODES)('the compiled app runs on Node.js %s and loads the prebuild', (_, node) => {
      const result = run(node, [join(out, 'main.js')], app);
      expect(result.status, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report).toMatchObject({
        backend: 'emulated',
        origin: `prebuild linux-${process.arch}`,
        regionSum: 16 * 16 * 0xa5,
        bytesAfterEnd: 0,
        frame: { format: 'NV12', planes: 2 },
        error: 'EINVAL',
        channel: { text: 'hello', buffers: 0, fds: 1 },
      });
    });
  });

  it('a CommonJS app (require of the ES module package, typed by TypeScript 5.8+) compiles and runs on every major', () => {
    const app = join(CONSUMER, 'app-ts');
    const result = tsc(join(tools.modules, 'tsnext', 'bin', 'tsc'), 'tsconfig.cjs.json', app, 'out-cjs');
    expect(result.stdout + result.stderr).toBe('');
    expect(readFileSync(join(app, 'out-cjs', 'require.cjs'), 'utf8')).toMatch(/require\("dmabuf"\)/);
    for (const [major, node] of NODES) {
      const ran = run(node, [join('out-cjs', 'require.cjs')], app);
      expect(ran.status, `${major}: ${ran.stderr}`).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject({ origin: `prebuild linux-${process.arch}`, read: [1, 2, 3, 4] });
    }
  });

  it('Node.js 24 runs `using` as written (target esnext, no lowering)', () => {
    const app = join(CONSUMER, 'app-ts');
    const result = run(
      process.execPath,
      [join(tools.modules, 'tsnext', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', 'out-esnext', '--target', 'esnext', '--lib', 'esnext'],
      app,
    );
    expect(result.stdout + result.stderr).toBe('');
    expect(readFileSync(join(app, 'out-esnext', 'main.js'), 'utf8')).toMatch(/\busing buf = /);
    const ran = run(NODES[2]?.[1] ?? '', [join('out-esnext', 'main.js')], app);
    expect(ran.status, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ regionSum: 16 * 16 * 0xa5 });
  });
});

describe.runIf(!prepared && !requireKernel)("the packed tarball in a user's app", () => {
  it.skip('is not prepared here: npm run test:package packs it and installs the apps (needs the npm registry)', () => {});
});
