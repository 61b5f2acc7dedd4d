// The packed tarball as a user's app gets it: installed with a plain `npm install` (npm 11) and no
// compiler on PATH by scripts/consumer/prepare.mjs (npm run test:kernel does it on the host before
// booting the VM, which has no network). In the VMs the installed package must reach the kernel through its
// prebuild; with the prebuilds removed, `auto` must refuse instead of handing out emulated fds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { provides, requireKernel } from '../helpers/env.js';

const CONSUMER = join(import.meta.dirname, '..', '..', '.cache', 'consumer');
const APP = join(CONSUMER, 'app');
const BARE = join(CONSUMER, 'app-without-addon');

function check(dir: string, env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['check.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, DMABUF_BACKEND: '', PREBUILDS_ONLY: '', ...env },
    timeout: 120_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

describe.runIf(requireKernel || existsSync(APP))(
  'the packed tarball, installed with a plain npm install and no compiler (needs scripts/consumer/prepare.mjs)',
  () => {
    it('the install exists (npm run test:kernel prepares it before the VM boots)', () => {
      expect(existsSync(join(APP, 'node_modules', 'dmabuf', 'package.json'))).toBe(true);
      expect(existsSync(join(APP, 'node_modules', 'dmabuf', 'build'))).toBe(false);
      expect(existsSync(join(APP, 'node_modules', 'dmabuf', 'native', 'build'))).toBe(false);
    });

    it(`loads the linux-${process.arch} prebuild and, where the kernel has devices, uses it`, () => {
      const report = check(APP);
      expect(report.arch).toBe(process.arch);
      expect(report.info.addon.origin).toBe(`prebuild linux-${process.arch}`);
      expect(report.info.addon.path).toBe(join(APP, 'node_modules', 'dmabuf', 'prebuilds', `linux-${process.arch}`, 'dmabuf.glibc.node'));
      expect(report.error).toBeUndefined();
      expect(report.buffer.readBack).toBe(true);
      if (requireKernel) {
        expect(report.info.backend).toBe('kernel');
        expect(report.buffer).toMatchObject({ backend: 'kernel', exporter: provides.heaps ? 'system' : 'udmabuf', name: 'consumer' });
      } else {
        expect(report.info.backend).toBe('emulated');
      }
    });

    it('the dmabuf command is installed for the app (npx dmabuf): --version, and doctor reports the prebuild', () => {
      const bin = join(APP, 'node_modules', '.bin', 'dmabuf');
      const version = spawnSync(bin, ['--version'], { cwd: APP, encoding: 'utf8' });
      expect(version.status, version.stderr).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      const doctor = spawnSync(bin, ['doctor', '--json'], { cwd: APP, encoding: 'utf8', env: { ...process.env, DMABUF_BACKEND: '', PREBUILDS_ONLY: '' } });
      const report = JSON.parse(doctor.stdout);
      expect(report.backend.addon.origin).toBe(`prebuild linux-${process.arch}`);
      expect(doctor.status).toBe(requireKernel ? 0 : 1);
    });

    it.runIf(requireKernel)(
      'the TypeScript app (compiled on the host with TypeScript 5.2) runs on this kernel: regions, a frame, a buffer over the channel',
      () => {
        const app = join(CONSUMER, 'app-ts');
        const run = spawnSync(process.execPath, [join('out-vm', 'main.js')], {
          cwd: app,
          encoding: 'utf8',
          env: { ...process.env, DMABUF_BACKEND: '', PREBUILDS_ONLY: '' },
          timeout: 120_000,
        });
        expect(run.status, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({
          backend: 'kernel',
          origin: `prebuild linux-${process.arch}`,
          regionSum: 16 * 16 * 0xa5,
          bytesAfterEnd: 0,
          heapKind: provides.heaps ? 'system' : null,
          frame: { format: 'NV12', planes: 2 },
          error: 'EINVAL',
          channel: { text: 'hello', buffers: 1, fds: 0 },
        });
      },
    );

    it('CommonJS code can require() it (require(esm), Node.js 20.19+ and 22.12+)', () => {
      const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
      expect(major > 20 || (major === 20 && minor >= 19)).toBe(true); // the claim the README makes needs this Node
      const run = spawnSync(process.execPath, ['-e', "const d = require('dmabuf'); console.log(typeof d.DmaHeap.open, d.backendInfo().addon.origin)"], {
        cwd: APP,
        encoding: 'utf8',
        env: { ...process.env, PREBUILDS_ONLY: '' },
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe(`function prebuild linux-${process.arch}`);
    });

    it.runIf(requireKernel)('without its prebuilds, auto refuses to emulate where real devices exist, and says why', () => {
      const report = check(BARE);
      expect(report.info.backend).toBe('unavailable');
      expect(report.info.addon.origin).toBe('none');
      expect(report.info.reason).toMatch(
        /^auto: .* exists?, but this package has no addon for linux-.*no prebuilds.*npm explore dmabuf.*DMABUF_BACKEND=emulated/,
      );
      expect(report.error).toMatchObject({ code: 'ERR_DMABUF_BACKEND_UNAVAILABLE', isDmaBufError: true });
    });

    it.runIf(requireKernel)('without its prebuilds, DMABUF_BACKEND=emulated still gives emulated buffers', () => {
      const report = check(BARE, { DMABUF_BACKEND: 'emulated' });
      expect(report.info.backend).toBe('emulated');
      expect(report.buffer).toMatchObject({ backend: 'emulated', readBack: true });
    });
  },
);
