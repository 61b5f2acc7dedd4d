// Knowing the system on a real kernel: `dmabuf doctor` and `dmabuf ls` against what the VM has.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { DmaBufError, DmaHeap } from '../../lib/index.js';
import { kernelAllocator, kernelAtLeast, NEEDS_HEAPS, PAGE, provides, runHeaps, runKernel } from '../helpers/env.js';
import { fixturePath } from '../helpers/fixtures.js';

const BIN = new URL('../../bin/dmabuf.js', import.meta.url).pathname;
const HOLDER = fixturePath('holder.mjs');

// biome-ignore lint/suspicious/noExplicitAny: the commands' JSON, asserted field by field
function dmabuf(args: string[], prefix: string[] = []): { status: number | null; json: any; stderr: string } {
  const [cmd, ...rest] = [...prefix, process.execPath, BIN, ...args];
  const r = spawnSync(cmd as string, rest, { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: '' } });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, stderr: r.stderr + r.stdout };
}

/** Start a holder process; resolves once it has its buffer mapped. */
async function holder(args: string[], stdio3?: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, ...args], { stdio: ['pipe', 'pipe', 'inherit', ...(stdio3 === undefined ? [] : [stdio3])] });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    expect(JSON.parse(line)).toMatchObject({ ready: true });
    break;
  }
  return child;
}

async function release(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  await exited;
}

// udmabuf's size_limit_mb defaults to 64 up to Linux 7.2 and to INT_MAX from 7.3, which doctor
// reports as no limit (sizeLimitMb null), with no note to raise it.
const udmabufLimited = !kernelAtLeast(7, 3);

