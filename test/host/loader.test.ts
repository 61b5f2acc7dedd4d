import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { backendInfo } from '../../lib/index.js';
import { decide } from '../../lib/backend/select.js';
import { loadAddon, originOf, packageRoot, tryLoad } from '../../lib/native/load.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('native addon loader', () => {
  it('says the addon is Linux-only elsewhere', () => {
    const result = tryLoad('/any/dmabuf.node', 'darwin');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/only on Linux.*DMABUF_BACKEND=emulated/);
  });

  it('says how to build it from source when the binary is missing', () => {
    const result = tryLoad('/nonexistent/dmabuf.node', 'linux');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/missing.*npm explore dmabuf -- npx node-gyp rebuild --directory native.*g\+\+/);
  });

  it('says how to rebuild when the binary does not load', () => {
    const result = tryLoad(fixturePath('child-reads-fd3.mjs'), 'linux');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/failed to load.*npm explore dmabuf -- npx node-gyp rebuild --directory native/);
  });

  it('names a source build and a prebuild by where the file lies', () => {
    const root = '/pkg';
    expect(originOf(root, '/pkg/native/build/Release/dmabuf.node')).toBe('source build');
    expect(originOf(root, '/pkg/prebuilds/linux-arm64/dmabuf.napi.glibc.node')).toBe('prebuild linux-arm64');
  });

  it.runIf(process.platform === 'linux')('loads an addon on Linux and says where it came from', () => {
    const result = loadAddon();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.addon.constants.PAGE_SIZE).toBeGreaterThanOrEqual(4096);
    expect(result.origin).toBe(originOf(packageRoot(), result.path));
    expect(backendInfo().addon).toEqual({ origin: result.origin, path: result.path });
  });

  it.runIf(process.platform === 'linux')("prefers the checkout's source build over a prebuild, unless PREBUILDS_ONLY is set", () => {
    // npm test builds the addon from source (pretest); a prebuild, where one exists, comes second.
    // The arm64 VM sets PREBUILDS_ONLY: native/build holds the host's x64 build there.
    const result = loadAddon();
    if (process.env['PREBUILDS_ONLY']) {
      expect(result.ok && result.origin).toBe(`prebuild linux-${process.arch}`);
      expect(result.ok && result.path).toBe(join(packageRoot(), 'prebuilds', `linux-${process.arch}`, 'dmabuf.glibc.node'));
    } else {
      expect(result.ok && result.origin).toBe('source build');
      expect(result.ok && result.path).toBe(join(packageRoot(), 'native', 'build', 'Release', 'dmabuf.node'));
    }
  });
});

describe('backend choice', () => {
  const noAddon = { ok: false, origin: 'none', reason: 'no prebuilt addon for linux-riscv64' } as const;
  const fakeAddon = { ok: true, origin: 'prebuild linux-arm64', path: '/p.node', addon: {} } as unknown as Parameters<typeof decide>[2];

  it('auto with real devices and no loadable addon refuses instead of emulating, naming the reason and the fix', () => {
    const d = decide('auto', ['/dev/dma_heap'], noAddon);
    expect(d.kind).toBeNull();
    expect(d.reason).toMatch(/\/dev\/dma_heap exist, but no prebuilt addon for linux-riscv64.*DMABUF_BACKEND=emulated/);
  });

  it('auto with no devices emulates, and says so', () => {
    expect(decide('auto', [], noAddon)).toEqual({ kind: 'emulated', reason: expect.stringMatching(/no dma-buf devices.*emulated/) });
  });

  it('auto with devices and an addon uses the kernel and names the addon', () => {
    expect(decide('auto', ['/dev/udmabuf'], fakeAddon)).toEqual({ kind: 'kernel', reason: expect.stringMatching(/udmabuf present.*prebuild linux-arm64/) });
  });

  it('a forced backend is taken, or refused with the reason', () => {
    expect(decide('emulated', ['/dev/dma_heap'], fakeAddon).kind).toBe('emulated');
    expect(decide('kernel', [], fakeAddon)).toEqual({ kind: null, reason: expect.stringMatching(/neither/) });
    expect(decide('kernel', ['/dev/udmabuf'], noAddon)).toEqual({ kind: null, reason: expect.stringMatching(/riscv64/) });
  });

  it('backendInfo() reports the emulated backend when DMABUF_BACKEND=emulated, with its manifest', () => {
    const saved = process.env['DMABUF_BACKEND'];
    process.env['DMABUF_BACKEND'] = 'emulated';
    try {
      const i = backendInfo();
      expect(i.backend).toBe('emulated');
      expect(i.choice).toBe('emulated');
      expect(i.reason).toBe('DMABUF_BACKEND=emulated');
      expect(i.supports?.devices).toBe(true);
      expect(Object.isFrozen(i)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['DMABUF_BACKEND'];
      else process.env['DMABUF_BACKEND'] = saved;
    }
  });
});
