import { describe, expect, it } from 'vitest';
import { DmaBuf, type SyncFile } from '../../lib/index.js';
import { kernelAllocator, runKernel } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';

describe.runIf(runKernel)('kernel: EXPORT/IMPORT_SYNC_FILE and sync_file ioctls (needs a dma-heap or udmabuf)', () => {
  const c = () => addon().constants;

  // Kernel case #38 (docs/kernel-cases.md).
  it('EXPORT with flags 0, END, 8, READ|END, 0x80000001 → EINVAL; a NULL argument → EFAULT', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fds = fdSnapshot();
    for (const flags of [0, 4, 8, 1 | 4, 0x80000001]) {
      expect(() => addon().dmaBufExportSyncFile(buf.fd, flags), `flags ${flags}`).toThrow(
        expect.objectContaining({ code: 'EINVAL', syscall: 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE' }),
      );
    }
    expect(() => addon().ioctlRaw(buf.fd, c().DMA_BUF_IOCTL_EXPORT_SYNC_FILE, null)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(() => buf.exportSyncFile('both' as never)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'mode' }));
  });

  // Kernel case #38 (docs/kernel-cases.md).
  it('valid READ/WRITE/RW exports of an idle buffer are signalled, POLLIN-ready and FD_CLOEXEC', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    for (const mode of ['read', 'write', 'readwrite'] as const) {
      using fence = buf.exportSyncFile(mode);
      expect(fence.status).toBe('signaled');
      expect(fence.info().status).toBe(1);
      expect(addon().poll(fence.fd, c().POLLIN, 0) & c().POLLIN).toBe(c().POLLIN);
      expect(addon().testHooks.getFdFlags(fence.fd) & c().FD_CLOEXEC).toBe(c().FD_CLOEXEC);
    }
  });

  // Kernel case #41 (docs/kernel-cases.md).
  it('FILE_INFO flags=1, pad=1 → EINVAL; a bad pointer → EFAULT', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using fence = buf.exportSyncFile('read');
    expect(() => addon().testHooks.syncFileInfoRaw(fence.fd, { flags: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'SYNC_IOC_FILE_INFO' }));
    expect(() => addon().testHooks.syncFileInfoRaw(fence.fd, { pad: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => addon().testHooks.syncFileInfoRaw(fence.fd, { badPointer: true })).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });

  // Kernel case #42 (docs/kernel-cases.md).
  it('SET_DEADLINE pad=1 → EINVAL; a valid deadline → ok (6.12 has it)', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using fence = buf.exportSyncFile('read');
    expect(() => addon().testHooks.syncFileSetDeadlineRaw(fence.fd, addon().testHooks.monotonicNs() + 1_000_000n, 1)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'SYNC_IOC_SET_DEADLINE' }),
    );
    fence.setDeadline(5);
    fence.setDeadline(addon().testHooks.monotonicNs() + 1_000_000n);
    expect(() => fence.setDeadline(-1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('MERGE: signalled + signalled is signalled; a non-sync_file fd2 → ENOENT; flags/pad → EINVAL', async () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using a = buf.exportSyncFile('read');
    using b = buf.exportSyncFile('write');
    using merged = a.merge(b, 'both');
    expect(merged.info().name).toBe('both');
    expect(merged.status).toBe('signaled');
    await merged.wait({ timeoutMs: 1000 });
    expect(addon().testHooks.getFdFlags(merged.fd) & c().FD_CLOEXEC).toBe(c().FD_CLOEXEC);
    expect(() => addon().syncFileMerge(a.fd, buf.fd, 'x')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'SYNC_IOC_MERGE' }));
    expect(() => addon().testHooks.syncFileMergeRaw(a.fd, b.fd, 'x', { flags: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => addon().testHooks.syncFileMergeRaw(a.fd, b.fd, 'x', { pad: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => a.merge({} as SyncFile)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('IMPORT: a non-sync_file fd → EINVAL; bad flags → EINVAL', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using other = heap.allocate(4096);
    using fence = buf.exportSyncFile('read');
    expect(() => addon().dmaBufImportSyncFile(buf.fd, c().DMA_BUF_SYNC_READ, other.fd)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE' }),
    );
    expect(() => addon().dmaBufImportSyncFile(buf.fd, 0, fence.fd)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => buf.importSyncFile(fence, 'both' as never)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'mode' }));
    expect(() => buf.importSyncFile(fence, 'read')).not.toThrow();
    // READ|WRITE is a valid import (a write fence), so 'readwrite' is too.
    expect(() => addon().dmaBufImportSyncFile(buf.fd, c().DMA_BUF_SYNC_RW, fence.fd)).not.toThrow();
    expect(() => buf.importSyncFile(fence, 'readwrite')).not.toThrow();
  });

  it('a closed SyncFile throws ERR_DMABUF_CLOSED everywhere; close twice is fine', async () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const fence = buf.exportSyncFile('read');
    fence.close();
    fence.close();
    const closed = expect.objectContaining({ code: 'ERR_DMABUF_CLOSED' });
    expect(() => fence.fd).toThrow(closed);
    expect(() => fence.info()).toThrow(closed);
    expect(() => fence.status).toThrow(closed);
    await expect(fence.wait()).rejects.toThrow(closed);
    expect(() => buf.importSyncFile(fence, 'read')).toThrow(closed);
    expect(() => DmaBuf.fromFd(-1)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'fd' }));
  });
});
