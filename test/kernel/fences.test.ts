import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import type { DmaBuf } from '../../lib/index.js';
import { VgemFenceSource } from '../../lib/testing/index.js';
import { kernelAllocator, runVgem } from '../helpers/env.js';
import { addon, addonPath } from '../helpers/addon.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { ticksDuring, sleep } from '../helpers/loop.js';
import { fixturePath } from '../helpers/fixtures.js';
import { warmUpWorkers } from '../helpers/workers.js';

type WorkerReport =
  | { kind: 'ready' }
  | { kind: 'waiting' }
  | { kind: 'done'; elapsedMs: number; first: number }
  | { kind: 'error'; elapsedMs: number; code: string };

/** A worker (fixtures/fence-blocked-worker.mjs) that opens a read bracket on a shared buffer: its reports so far, the next of a kind, its exit code. */
function blockedReader(
  buf: DmaBuf,
  timeoutMs: number,
): { reports: WorkerReport[]; next(kind: WorkerReport['kind']): Promise<WorkerReport>; go(): void; exited: Promise<number> } {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(fixturePath('fence-blocked-worker.mjs'), { workerData: { handle: buf.share(), timeoutMs, go } });
  const reports: WorkerReport[] = [];
  worker.on('message', (m: WorkerReport) => reports.push(m));
  const exited = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
  const next = (kind: WorkerReport['kind']): Promise<WorkerReport> =>
    new Promise((resolve, reject) => {
      const found = reports.find((r) => r.kind === kind);
      if (found) return resolve(found);
      const onMessage = (m: WorkerReport): void => {
        if (m.kind !== kind) return;
        worker.off('message', onMessage);
        resolve(m);
      };
      worker.on('message', onMessage);
      void exited.then(() => reject(new Error(`the worker exited without a '${kind}' report`)), reject);
    });
  const release = (): void => {
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
  };
  return { reports, next, go: release, exited };
}

