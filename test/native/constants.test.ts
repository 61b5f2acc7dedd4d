import { describe, expect, it } from 'vitest';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';

describe.runIf(isLinux)('native constants (Linux only: the addon builds only there)', () => {
  it('has PAGE_SIZE from sysconf and the generic flag values', () => {
    const c = addon().constants;
    expect(c.PAGE_SIZE).toBeGreaterThanOrEqual(4096);
    expect(c.PAGE_SIZE & (c.PAGE_SIZE - 1)).toBe(0);
    expect(c.DMA_BUF_SYNC_READ).toBe(1);
    expect(c.DMA_BUF_SYNC_WRITE).toBe(2);
    expect(c.DMA_BUF_SYNC_RW).toBe(3);
    expect(c.DMA_BUF_SYNC_START).toBe(0);
    expect(c.DMA_BUF_SYNC_END).toBe(4);
    expect(c.DMA_BUF_MAGIC).toBe(0x444d4142);
    expect(c.DMA_BUF_NAME_LEN).toBe(32);
    expect(c.UDMABUF_FLAGS_CLOEXEC).toBe(1);
    expect(c.DRM_CLOEXEC).toBe(c.O_CLOEXEC);
    expect(c.DRM_RDWR).toBe(c.O_RDWR);
    expect(c.VGEM_FENCE_WRITE).toBe(1);
    expect(Object.isFrozen(c)).toBe(true);
  });

  // x86_64 and arm64 both use the generic _IOC layout and fcntl/mman values (asm-generic); the
  // numbers differ on powerpc/mips/sparc/alpha. the uapi headers define them with _IOW/_IOWR.
  const genericAbi = process.arch === 'x64' || process.arch === 'arm64';

  it.runIf(genericAbi)('ioctl numbers match the _IOC encoding of the uapi headers on x86_64 and arm64 (the generic _IOC layout)', () => {
    const c = addon().constants;
    expect(c.DMA_BUF_IOCTL_SYNC).toBe(0x40086200);
    expect(c.DMA_BUF_SET_NAME).toBe(0x40086201);
    expect(c.DMA_BUF_IOCTL_EXPORT_SYNC_FILE).toBe(0xc0086202);
    expect(c.DMA_BUF_IOCTL_IMPORT_SYNC_FILE).toBe(0x40086203);
    expect(c.DMA_HEAP_IOCTL_ALLOC).toBe(0xc0184800);
    expect(c.UDMABUF_CREATE).toBe(0x40187542);
    expect(c.UDMABUF_CREATE_LIST).toBe(0x40087543);
    expect(c.SYNC_IOC_MERGE).toBe(0xc0303e03);
    expect(c.SYNC_IOC_FILE_INFO).toBe(0xc0383e04);
    expect(c.SYNC_IOC_SET_DEADLINE).toBe(0x40103e05);
  });

  it.runIf(genericAbi)('open/mmap/memfd/poll flags have the asm-generic values on x86_64 and arm64', () => {
    const c = addon().constants;
    expect([c.O_RDONLY, c.O_WRONLY, c.O_RDWR, c.O_CLOEXEC, c.O_NONBLOCK]).toEqual([0, 1, 2, 0o2000000, 0o4000]);
    expect([c.FD_CLOEXEC, c.PROT_READ, c.PROT_WRITE, c.MAP_SHARED, c.MAP_PRIVATE]).toEqual([1, 1, 2, 1, 2]);
    expect([c.MFD_CLOEXEC, c.MFD_ALLOW_SEALING]).toEqual([1, 2]);
    expect([c.F_SEAL_SEAL, c.F_SEAL_SHRINK, c.F_SEAL_GROW, c.F_SEAL_WRITE, c.F_SEAL_FUTURE_WRITE]).toEqual([1, 2, 4, 8, 16]);
    expect([c.SEEK_SET, c.SEEK_CUR, c.SEEK_END]).toEqual([0, 1, 2]);
    expect([c.POLLIN, c.POLLOUT, c.POLLERR, c.POLLHUP, c.POLLNVAL]).toEqual([1, 4, 8, 16, 32]);
  });
});
