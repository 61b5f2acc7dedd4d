import { describe, expect, it } from 'vitest';
import { readSync, writeSync } from 'node:fs';
import { kernelAllocator, PAGE, runKernel } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { dmaBufMappings, mappingsMadeSince } from '../helpers/proc.js';

describe.runIf(runKernel)('kernel: mmap, llseek, read/write and unknown ioctls on dma-buf and sync_file fds (needs a dma-heap or udmabuf)', () => {
  const c = () => addon().constants;

  // Kernel case #34 (docs/kernel-cases.md).
  it('mmap length > size, offset + length > size → EINVAL; an unaligned offset → EINVAL; nothing stays mapped', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(2 * PAGE);
    const before = dmaBufMappings();
    const rw = c().PROT_READ | c().PROT_WRITE;
    expect(() => new (addon().Mapping)(buf.fd, 3 * PAGE, rw, 0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    expect(() => new (addon().Mapping)(buf.fd, 2 * PAGE, rw, PAGE)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    expect(() => new (addon().Mapping)(buf.fd, PAGE, rw, 100)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mmap' }));
    expect(mappingsMadeSince(before)).toEqual([]);
  });

  // Kernel case #35 (docs/kernel-cases.md).
  it('mmap after the fd is closed → EBADF', () => {
    const heap = kernelAllocator();
    const buf = heap.allocate(PAGE);
    const fd = buf.fd;
    buf.close();
    heap.close();
    expect(() => new (addon().Mapping)(fd, PAGE, c().PROT_READ, 0)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'mmap' }));
  });

  // Kernel case #36 (docs/kernel-cases.md).
  it('lseek(1,SET), (0,CUR), (-1,END), read(), write() → EINVAL; lseek(0,END) = size', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(3 * PAGE);
    expect(addon().testHooks.lseek(buf.fd, 0, c().SEEK_END)).toBe(3 * PAGE);
    expect(addon().testHooks.lseek(buf.fd, 0, c().SEEK_SET)).toBe(0);
    for (const [offset, whence] of [
      [1, c().SEEK_SET],
      [0, c().SEEK_CUR],
      [-1, c().SEEK_END],
    ] as const) {
      expect(() => addon().testHooks.lseek(buf.fd, offset, whence)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'lseek' }));
    }
    expect(() => readSync(buf.fd, new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'read' }));
    expect(() => writeSync(buf.fd, new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'write' }));
  });

  // Kernel case #43 (docs/kernel-cases.md).
  it('mmap of a sync_file → ENODEV; lseek on it → ESPIPE', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(PAGE);
    using fence = buf.exportSyncFile('read');
    expect(() => new (addon().Mapping)(fence.fd, PAGE, c().PROT_READ, 0)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => addon().testHooks.lseek(fence.fd, 0, c().SEEK_SET)).toThrow(expect.objectContaining({ code: 'ESPIPE' }));
  });

  // Kernel case #44 (docs/kernel-cases.md).
  it('an unknown ioctl, or SYNC with the wrong struct size → ENOTTY', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(PAGE);
    const arg = new Uint8Array(16);
    // _IOW('b', 0x7f, u64): a dma-buf ioctl number that does not exist.
    const unknown = (1 << 30) | (8 << 16) | (0x62 << 8) | 0x7f;
    expect(() => addon().ioctlRaw(buf.fd, unknown, arg)).toThrow(expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl' }));
    // DMA_BUF_IOCTL_SYNC's number with a 16-byte size field.
    const wrongSize = (c().DMA_BUF_IOCTL_SYNC & ~(0x3fff << 16)) | (16 << 16);
    expect(() => addon().ioctlRaw(buf.fd, wrongSize >>> 0, arg)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    // The correct number with the same bytes works: the struct is 8 bytes of flags.
    new DataView(arg.buffer).setBigUint64(0, BigInt(c().DMA_BUF_SYNC_READ), true);
    expect(addon().ioctlRaw(buf.fd, c().DMA_BUF_IOCTL_SYNC, arg)).toBe(0);
    new DataView(arg.buffer).setBigUint64(0, BigInt(c().DMA_BUF_SYNC_END | c().DMA_BUF_SYNC_READ), true);
    expect(addon().ioctlRaw(buf.fd, c().DMA_BUF_IOCTL_SYNC, arg)).toBe(0);
  });
});
