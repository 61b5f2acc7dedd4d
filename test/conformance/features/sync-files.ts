/** Sync files of an idle buffer: export, import, merge, deadlines, closing, and what is not one. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, MisuseCode, type SyncFile } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { rejection, thrown } from '../../helpers/errors.js';
import { shape } from './shared.js';

export function syncFiles(b: ConformanceBackend): void {
  describe('sync files', () => {
    it('the export of an idle buffer is signalled, for every mode, and waits resolve at once', async () => {
      using buf = b.allocate(4096);
      for (const mode of ['read', 'write', 'readwrite'] as const) {
        using sync = buf.exportSyncFile(mode);
        expect(sync.status).toBe('signaled');
        expect(sync.closed).toBe(false);
        expect(sync.backend).toBe(b.kind);
        const info = sync.info();
        expect(info.status).toBe(1);
        expect(info.fences.length).toBe(1);
        expect(info.fences[0]?.status).toBe(1);
        await sync.wait({ timeoutMs: 1000 });
        await sync.wait({ timeoutMs: 0 });
      }
    });

    it('importing a signalled sync file keeps the buffer idle; merging two signalled ones is signalled', async () => {
      using a = b.allocate(4096);
      using c = b.udmabuf(4096);
      using one = a.exportSyncFile('read');
      using two = c.exportSyncFile('write');
      c.importSyncFile(one, 'write');
      a.importSyncFile(two, 'read');
      await c.waitIdle('readwrite', { timeoutMs: 1000 });
      using merged = one.merge(two, 'both-idle');
      expect(merged.status).toBe('signaled');
      expect(merged.info().name).toBe('both-idle');
      await merged.wait({ timeoutMs: 0 });
      expect(shape(thrown(() => one.merge({} as SyncFile)))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', argument: 'other' });
      expect(shape(thrown(() => one.merge(two, 'x'.repeat(32))))).toEqual({ code: 'EINVAL', argument: 'name' });
    });

    it('setDeadline accepts milliseconds from now and absolute bigint nanoseconds, and refuses the rest', () => {
      using buf = b.allocate(4096);
      using sync = buf.exportSyncFile('read');
      sync.setDeadline(0);
      sync.setDeadline(16.7);
      sync.setDeadline(process.hrtime.bigint() + 16_000_000n);
      for (const [deadline, code] of [
        [-1, 'EINVAL'],
        [Number.NaN, 'EINVAL'],
        [-1n, 'EINVAL'],
        [2n ** 64n, 'EINVAL'],
        ['5', 'ERR_INVALID_ARG_TYPE'],
      ] as const) {
        expect(shape(thrown(() => sync.setDeadline(deadline as number))), String(deadline)).toEqual({ code, argument: 'deadline' });
      }
    });

    it('every method of a closed SyncFile throws ERR_DMABUF_CLOSED; close twice is fine', async () => {
      using buf = b.allocate(4096);
      const sync = buf.exportSyncFile('read');
      using live = buf.exportSyncFile('read');
      sync.close();
      expect(sync.closed).toBe(true);
      const closed = { code: MisuseCode.CLOSED, argument: undefined };
      for (const [what, call] of [
        ['fd', () => sync.fd],
        ['status', () => sync.status],
        ['info', () => sync.info()],
        ['merge', () => sync.merge(live)],
        ['merge into', () => live.merge(sync)],
        ['setDeadline', () => sync.setDeadline(1)],
        ['importSyncFile', () => buf.importSyncFile(sync, 'read')],
      ] as const) {
        expect(shape(thrown(call)), what).toEqual(closed);
      }
      expect(shape(await rejection(sync.wait()))).toEqual(closed);
      sync.close();
    });

    it('DmaBuf.fromFd refuses a sync file with EBADFD before any dma-buf ioctl', () => {
      using buf = b.allocate(4096);
      using sync = buf.exportSyncFile('read');
      expect(shape(thrown(() => DmaBuf.fromFd(sync.fd)))).toEqual({ code: 'EBADFD', argument: 'fd' });
      expect(shape(thrown(() => DmaBuf.fromFd(-1)))).toEqual({ code: 'EINVAL', argument: 'fd' });
      expect(shape(thrown(() => DmaBuf.fromFd('3' as never)))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', argument: 'fd' });
      expect(shape(thrown(() => DmaBuf.fromFd(buf.fd, { dup: 'yes' as never })))).toEqual({ code: 'ERR_INVALID_ARG_TYPE', argument: 'dup' });
    });
  });
}