describe.runIf(runVgem)('kernel: implicit fences from vgem (needs the vgem DRM driver)', () => {
  const c = () => addon().constants;

  it('VgemFenceSource checks the driver name and exports PRIME dma-bufs (exporter "drm")', () => {
    using vgem = VgemFenceSource.open();
    expect(addon().drmDriverName(vgem.fd)).toBe('vgem');
    using buf = vgem.createBuffer(8192);
    // PRIME exports are made by the DRM core, whose dma_buf_export_info names the module: "drm".
    expect(buf.exporter).toBe('drm');
    expect(buf.size).toBeGreaterThanOrEqual(8192);
    buf.withCpuAccess('write', (a) => a.bytes.fill(3));
    buf.withCpuAccess('read', (a) => expect(a.bytes[8191]).toBe(3));
  });

  // Kernel case F5 (docs/kernel-cases.md).
  it('await cpuAccess() stays pending while a 10 ms interval keeps firing, and resolves when the fence is signalled', async () => {
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fence = vgem.attachFence(buf, 'write');
    let settled = false;
    const access = buf.cpuAccess('read').finally(() => (settled = true));
    const { ticks } = await ticksDuring(sleep(300));
    expect(settled).toBe(false);
    // A loop blocked in the wait would tick at most once; a software CPU shared with another VM
    // may run a 10 ms interval only every few tens of ms.
    expect(ticks).toBeGreaterThanOrEqual(5);
    vgem.signal(fence);
    const { value, ticks: after } = await ticksDuring(access);
    expect(value.bytes.length).toBe(buf.size);
    value.end();
    expect(after).toBeLessThan(100);
  });

  // Issue 20, item 5: the synchronous bracket honours a real dma_resv fence from another thread.
  it('beginCpuAccess("read") in a worker blocks until the vgem write fence signals, while the main loop runs; then reads what was written before the fence', async () => {
    await warmUpWorkers();
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096, { name: 'fenced' });
    buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(0x5a));
    const fds = fdSnapshot();
    const reader = blockedReader(buf, 10_000);
    await reader.next('ready');
    const fence = vgem.attachFence(buf, 'write');
    reader.go();
    await reader.next('waiting');
    // The worker sits in SYNC START (dma_resv_wait_timeout on the write fence); the main thread's
    // loop keeps turning meanwhile.
    const { ticks } = await ticksDuring(sleep(300));
    expect(ticks).toBeGreaterThanOrEqual(5); // at most one if the main thread were blocked
    expect(reader.reports.map((r) => r.kind)).toEqual(['ready', 'waiting']);
    vgem.signal(fence);
    const done = await reader.next('done');
    expect(await reader.exited).toBe(0);
    expect(done).toMatchObject({ kind: 'done', first: 0x5a });
    if (done.kind !== 'done') throw new Error('unreachable');
    expect(done.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(done.elapsedMs).toBeLessThan(5_000);
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('beginCpuAccess in a worker with timeoutMs against a fence that stays pending throws ETIMEDOUT near its time, and the worker leaves no fd', async () => {
    await warmUpWorkers();
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fds = fdSnapshot();
    const reader = blockedReader(buf, 150);
    await reader.next('ready');
    const fence = vgem.attachFence(buf, 'write');
    reader.go();
    const failed = await reader.next('error');
    expect(await reader.exited).toBe(0);
    expect(failed).toMatchObject({ kind: 'error', code: 'ETIMEDOUT' });
    if (failed.kind !== 'error') throw new Error('unreachable');
    expect(failed.elapsedMs).toBeGreaterThanOrEqual(140);
    expect(failed.elapsedMs).toBeLessThan(2_000);
    vgem.signal(fence);
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('poll semantics: a reader fence blocks writers only; a writer fence blocks both', async () => {
    using vgem = VgemFenceSource.open();
    using buf = vgem.createBuffer(4096);
    const reader = vgem.attachFence(buf, 'read');
    expect(addon().poll(buf.fd, c().POLLIN, 0) & c().POLLIN).toBe(c().POLLIN);
    expect(addon().poll(buf.fd, c().POLLOUT, 0)).toBe(0);
    await buf.waitIdle('read', { timeoutMs: 1000 });
    buf.beginCpuAccess('read', undefined, { timeoutMs: 0 }).end();
    await expect(buf.waitIdle('write', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(() => buf.beginCpuAccess('write', undefined, { timeoutMs: 20 })).toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
    vgem.signal(reader);
    await buf.waitIdle('write', { timeoutMs: 1000 });
    const writer = vgem.attachFence(buf, 'write');
    expect(addon().poll(buf.fd, c().POLLIN, 0)).toBe(0);
    await expect(buf.waitIdle('read', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // vgem refuses a second, conflicting fence while one is pending.
    expect(() => vgem.attachFence(buf, 'read')).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    vgem.signal(writer);
    await buf.waitIdle('readwrite', { timeoutMs: 1000 });
  });

  it('export is a snapshot: fences added later are not in it; vgem fences show in FILE_INFO', async () => {
    using vgem = VgemFenceSource.open();
    using buf = vgem.createBuffer(4096);
    using before = buf.exportSyncFile('read');
    const fence = vgem.attachFence(buf, 'write');
    using during = buf.exportSyncFile('read');
    expect(before.status).toBe('signaled');
    expect(during.status).toBe('active');
    const info = during.info();
    expect(info.fences.length).toBeGreaterThanOrEqual(1);
    expect(info.fences[0]?.driverName).toBe('vgem');
    await expect(during.wait({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    vgem.signal(fence);
    await during.wait({ timeoutMs: 1000 });
    expect(during.status).toBe('signaled');
    expect(during.info().fences[0]?.timestampNs).toBeGreaterThan(0n);
  });

  // Kernel case #41 (docs/kernel-cases.md).
  it('FILE_INFO with num_fences smaller than the real count → EINVAL (a merge of two pending vgem fences)', () => {
    using vgem = VgemFenceSource.open();
    using a = vgem.createBuffer(4096);
    using b = vgem.createBuffer(4096);
    const fa = vgem.attachFence(a, 'write');
    const fb = vgem.attachFence(b, 'write');
    using sa = a.exportSyncFile('read');
    using sb = b.exportSyncFile('read');
    using merged = sa.merge(sb, 'two');
    const info = merged.info();
    expect(info.fences.length).toBe(2);
    expect(info.status).toBe(0);
    expect(addon().syncFileStatus(merged.fd)).toBe(0); // num_fences 0: the status alone
    expect(() => addon().testHooks.syncFileInfoRaw(merged.fd, { numFences: 1 })).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'SYNC_IOC_FILE_INFO' }),
    );
    vgem.signal(fa);
    expect(merged.status).toBe('active');
    vgem.signal(fb);
    expect(merged.status).toBe('signaled');
    expect(addon().syncFileStatus(merged.fd)).toBe(1);
  });

  it('import bridges explicit to implicit: an active sync_file imported as a write fence makes a heap buffer busy', async () => {
    using vgem = VgemFenceSource.open();
    using source = vgem.createBuffer(4096);
    using heap = kernelAllocator();
    using target = heap.allocate(4096);
    const fence = vgem.attachFence(source, 'write');
    using sync = source.exportSyncFile('read');
    target.importSyncFile(sync, 'write');
    await expect(target.waitIdle('read', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    using exported = target.exportSyncFile('read'); // dropped unclosed once: the F2 flake (lifetime.test.ts)
    using merged = sync.merge(exported, 'merged');
    expect(merged.status).toBe('active');
    vgem.signal(fence);
    await target.waitIdle('read', { timeoutMs: 1000 });
    await merged.wait({ timeoutMs: 1000 });
  });

  // Kernel case F6 (docs/kernel-cases.md).
  it('a signal during a blocking START is retried with the remaining time, not surfaced as EINTR', async () => {
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fence = vgem.attachFence(buf, 'write');
    let signals = 0;
    const onSignal = () => signals++;
    process.on('SIGUSR2', onSignal);
    try {
      // The main thread blocks in poll(); a worker sends SIGUSR2 (EINTR), then signals the fence.
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const addon = require(workerData.addonPath);
         setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 150);
         setTimeout(() => { addon.vgemFenceSignal(workerData.card, workerData.fence); parentPort.postMessage('signalled'); }, 400);`,
        { eval: true, workerData: { addonPath: addonPath(), card: vgem.fd, fence: fence.id } },
      );
      await new Promise((resolve) => worker.once('online', resolve));
      const t0 = performance.now();
      const access = buf.beginCpuAccess('read', undefined, { timeoutMs: 5000 });
      const elapsed = performance.now() - t0;
      access.end();
      await new Promise((resolve) => worker.once('exit', resolve));
      await sleep(20);
      expect(elapsed).toBeGreaterThan(300);
      expect(elapsed).toBeLessThan(5000);
      expect(signals).toBe(1);
    } finally {
      process.off('SIGUSR2', onSignal);
    }
  });

  // Kernel case F7 (docs/kernel-cases.md).
  it('a fence that never signals makes waits reject with ETIMEDOUT near their time, leaking nothing', async () => {
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fds = fdSnapshot();
    const handlesBefore = process.getActiveResourcesInfo().length;
    const fence = vgem.attachFence(buf, 'write');
    for (const wait of [() => buf.waitIdle('write', { timeoutMs: 100 }), () => buf.cpuAccess('read', undefined, { timeoutMs: 100 })]) {
      const t0 = performance.now();
      await expect(wait()).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(95);
      // Near: the time given, not the default nor a unit off. The margin is the loop's lateness
      // on a software CPU shared with another VM (CI), which can reach hundreds of ms.
      expect(elapsed).toBeLessThan(100 + 1500);
    }
    const ac = new AbortController();
    const aborted = buf.waitIdle('write', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    // A bracket can be opened after the failed cpuAccess: the holder's slot was released.
    vgem.signal(fence);
    (await buf.cpuAccess('read', undefined, { timeoutMs: 1000 })).end();
    await sleep(10);
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handlesBefore);
  });

  it('close() during a pending cpuAccess rejects it with ERR_DMABUF_CLOSED and releases the wait', async () => {
    using vgem = VgemFenceSource.open();
    using heap = kernelAllocator();
    const buf: DmaBuf = heap.allocate(4096);
    const fence = vgem.attachFence(buf, 'write');
    const pending = buf.cpuAccess('read');
    await sleep(20);
    buf.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    vgem.signal(fence);
  });

  // Kernel case F8 (docs/kernel-cases.md).
  it('vgem fences auto-expire after ~10 s: POLLOUT becomes ready, SIGNAL then says ETIMEDOUT, the sync_file status is 1', async () => {
    using vgem = VgemFenceSource.open();
    using buf = vgem.createBuffer(4096);
    const fence = vgem.attachFence(buf, 'write');
    using sync = buf.exportSyncFile('write');
    expect(addon().poll(buf.fd, c().POLLOUT, 0)).toBe(0);
    const t0 = performance.now();
    await buf.waitIdle('write', { timeoutMs: 15_000 });
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(8_000);
    expect(elapsed).toBeLessThan(12_500);
    expect(() => vgem.signal(fence)).toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
    expect(sync.info().status).toBe(1);
    await sync.wait({ timeoutMs: 100 });
  }, 30_000);
});
