// What this host can check of the dma-heap, udmabuf, dma-buf, sync_file and DRM wrappers without
// the devices: each issues its ioctl and reports the kernel's refusal on a non-device fd (ENOTTY)
// with the right syscall name. The real devices are exercised by the kernel tests in the VM.
import { describe, expect, it } from 'vitest';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { closedAfterEach } from '../helpers/tracked-fds.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { expectErrno } from '../helpers/errors.js';

describe.runIf(isLinux)('native kernel-object wrappers on non-device fds (Linux only; devices are tested in the VM)', () => {
  const track = closedAfterEach();

  it('memfdCreate makes an O_CLOEXEC memfd; ftruncate sizes it; seals add up', () => {
    const a = addon();
    const c = a.constants;
    const fd = track(a.memfdCreate('seals', c.MFD_ALLOW_SEALING));
    expect(a.testHooks.getFdFlags(fd) & c.FD_CLOEXEC).toBe(c.FD_CLOEXEC);
    a.ftruncate(fd, 3 * c.PAGE_SIZE);
    expect(a.fstat(fd).size).toBe(3 * c.PAGE_SIZE);
    expect(a.getSeals(fd)).toBe(0);
    a.addSeals(fd, c.F_SEAL_SHRINK);
    expect(a.getSeals(fd)).toBe(c.F_SEAL_SHRINK);
    expectErrno(() => a.ftruncate(fd, c.PAGE_SIZE), 'EPERM', 'ftruncate');
    a.ftruncate(fd, 4 * c.PAGE_SIZE); // growing is still allowed
    a.addSeals(fd, c.F_SEAL_GROW | c.F_SEAL_SEAL);
    expect(a.getSeals(fd)).toBe(c.F_SEAL_SHRINK | c.F_SEAL_GROW | c.F_SEAL_SEAL);
    expectErrno(() => a.addSeals(fd, c.F_SEAL_WRITE), 'EPERM', 'fcntl');
  });

  it('a memfd without MFD_ALLOW_SEALING refuses seals', () => {
    const a = addon();
    const fd = track(a.memfdCreate('no-seals', 0));
    expect(a.getSeals(fd)).toBe(a.constants.F_SEAL_SEAL);
    expectErrno(() => a.addSeals(fd, a.constants.F_SEAL_SHRINK), 'EPERM', 'fcntl');
  });

  it('heapAlloc on /dev/null: ENOTTY from DMA_HEAP_IOCTL_ALLOC', () => {
    const a = addon();
    const fd = track(a.open('/dev/null', a.constants.O_RDONLY));
    const fds = fdSnapshot();
    const error = expectErrno(() => a.heapAlloc(fd, 4096, a.constants.O_RDWR | a.constants.O_CLOEXEC, 0), 'ENOTTY', 'DMA_HEAP_IOCTL_ALLOC');
    expect(error.errno).toBe(25);
    expect(error.message).toBe('DMA_HEAP_IOCTL_ALLOC failed: Inappropriate ioctl for device');
    expectErrno(() => a.testHooks.heapAllocRaw(fd, 4096, 0, 1n << 63n, 0), 'ENOTTY', 'DMA_HEAP_IOCTL_ALLOC');
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('udmabufCreate and udmabufCreateList with a memfd as the device: ENOTTY', () => {
    const a = addon();
    const memfd = track(a.memfdCreate('udmabuf', a.constants.MFD_ALLOW_SEALING));
    a.ftruncate(memfd, a.constants.PAGE_SIZE);
    expectErrno(() => a.udmabufCreate(memfd, memfd, 0, a.constants.PAGE_SIZE, 1), 'ENOTTY', 'UDMABUF_CREATE');
    const items = [
      { memfd, offset: 0, size: a.constants.PAGE_SIZE },
      { memfd, offset: 0, size: a.constants.PAGE_SIZE },
    ];
    expectErrno(() => a.udmabufCreateList(memfd, 1, items), 'ENOTTY', 'UDMABUF_CREATE_LIST');
    expectErrno(() => a.udmabufCreateList(memfd, 1, []), 'ENOTTY', 'UDMABUF_CREATE_LIST');
    expect(() => a.udmabufCreateList(memfd, 1, [{ memfd, offset: -1, size: 0 }])).toThrow(RangeError);
    expect(() => a.udmabufCreateList(memfd, 1, [null as never])).toThrow(TypeError);
  });

  it('dma-buf ioctls on a memfd: ENOTTY, with number or bigint SYNC flags', () => {
    const a = addon();
    const fd = track(a.memfdCreate('not-a-dmabuf', 0));
    const c = a.constants;
    expectErrno(() => a.dmaBufSync(fd, c.DMA_BUF_SYNC_START | c.DMA_BUF_SYNC_READ), 'ENOTTY', 'DMA_BUF_IOCTL_SYNC');
    expectErrno(() => a.dmaBufSync(fd, 1n << 40n), 'ENOTTY', 'DMA_BUF_IOCTL_SYNC');
    expectErrno(() => a.dmaBufSetName(fd, 'name'), 'ENOTTY', 'DMA_BUF_SET_NAME');
    expectErrno(() => a.dmaBufExportSyncFile(fd, c.DMA_BUF_SYNC_READ), 'ENOTTY', 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE');
    expectErrno(() => a.dmaBufImportSyncFile(fd, c.DMA_BUF_SYNC_READ, fd), 'ENOTTY', 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE');
    expectErrno(() => a.dmaBufSync(-1, 1), 'EBADF', 'DMA_BUF_IOCTL_SYNC');
    expect(() => a.dmaBufSync(fd, '1' as never)).toThrow(TypeError);
  });

  it('sync_file ioctls on a memfd: ENOTTY', () => {
    const a = addon();
    const fd = track(a.memfdCreate('not-a-sync-file', 0));
    expectErrno(() => a.syncFileInfo(fd), 'ENOTTY', 'SYNC_IOC_FILE_INFO');
    expectErrno(() => a.testHooks.syncFileInfoRaw(fd, { numFences: 4, badPointer: true }), 'ENOTTY', 'SYNC_IOC_FILE_INFO');
    expectErrno(() => a.syncFileMerge(fd, fd, 'merged'), 'ENOTTY', 'SYNC_IOC_MERGE');
    expectErrno(() => a.testHooks.syncFileMergeRaw(fd, fd, 'x'.repeat(64), { flags: 0, pad: 0 }), 'ENOTTY', 'SYNC_IOC_MERGE');
    expectErrno(() => a.syncFileSetDeadline(fd, a.testHooks.monotonicNs()), 'ENOTTY', 'SYNC_IOC_SET_DEADLINE');
    expectErrno(() => a.testHooks.syncFileSetDeadlineRaw(fd, a.testHooks.monotonicNs(), 1), 'ENOTTY', 'SYNC_IOC_SET_DEADLINE');
    // A u64 given as a number, and a raw struct field, must be safe integers (refused before the
    // ioctl: otherwise these would be ENOTTY like the calls above).
    for (const bad of [1.5, Number.NaN, 2 ** 60]) expect(() => a.syncFileSetDeadline(fd, bad as never)).toThrow(RangeError);
    expect(() => a.testHooks.syncFileInfoRaw(fd, { numFences: 4, pad: 1.5 } as never)).toThrow(RangeError);
    expect(() => a.testHooks.syncFileInfoRaw(fd, { numFences: 4, flags: 2 ** 40 } as never)).toThrow(/does not fit in 32 bits/);
  });

  it('DRM and vgem ioctls on a memfd: ENOTTY', () => {
    const a = addon();
    const fd = track(a.memfdCreate('not-drm', 0));
    expectErrno(() => a.drmDriverName(fd), 'ENOTTY', 'DRM_IOCTL_VERSION');
    expectErrno(() => a.drmCreateDumb(fd, 64, 64, 32), 'ENOTTY', 'DRM_IOCTL_MODE_CREATE_DUMB');
    expectErrno(() => a.drmPrimeHandleToFd(fd, 1, a.constants.DRM_RDWR), 'ENOTTY', 'DRM_IOCTL_PRIME_HANDLE_TO_FD');
    expectErrno(() => a.drmPrimeFdToHandle(fd, fd), 'ENOTTY', 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
    expectErrno(() => a.drmGemClose(fd, 1), 'ENOTTY', 'DRM_IOCTL_GEM_CLOSE');
    expectErrno(() => a.vgemFenceAttach(fd, 1, a.constants.VGEM_FENCE_WRITE), 'ENOTTY', 'DRM_IOCTL_VGEM_FENCE_ATTACH');
    expectErrno(() => a.vgemFenceSignal(fd, 1), 'ENOTTY', 'DRM_IOCTL_VGEM_FENCE_SIGNAL');
  });

  it('monotonicNs is a CLOCK_MONOTONIC bigint that advances', async () => {
    const a = addon();
    const t0 = a.testHooks.monotonicNs();
    expect(typeof t0).toBe('bigint');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const t1 = a.testHooks.monotonicNs();
    expect(t1 - t0).toBeGreaterThanOrEqual(15_000_000n);
    // Same clock as performance.timeOrigin-free process.hrtime.bigint (CLOCK_MONOTONIC in libuv).
    const hr = process.hrtime.bigint();
    const diff = hr > t1 ? hr - t1 : t1 - hr;
    expect(diff).toBeLessThan(1_000_000_000n);
  });

  it('dev nodes that do not exist on this host report ENOENT from open', () => {
    const a = addon();
    expectErrno(() => a.open('/dev/dma_heap/dmabuf-test-missing', a.constants.O_RDONLY), 'ENOENT', 'open');
  });
});
