/** Fences on a busy buffer (a fence source: vgem on the kernel, device jobs on the emulator): sync files, waits, aborts. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, MisuseCode, SyncFile } from '../../../lib/index.js';
import { HOLD_MS, activeResources, leftoverResources, type ConformanceBackend } from '../../helpers/backends.js';
import { ticksDuring, sleep } from '../../helpers/loop.js';
import { rejection, thrown } from '../../helpers/errors.js';
import { shape, readAll } from './shared.js';

export function fences(b: ConformanceBackend): void {
  describe.runIf(b.fences)('fences: sync files and waits on a busy buffer (needs a fence source: vgem on the kernel)', () => {
    it('export while busy is active and a snapshot; it signals when the fence is released', async () => {
      using buf = b.allocate(4096);
      using before = buf.exportSyncFile('readwrite');
      const hold = b.busy(buf, 'write');
      using during = buf.exportSyncFile('read');
      using duringW = buf.exportSyncFile('write');
      expect(before.status).toBe('signaled');
      expect(during.status).toBe('active');
      expect(duringW.status).toBe('active');
      expect(during.info().status).toBe(0);
      expect(during.info().fences.some((f) => f.status === 0)).toBe(true);
      expect((await rejection(during.wait({ timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      await hold.release();
      await during.wait({ timeoutMs: 2000 });
      expect(during.status).toBe('signaled');
      expect(duringW.status).toBe('signaled');
      expect(during.info().fences.every((f) => f.status === 1 && f.timestampNs > 0n)).toBe(true);
      using afterwards = buf.exportSyncFile('readwrite');
      expect(afterwards.status).toBe('signaled');
    });

    it('a reader fence is in a write export only; a writer fence is in both', async () => {
      using buf = b.allocate(4096);
      const hold = b.busy(buf, 'read');
      using forRead = buf.exportSyncFile('read');
      using forWrite = buf.exportSyncFile('write');
      using forRw = buf.exportSyncFile('readwrite');
      expect([forRead.status, forWrite.status, forRw.status]).toEqual(['signaled', 'active', 'active']);
      await hold.release();
      await forWrite.wait({ timeoutMs: 2000 });
      expect(forRw.status).toBe('signaled');
    });

    it('import makes another buffer busy: as a write fence for everyone, as a read fence for writers', async () => {
      using source = b.allocate(4096);
      using asWriter = b.allocate(4096);
      using asReader = b.udmabuf(4096);
      const hold = b.busy(source, 'write');
      using sync = source.exportSyncFile('read');
      expect(sync.status).toBe('active');
      using asReadWrite = b.allocate(4096);
      asWriter.importSyncFile(sync, 'write');
      asReader.importSyncFile(sync, 'read');
      // 'readwrite' is what the kernel files as a write fence (the WRITE flag decides).
      asReadWrite.importSyncFile(sync, 'readwrite');
      expect((await rejection(asWriter.waitIdle('read', { timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      expect((await rejection(asReadWrite.waitIdle('read', { timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      expect(thrown(() => asWriter.beginCpuAccess('read', undefined, { timeoutMs: 10 })).code).toBe('ETIMEDOUT');
      await asReader.waitIdle('read', { timeoutMs: 1000 });
      expect((await rejection(asReader.waitIdle('write', { timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      using reExport = asWriter.exportSyncFile('read');
      expect(reExport.status).toBe('active');
      await hold.release();
      await asWriter.waitIdle('read', { timeoutMs: 2000 });
      await asReader.waitIdle('readwrite', { timeoutMs: 2000 });
      await asReadWrite.waitIdle('readwrite', { timeoutMs: 2000 });
      await reExport.wait({ timeoutMs: 2000 });
    });

    it('SyncFile.fromFd gives a second holder of the same fences; anything else is EBADFD or EBADF', async () => {
      using buf = b.allocate(4096);
      const hold = b.busy(buf, 'write');
      using sync = buf.exportSyncFile('read');
      using second = SyncFile.fromFd(sync.fd);
      expect(second.fd).not.toBe(sync.fd);
      expect(second.status).toBe('active');
      expect(shape(thrown(() => SyncFile.fromFd(buf.fd)))).toEqual({ code: 'EBADFD', argument: 'fd' });
      expect(thrown(() => SyncFile.fromFd(-1)).code).toBe('EINVAL');
      expect(thrown(() => SyncFile.fromFd(sync.fd, { dup: 'no' as unknown as boolean })).code).toBe('ERR_INVALID_ARG_TYPE');
      await hold.release();
      await second.wait({ timeoutMs: 2000 });
      expect(sync.status).toBe('signaled');
      const fd = second.fd;
      second.close();
      expect(thrown(() => SyncFile.fromFd(fd)).code).toBe('EBADF');
    });

    it('merge of an active and a signalled sync file is active until the fence is released', async () => {
      using buf = b.allocate(4096);
      using idle = b.allocate(4096);
      const hold = b.busy(buf, 'write');
      using active = buf.exportSyncFile('read');
      using done = idle.exportSyncFile('read');
      using merged = active.merge(done, 'merged');
      using reversed = done.merge(active);
      expect(merged.status).toBe('active');
      expect(reversed.status).toBe('active');
      expect(merged.info().name).toBe('merged');
      expect((await rejection(merged.wait({ timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      merged.setDeadline(5);
      merged.setDeadline(process.hrtime.bigint());
      await hold.release();
      await merged.wait({ timeoutMs: 2000 });
      await reversed.wait({ timeoutMs: 2000 });
      expect(merged.status).toBe('signaled');
    });

    it('await cpuAccess() stays pending while a 10 ms interval keeps firing, and resolves once the fence is released', async () => {
      using buf = b.allocate(4096);
      buf.withCpuAccess('write', (access) => access.bytes.fill(0x33));
      const hold = b.busy(buf, 'write');
      let settled = false;
      const pending = buf.cpuAccess('read').finally(() => {
        settled = true;
      });
      const { ticks } = await ticksDuring(sleep(100));
      expect(settled).toBe(false);
      expect(ticks).toBeGreaterThanOrEqual(3);
      // One bracket per holder counts a pending acquisition too.
      expect(thrown(() => buf.beginCpuAccess('read')).code).toBe(MisuseCode.BRACKET_ACTIVE);
      await hold.release();
      const { value: access, ticks: after } = await ticksDuring(pending);
      expect(access.bytes.length).toBe(buf.size);
      expect(access.bytes.every((x) => x === 0x33)).toBe(true);
      access.end();
      expect(after).toBeLessThan(100);
    });

    it('waitIdle and START: a reader fence blocks writers only', async () => {
      using buf = b.allocate(4096);
      const hold = b.busy(buf, 'read');
      await buf.waitIdle('read', { timeoutMs: 1000 });
      buf.beginCpuAccess('read', undefined, { timeoutMs: 0 }).end();
      (await buf.cpuAccess('read', undefined, { timeoutMs: 1000 })).end();
      expect((await rejection(buf.waitIdle('write', { timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      expect((await rejection(buf.waitIdle('readwrite', { timeoutMs: 30 }))).code).toBe('ETIMEDOUT');
      const t0 = performance.now();
      const error = thrown(() => buf.beginCpuAccess('write', undefined, { timeoutMs: 20 }));
      expect(error.code).toBe('ETIMEDOUT');
      expect(error.syscall).toBe('poll');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
      expect(thrown(() => buf.beginCpuAccess('readwrite', undefined, { timeoutMs: 0 })).code).toBe('ETIMEDOUT');
      await hold.release();
      await buf.waitIdle('write', { timeoutMs: 2000 });
      buf.beginCpuAccess('readwrite', undefined, { timeoutMs: 0 }).end();
    });

    it('waitIdle and START: a writer fence blocks readers and writers', async () => {
      using buf = b.udmabuf(4096);
      const hold = b.busy(buf, 'write');
      for (const mode of ['read', 'write', 'readwrite'] as const) {
        expect((await rejection(buf.waitIdle(mode, { timeoutMs: 20 }))).code, mode).toBe('ETIMEDOUT');
        expect(thrown(() => buf.beginCpuAccess(mode, undefined, { timeoutMs: 10 })).code, mode).toBe('ETIMEDOUT');
      }
      expect((await rejection(buf.cpuAccess('read', undefined, { timeoutMs: 20 }))).code).toBe('ETIMEDOUT');
      await hold.release();
      await buf.waitIdle('read', { timeoutMs: 2000 });
      await buf.waitIdle('write', { timeoutMs: 2000 });
      buf.beginCpuAccess('write', undefined, { timeoutMs: 0 }).end();
    });

    it('a second holder sees the first holder’s fences: they belong to the buffer', async () => {
      using buf = b.allocate(4096);
      using second = DmaBuf.fromFd(buf.fd);
      const hold = b.busy(buf, 'write');
      expect((await rejection(second.waitIdle('read', { timeoutMs: 20 }))).code).toBe('ETIMEDOUT');
      using sync = second.exportSyncFile('read');
      expect(sync.status).toBe('active');
      await hold.release();
      await second.waitIdle('read', { timeoutMs: 2000 });
    });

    it('an AbortSignal rejects waits with an AbortError, and the holder is free again', async () => {
      using buf = b.allocate(4096);
      const hold = b.busy(buf, 'write');
      using sync = buf.exportSyncFile('read');
      const waits: [string, (signal: AbortSignal) => Promise<unknown>][] = [
        ['cpuAccess', (signal) => buf.cpuAccess('read', undefined, { signal })],
        ['waitIdle', (signal) => buf.waitIdle('write', { signal, timeoutMs: 60_000 })],
        ['sync.wait', (signal) => sync.wait({ signal })],
      ];
      for (const [what, wait] of waits) {
        const controller = new AbortController();
        const pending = rejection(wait(controller.signal));
        await sleep(5);
        controller.abort();
        const error = await pending;
        expect(error.name, what).toBe('AbortError');
        expect((error as unknown as { code: string }).code).toBe('ABORT_ERR');
        // Already aborted: rejected without waiting.
        const error2 = await rejection(wait(AbortSignal.abort()));
        expect(error2.name, what).toBe('AbortError');
      }
      expect(thrown(() => buf.beginCpuAccess('read', undefined, { timeoutMs: 0 })).code).toBe('ETIMEDOUT');
      await hold.release();
      (await buf.cpuAccess('read', undefined, { signal: new AbortController().signal })).end();
    });

    it('close() during a pending cpuAccess rejects it with ERR_DMABUF_CLOSED', async () => {
      const buf = b.allocate(4096);
      const hold = b.busy(buf, 'write');
      const pending = rejection(buf.cpuAccess('read'));
      await sleep(5);
      buf.close();
      expect((await pending).code).toBe(MisuseCode.CLOSED);
      await hold.release();
    });

    it('a fence on a udmabuf makes it busy the same way', async () => {
      using buf = b.udmabuf(8192);
      const hold = b.busy(buf, 'write');
      using sync = buf.exportSyncFile('readwrite');
      expect(sync.status).toBe('active');
      expect((await rejection(buf.waitIdle('read', { timeoutMs: 20 }))).code).toBe('ETIMEDOUT');
      await hold.release();
      await sync.wait({ timeoutMs: 2000 });
      buf.withCpuAccess('write', (access) => access.bytes.fill(1));
      expect(readAll(buf)[8191]).toBe(1);
    });

    it('waits that settle (resolved, timed out, aborted) leave no timer or handle behind', async () => {
      using buf = b.allocate(4096);
      const before = await activeResources();
      const hold = b.busy(buf, 'write');
      using sync = buf.exportSyncFile('read');
      await rejection(buf.waitIdle('read', { timeoutMs: 10 }));
      await rejection(sync.wait({ timeoutMs: 10 }));
      await rejection(buf.cpuAccess('read', undefined, { timeoutMs: 10 }));
      const controller = new AbortController();
      const aborted = rejection(buf.waitIdle('read', { timeoutMs: 60_000, signal: controller.signal }));
      const resolved = Promise.all([buf.waitIdle('read', { timeoutMs: 60_000 }), sync.wait({ timeoutMs: 60_000 })]);
      controller.abort();
      await aborted;
      await hold.release();
      await resolved;
      (await buf.cpuAccess('readwrite', undefined, { timeoutMs: 60_000 })).end();
      expect(await leftoverResources(before)).toEqual([]);
    });

    it(`a hold ends within its ${HOLD_MS} ms and the loop's lateness, far from vgem's 10 s expiry`, async () => {
      using buf = b.allocate(4096);
      const hold = b.busy(buf, 'read');
      const t0 = performance.now();
      await hold.release();
      // The margin is for a software CPU shared with another VM (CI).
      expect(performance.now() - t0).toBeLessThan(HOLD_MS + 2000);
      await buf.waitIdle('write', { timeoutMs: 0 });
    });
  });
}
