import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { DmaHeap, Frame, emulation, region } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';
import { CMA_HEAP_NAMES, cmaRegionNames, heapKind, resolveHeapName } from '../../lib/common/heap-kind.js';

describe('heaps across kernel generations', () => {
  it('knows each heap kind by its kernel name', () => {
    const kinds = Object.fromEntries(
      [
        'system',
        'system-uncached',
        'system_cc_shared',
        'linux,cma',
        'reserved',
        'default-pool',
        'default_cma_region',
        'linux,cma-uncached',
        'protected,secure-video',
        'protected,trusted-ui',
        'vidbuf_cached',
      ].map((n) => [n, heapKind(n)]),
    );
    expect(kinds).toEqual({
      system: 'system',
      'system-uncached': 'system',
      system_cc_shared: 'system',
      'linux,cma': 'cma',
      reserved: 'cma',
      'default-pool': 'cma',
      default_cma_region: 'cma',
      'linux,cma-uncached': 'cma',
      'protected,secure-video': 'protected',
      'protected,trusted-ui': 'protected',
      vidbuf_cached: 'other',
    });
    expect(heapKind('vpu', ['vpu@30000000', 'vpu'])).toBe('cma');
  });

  it("'cma' resolves to whichever name this kernel gives its CMA heap, newest name first", () => {
    for (const name of CMA_HEAP_NAMES) expect(resolveHeapName('cma', ['system', name])).toBe(name);
    expect(resolveHeapName('cma', ['linux,cma', 'default_cma_region'])).toBe('default_cma_region');
    expect(resolveHeapName('cma', ['system', 'vpu'], ['vpu'])).toBe('vpu');
    expect(resolveHeapName('cma', ['system'])).toBeUndefined();
    expect(resolveHeapName('system', ['system'])).toBe('system');
    expect(resolveHeapName('linux,cma', ['reserved'])).toBeUndefined();
  });

  it('finds reusable shared-dma-pool regions in a device tree, and nothing where there is none', () => {
    const root = mkdtempSync(join(tmpdir(), 'dmabuf-dt-'));
    try {
      const node = (name: string, compatible: string, reusable: boolean): void => {
        mkdirSync(join(root, name));
        writeFileSync(join(root, name, 'compatible'), `${compatible}\0`);
        if (reusable) writeFileSync(join(root, name, 'reusable'), '');
      };
      node('vpu@30000000', 'shared-dma-pool', true);
      node('ramoops@40000000', 'ramoops', false);
      node('fw@50000000', 'shared-dma-pool', false);
      expect(cmaRegionNames(root)).toEqual(['vpu@30000000', 'vpu']);
      expect(cmaRegionNames(join(root, 'absent'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("DmaHeap 'cma' opens the board's CMA heap and says which; without one, ENOENT lists what exists", () => {
    const board = emulation.create({ heaps: ['system', 'linux,cma'] });
    using cma = board.heap('cma');
    expect(cma.name).toBe('linux,cma');
    expect(cma.kind).toBe('cma');
    using buf = cma.allocate(100);
    expect(buf.exporter).toBe('linux,cma');
    const e = thrown(() => emulation.create().heap('cma'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toMatch(/no CMA heap here \(looked for default_cma_region, linux,cma, reserved, default-pool.*this system has: system/);
  });

  it('a protected heap allocates, but every CPU access to its buffers fails with ERR_DMABUF_NOT_CPU_ACCESSIBLE and leaves the holder free', async () => {
    const board = emulation.create({ heaps: ['system', 'protected,secure-video'] });
    using heap = board.heap('protected,secure-video');
    expect(heap.kind).toBe('protected');
    using buf = heap.allocate(4096);
    const code = 'ERR_DMABUF_NOT_CPU_ACCESSIBLE';
    expect(thrown(() => buf.beginCpuAccess('read')).code).toBe(code);
    expect(thrown(() => buf.withCpuAccess('write', region.linear({ offset: 0, length: 16 }), () => 1)).code).toBe(code);
    await expect(buf.cpuAccess('readwrite')).rejects.toMatchObject({
      code,
      message: expect.stringMatching(/protected heap 'protected,secure-video'; the CPU cannot map its memory/),
    });
    using frame = Frame.allocate(heap, { width: 64, height: 64, format: 'XR24' });
    expect(thrown(() => frame.withCpuAccess('read', () => 1)).code).toBe(code);
    // Nothing was opened: the buffer can be exported and closed as usual.
    buf.exportSyncFile('read').close();
  });

  it('emulation heaps are validated: a list of 1–16 distinct heap names', () => {
    for (const heaps of [[], ['a', 'a'], ['a/b'], [''], ['.'], 'system', [1], Array.from({ length: 17 }, (_, i) => `h${i}`)]) {
      const e = thrown(() => emulation.create({ heaps: heaps as string[] }));
      expect(['EINVAL', 'ERR_INVALID_ARG_TYPE']).toContain(e.code);
      expect(e.argument).toBe('heaps');
    }
  });

  it('list({ details: true }) tries each heap and says it is emulated; plain list() gives names', () => {
    const saved = process.env['DMABUF_BACKEND'];
    process.env['DMABUF_BACKEND'] = 'emulated';
    try {
      expect(DmaHeap.list()).toEqual(['system']);
      expect(DmaHeap.list({ details: true })).toEqual([{ name: 'system', kind: 'system', accessible: true, cpuMappable: true, emulated: true }]);
      expect(thrown(() => DmaHeap.list({ details: 'yes' as unknown as boolean })).argument).toBe('details');
    } finally {
      if (saved === undefined) delete process.env['DMABUF_BACKEND'];
      else process.env['DMABUF_BACKEND'] = saved;
    }
  });
});

describe('seeing what the package does', () => {
  it('util.inspect shows fd, size, name, exporter, backend and state', async () => {
    const emu = emulation.create();
    using heap = emu.heap();
    expect(inspect(heap)).toBe("DmaHeap { name: 'system', kind: 'system', backend: 'emulated' }");
    using buf = heap.allocate(4096, { name: 'preview' });
    expect(inspect(buf)).toMatch(/^DmaBuf \{\s+fd: \d+,\s+size: 4096,\s+name: 'preview',\s+exporter: 'system',\s+backend: 'emulated',\s+state: 'idle'\s+\}$/);
    const access = buf.beginCpuAccess('write', region.rect({ x: 1, y: 1, width: 4, height: 2, stride: 64, bytesPerPixel: 4 }));
    expect(inspect(buf)).toMatch(/state: 'in a write bracket'/);
    expect(inspect(access)).toMatch(/^CpuAccess \{\s+mode: 'write',\s+region: 'rect',.*x: 1,.*width: 4,.*height: 2,.*stride: 64,.*state: 'open'/s);
    access.end();
    expect(inspect(access)).toMatch(/state: 'ended'/);
    const sync = buf.exportSyncFile('read');
    expect(inspect(sync)).toMatch(/^SyncFile \{ fd: \d+, backend: 'emulated', status: 'signaled' \}$/);
    sync.close();
    expect(inspect(sync)).toBe('SyncFile { closed: true }');
    using frame = Frame.allocate(heap, { width: 64, height: 32, format: 'NV12' });
    expect(inspect(frame, { breakLength: Infinity })).toBe("Frame { format: 'NV12', width: 64, height: 32, modifier: '0x0', planes: 2, buffers: 1 }");
    expect(inspect({ nested: { deeper: buf } }, { depth: 1 })).toBe('{ nested: { deeper: [DmaBuf] } }');
    buf.close();
    expect(inspect(buf)).toBe('DmaBuf { closed: true }');
  });

  it('NODE_DEBUG=dmabuf logs the backend choice, the addon, heap opens and failed allocations; nothing without it', () => {
    const script = `
      import { DmaHeap, emulation } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      DmaHeap.open('system').close();
      const e = emulation.create({ heaps: ['linux,cma'] });
      e.failNext('allocate', 'ENOMEM');
      try { e.heap('cma').allocate(4096); } catch {}
    `;
    const run = (debug: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, NODE_DEBUG: debug, DMABUF_BACKEND: 'emulated' },
      });
    const on = run('dmabuf');
    expect(on.status, on.stderr).toBe(0);
    expect(on.stderr).toMatch(/DMABUF \d+: backend: emulated \(DMABUF_BACKEND=emulated\)/);
    expect(on.stderr).toMatch(/DMABUF \d+: heap system opened \(emulated backend\)/);
    expect(on.stderr).toMatch(/DMABUF \d+: heap linux,cma opened for 'cma' \(emulated backend\)/);
    expect(on.stderr).toMatch(/DMABUF \d+: heap linux,cma: allocating 4096 bytes failed: .*ENOMEM|DMABUF \d+: heap linux,cma: allocating 4096 bytes failed/);
    const off = run('');
    expect(off.status, off.stderr).toBe(0);
    expect(off.stderr).toBe('');
  });

  it('environment-variable errors name the variable', () => {
    const script = `
      import { DmaHeap } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      try { DmaHeap.open(); } catch (e) { console.log(e.code, e.argument, e.message); }
    `;
    for (const [name, value] of [
      ['DMABUF_EMULATION', 'foo'],
      ['DMABUF_EMULATION_SEED', 'x'],
      ['DMABUF_BACKEND', 'gpu'],
    ] as const) {
      const env = { ...process.env, DMABUF_BACKEND: 'emulated', [name]: value };
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
      expect(r.stdout, r.stderr).toMatch(new RegExp(`^EINVAL ${name} .*${name}.*${value}`));
    }
  });
});
