import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DmaBuf, DmaHeap, DmaBufError } from '../../lib/index.js';
import { NEEDS_HEAPS, runHeaps } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { fdinfo, fdSnapshot, fdsMadeSince } from '../helpers/proc.js';

const HEAP = '/dev/dma_heap/system';

describe.runIf(runHeaps)(`kernel: dma-heap allocation ${NEEDS_HEAPS}`, () => {
  let heapFd = -1;
  // Registered first, so that its check runs after the hook below closes the heap's fd.
  expectNothingLeftEachTest();
  beforeEach(() => {
    heapFd = addon().open(HEAP, addon().constants.O_RDONLY);
  });
  afterEach(() => {
    addon().close(heapFd);
  });

  function rawAllocFails(len: number, fdFlags: number, heapFlags: number | bigint, inputFd?: number): DmaBufError {
    const fds = fdSnapshot();
    let caught: unknown;
    try {
      const fd = addon().testHooks.heapAllocRaw(heapFd, len, fdFlags, heapFlags, inputFd ?? 0);
      addon().close(fd);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DmaBufError);
    expect(fdsMadeSince(fds)).toEqual([]);
    return caught as DmaBufError;
  }

  const c = () => addon().constants;

  // Kernel case #1 (docs/kernel-cases.md).
  it('the kernel refuses len=0 with EINVAL, and so does the public API before the ioctl', () => {
    const e = rawAllocFails(0, c().O_RDWR | c().O_CLOEXEC, 0);
    expect(e).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'DMA_HEAP_IOCTL_ALLOC' });
    using heap = DmaHeap.open('system');
    expect(() => heap.allocate(0)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'size' }));
  });

  // Kernel case #3 (docs/kernel-cases.md).
  it('len=1 rounds up to one page: lseek(SEEK_END) and fdinfo say 4096', () => {
    const fd = addon().heapAlloc(heapFd, 1, c().O_RDWR | c().O_CLOEXEC, 0);
    try {
      expect(addon().testHooks.lseek(fd, 0, c().SEEK_END)).toBe(4096);
      expect(fdinfo(fd)['size']).toBe('4096');
    } finally {
      addon().close(fd);
    }
    using heap = DmaHeap.open();
    using buf = heap.allocate(1);
    expect(buf.size).toBe(4096);
  });

  // Kernel case #4 (docs/kernel-cases.md).
  it('heap_flags 1 and 0x111111 → EINVAL', () => {
    expect(rawAllocFails(4096, c().O_RDWR | c().O_CLOEXEC, 1).code).toBe('EINVAL');
    expect(rawAllocFails(4096, c().O_RDWR | c().O_CLOEXEC, 0x111111n).code).toBe('EINVAL');
  });

  // Kernel case #5 (docs/kernel-cases.md).
  it('fd_flags with O_NONBLOCK, or ~(O_RDWR|O_CLOEXEC) → EINVAL', () => {
    expect(rawAllocFails(4096, c().O_RDWR | c().O_CLOEXEC | c().O_NONBLOCK, 0).code).toBe('EINVAL');
    expect(rawAllocFails(4096, ~(c().O_RDWR | c().O_CLOEXEC) >>> 0, 0).code).toBe('EINVAL');
  });

  // Kernel case #6 (docs/kernel-cases.md).
  it('a raw struct with fd != 0 on input → EINVAL', () => {
    expect(rawAllocFails(4096, c().O_RDWR | c().O_CLOEXEC, 0, 5).code).toBe('EINVAL');
  });

  // Kernel case #7 (docs/kernel-cases.md).
  it('fd_flags=O_RDONLY: PROT_WRITE map → EACCES, PROT_READ map works, SYNC returns 0', () => {
    const fd = addon().heapAlloc(heapFd, 4096, c().O_RDONLY | c().O_CLOEXEC, 0);
    try {
      expect(() => new (addon().Mapping)(fd, 4096, c().PROT_READ | c().PROT_WRITE, 0)).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap' }));
      const map = new (addon().Mapping)(fd, 4096, c().PROT_READ, 0);
      addon().dmaBufSync(fd, c().DMA_BUF_SYNC_START | c().DMA_BUF_SYNC_READ);
      expect(new Uint8Array(map.view(0, 4096)).every((b) => b === 0)).toBe(true);
      addon().dmaBufSync(fd, c().DMA_BUF_SYNC_END | c().DMA_BUF_SYNC_READ);
      map.unmap();
      // The public layer: a read bracket works, a write bracket says why it cannot.
      using buf = DmaBuf.fromFd(fd);
      buf.withCpuAccess('read', (a) => expect(a.bytes.length).toBe(4096));
      expect(() => buf.beginCpuAccess('write')).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap' }));
    } finally {
      addon().close(fd);
    }
  });

  // Kernel case #8 (docs/kernel-cases.md).
  it('default flags: FD_CLOEXEC set, fdinfo exp_name is system', () => {
    using heap = DmaHeap.open();
    using buf = heap.allocate(8192);
    expect(addon().testHooks.getFdFlags(buf.fd) & c().FD_CLOEXEC).toBe(c().FD_CLOEXEC);
    expect(fdinfo(buf.fd)['exp_name']).toBe('system');
    expect(buf.exporter).toBe('system');
    expect(buf.size).toBe(8192);
  });

  // Kernel case #10 (docs/kernel-cases.md).
  it('ALLOC on a memfd or /dev/null → ENOTTY, no fd created', () => {
    const memfd = addon().memfdCreate('not-a-heap', 0);
    const devnull = addon().open('/dev/null', c().O_RDONLY);
    try {
      const fds = fdSnapshot();
      expect(() => addon().heapAlloc(memfd, 4096, c().O_RDWR | c().O_CLOEXEC, 0)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
      expect(() => addon().heapAlloc(devnull, 4096, c().O_RDWR | c().O_CLOEXEC, 0)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
      expect(fdsMadeSince(fds)).toEqual([]);
    } finally {
      addon().close(memfd);
      addon().close(devnull);
    }
  });

  it('heap memory is zeroed, and names are set at allocation', () => {
    using heap = DmaHeap.open();
    using buf = heap.allocate(65536, { name: 'zeroed-check' });
    expect(buf.name).toBe('zeroed-check');
    expect(fdinfo(buf.fd)['name']).toBe('zeroed-check');
    buf.withCpuAccess('read', (a) => expect(a.bytes.every((b) => b === 0)).toBe(true));
  });

  it('open() of a missing heap is ENOENT naming the heaps there are; bad names are EINVAL before open', () => {
    expect(() => DmaHeap.open('no-such-heap')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open' }));
    expect(() => DmaHeap.open('no-such-heap')).toThrow(/system/);
    expect(() => DmaHeap.open('../udmabuf')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => DmaHeap.open('')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('a closed heap refuses allocate; buffers outlive it', () => {
    const heap = DmaHeap.open();
    const buf = heap.allocate(4096);
    heap.close();
    heap.close();
    expect(() => heap.allocate(4096)).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_CLOSED' }));
    buf.withCpuAccess('write', (a) => a.bytes.fill(7));
    buf.withCpuAccess('read', (a) => expect(a.bytes[4095]).toBe(7));
    buf.close();
  });

  it('a name that fails SET_NAME leaves no fd behind', () => {
    using heap = DmaHeap.open();
    const fds = fdSnapshot();
    expect(() => heap.allocate(4096, { name: 'x'.repeat(32) })).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'name' }));
    expect(fdsMadeSince(fds)).toEqual([]);
  });
});