describe.runIf(runKernel)('dmabuf doctor on a real kernel', () => {
  it(`as root: the kernel backend serves; udmabuf with its limits (${udmabufLimited ? '64 MiB' : 'none'}); every capability probe true on 6.12 and later; exit 0`, () => {
    const r = dmabuf(['doctor', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = r.json;
    expect(report.usable).toBe(true);
    expect(report.backend.backend).toBe('kernel');
    expect(report.kernel.pageSize).toBe(PAGE);
    expect(kernelAtLeast(6, 12), report.kernel.release).toBe(true);
    expect(report.udmabuf).toMatchObject({ present: true, usable: true, sizeLimitMb: udmabufLimited ? 64 : null, listLimit: 1024 });
    const limitNote = { level: 'note', what: 'udmabuf buffers are limited to 64 MiB (size_limit_mb)', fix: expect.stringContaining('size_limit_mb') };
    if (udmabufLimited) expect(report.findings).toContainEqual(limitNote);
    else expect(report.findings.filter((f: { what: string }) => f.what.includes('size_limit_mb'))).toEqual([]);
    expect(report.probes).toEqual({
      on: provides.heaps ? 'heap system' : 'udmabuf',
      sync: true,
      setName: true,
      exportSyncFile: true,
      importSyncFile: true,
      syncFileInfo: true,
      setDeadline: true,
    });
    // The vgem card (a platform device up to 6.16, a faux device from 6.17): found by its driver name.
    expect(report.vgem).toEqual(provides.vgem ? { present: true, path: expect.stringMatching(/^\/dev\/dri\/card\d+$/) } : { present: false, path: null });
    // The first vivid capture node, found by its QUERYCAP driver name (vivid-000-vid-cap).
    expect(report.vivid).toEqual(provides.vivid ? { present: true, path: expect.stringMatching(/^\/dev\/video\d+$/) } : { present: false, path: null });
    if (provides.heaps) {
      expect(report.heaps.list).toEqual([
        { name: 'system', kind: 'system', path: '/dev/dma_heap/system', mode: '0600', owner: 'root', group: 'root', accessible: true, cpuMappable: true },
      ]);
    } else {
      // The arm64 kernels: the heap-less report.
      expect(report.heaps).toEqual({ directory: '/dev/dma_heap', present: false, list: [], emulated: [] });
      expect(report.findings).toContainEqual(expect.objectContaining({ level: 'note', what: expect.stringMatching(/this kernel has no dma-heaps/) }));
    }
    expect(report.findings.filter((f: { level: string }) => f.level === 'problem')).toEqual([]);
  });

  it('the text report says the same for a person', () => {
    const r = spawnSync(process.execPath, [BIN, 'doctor'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('dmabuf doctor: the kernel backend can serve this user here');
    expect(r.stdout).toMatch(provides.heaps ? /\nsystem\s+system\s+0600\s+root\s+root\s+yes\s+yes\n/ : /none: this kernel has no dma-heaps/);
    const limits = udmabufLimited ? 'size_limit_mb 64, list_limit 1024' : 'no size limit, list_limit 1024';
    expect(r.stdout).toMatch(new RegExp(`/dev/udmabuf\\s+\\d+ \\S+:\\S+\\s+usable: yes\\s+${limits}\n`));
    if (provides.vgem) expect(r.stdout).toMatch(/\nvgem\s+\/dev\/dri\/card\d+\n/);
    if (provides.vivid) expect(r.stdout).toMatch(/\nvivid\s+\/dev\/video\d+\n/);
    expect(r.stdout).not.toContain('Problems');
  });

  it.runIf(runHeaps)(`as an unprivileged user the root-only heap is unusable, with the udev fix; a changed mode is seen ${NEEDS_HEAPS}`, () => {
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
    const device = '/dev/dma_heap/system';
    const mode = statSync(device).mode & 0o7777;
    try {
      const denied = dmabuf(['doctor', '--json'], nobody);
      const report = denied.json;
      expect(report, denied.stderr).toBeDefined();
      expect(report.user.uid).toBe(65534);
      expect(report.heaps.list[0]).toMatchObject({ name: 'system', mode: '0600', accessible: false, cpuMappable: null });
      const finding = report.findings.find((f: { what: string }) => f.what.startsWith("heap 'system'"));
      expect(finding).toMatchObject({ level: 'problem', what: expect.stringMatching(/cannot be opened by .*EACCES/) });
      expect(finding.fix).toContain('SUBSYSTEM=="dma_heap", KERNEL=="system", GROUP="video", MODE="0640"');
      expect(report.usable).toBe(report.udmabuf.usable);
      for (const f of report.findings) if (f.level === 'problem') expect(f.fix, f.what).toEqual(expect.any(String));
      expect(denied.status).toBe(report.usable ? 0 : 1);

      chmodSync(device, 0o644);
      const granted = dmabuf(['doctor', '--json'], nobody);
      expect(granted.json.heaps.list[0]).toMatchObject({ name: 'system', mode: '0644', accessible: true, cpuMappable: true });
      expect(granted.json.usable).toBe(true);
      expect(granted.status).toBe(0);

      // ls as that user: other users' processes are counted, not read.
      const ls = dmabuf(['ls', '--json'], nobody);
      expect(ls.status, ls.stderr).toBe(0);
      expect(ls.json.unreadable).toBeGreaterThan(0);
      expect(ls.json.processes).toEqual([]);
    } finally {
      chmodSync(device, mode);
    }
  });

  it("DmaHeap 'cma' on a kernel without a CMA heap is ENOENT listing what exists; list({ details }) tries each heap", () => {
    let error: unknown;
    try {
      DmaHeap.open('cma');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DmaBufError);
    expect(error).toMatchObject({
      code: 'ENOENT',
      message: provides.heaps ? expect.stringMatching(/this system has: system$/) : expect.stringMatching(/this system has no dma-heaps$/),
    });
    expect(DmaHeap.list({ details: true })).toEqual(
      provides.heaps ? [{ name: 'system', kind: 'system', accessible: true, cpuMappable: true, emulated: false }] : [],
    );
  });
});

describe.runIf(runKernel)('dmabuf ls on a real kernel', () => {
  it('finds a named buffer a child allocated and mapped: size, exporter, one holder, mapped by it', async () => {
    const child = await holder(['allocate', 'ls-probe', String(3 * PAGE)]);
    try {
      const r = dmabuf(['ls', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const mine = r.json.buffers.filter((b: { name: string }) => b.name === 'ls-probe');
      expect(mine).toEqual([
        {
          inode: expect.any(Number),
          size: 3 * PAGE,
          exporter: provides.heaps ? 'system' : 'udmabuf',
          name: 'ls-probe',
          holders: [child.pid],
          fds: 1,
          mappedBy: [child.pid],
        },
      ]);
      const proc = r.json.processes.find((p: { pid: number }) => p.pid === child.pid);
      expect(proc).toMatchObject({ command: 'node', buffers: 1, size: 3 * PAGE, mappedSize: 3 * PAGE, pss: 3 * PAGE });
      expect(r.json.unreadable).toBe(0);
      const only = dmabuf(['ls', '--json', '--pid', String(child.pid)]).json;
      expect(only.processes.map((p: { pid: number }) => p.pid)).toEqual([child.pid]);
      expect(only.total).toEqual({ buffers: 1, size: 3 * PAGE });
    } finally {
      await release(child);
    }
  });

  it('a buffer shared by two processes counts half to each in PSS', async () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(4 * PAGE, { name: 'ls-shared' });
    const child = await holder(['import'], buf.fd);
    try {
      const r = dmabuf(['ls', '--json']);
      const shared = r.json.buffers.find((b: { name: string }) => b.name === 'ls-shared');
      expect(shared).toMatchObject({ size: 4 * PAGE, holders: [process.pid, child.pid!].sort((a, b) => a - b), mappedBy: [child.pid] });
      const proc = r.json.processes.find((p: { pid: number }) => p.pid === child.pid);
      expect(proc).toMatchObject({ buffers: 1, size: 4 * PAGE, pss: 2 * PAGE });
      const text = spawnSync(process.execPath, [BIN, 'ls', '--pid', String(child.pid)], { encoding: 'utf8' }).stdout;
      expect(text).toMatch(
        new RegExp(`\\n\\s*${child.pid}\\s+node\\s+1\\s+${(4 * PAGE) / 1024} KiB\\s+${(4 * PAGE) / 1024} KiB\\s+${(2 * PAGE) / 1024} KiB\\n`),
      );
    } finally {
      await release(child);
    }
  });
});
