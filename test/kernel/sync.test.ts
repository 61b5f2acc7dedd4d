import { describe, expect, it, vi } from 'vitest';
import { DmaBuf, Udmabuf, region } from '../../lib/index.js';
import { kernelAllocator, provides, runKernel } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { openFifo } from '../helpers/fifo.js';
import { gc } from '../helpers/gc.js';

describe.runIf(runKernel)('kernel: DMA_BUF_IOCTL_SYNC and brackets (needs a dma-heap or udmabuf, and udmabuf)', () => {
  const c = () => addon().constants;
  expectNothingLeftEachTest();

  it('the done-when scenario: heap and udmabuf, 2D write, read back through a second import, sync file out and in', () => {
    using heap = kernelAllocator();
    for (const buf of [heap.allocate(64 * 64 * 4, { name: 'scenario-heap' }), Udmabuf.create(64 * 64 * 4, { name: 'scenario-udmabuf' })]) {
      const rect = region.rect({ x: 10, y: 20, width: 8, height: 5, stride: 64 * 4, bytesPerPixel: 4 });
      buf.withCpuAccess('write', rect, (access) => {
        let row = 0;
        for (const bytes of access.rows()) {
          expect(bytes.length).toBe(32);
          bytes.fill(0x10 + row++);
        }
        expect(row).toBe(5);
      });
      const second = DmaBuf.fromFd(buf.fd);
      expect(second.fd).not.toBe(buf.fd);
      expect(second.size).toBe(buf.size);
      expect(second.name).toBe(buf.name);
      second.withCpuAccess('read', (access) => {
        for (let y = 0; y < 64; y++) {
          for (let x = 0; x < 64; x++) {
            const inside = x >= 10 && x < 18 && y >= 20 && y < 25;
            const expected = inside ? 0x10 + (y - 20) : 0;
            expect(access.bytes[(y * 64 + x) * 4 + 3]).toBe(expected);
          }
        }
      });
      const fence = buf.exportSyncFile('readwrite');
      expect(fence.status).toBe('signaled');
      expect(addon().testHooks.getFdFlags(fence.fd) & c().FD_CLOEXEC).toBe(c().FD_CLOEXEC);
      second.importSyncFile(fence, 'write');
      using after = buf.exportSyncFile('read');
      expect(after.status).toBe('signaled');
      fence.close();
      second.close();
      buf.close();
    }
  });

  // Kernel case #27 #28 #29 (docs/kernel-cases.md).
  it('SYNC with flags 0, END only, 8, 1<<32|3, ~0 → EINVAL', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    for (const flags of [0, 4, 8, 2 ** 32 + 3, 0xffffffffffffffffn]) {
      expect(() => addon().dmaBufSync(buf.fd, flags), `flags ${flags}`).toThrow(
        expect.objectContaining({ code: 'EINVAL', errno: 22, syscall: 'DMA_BUF_IOCTL_SYNC' }),
      );
    }
  });

  // Kernel case #31 (docs/kernel-cases.md).
  it('SYNC on a sync_file or a memfd → ENOTTY; DmaBuf.fromFd refuses both before any ioctl (EBADFD)', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using fence = buf.exportSyncFile('read');
    const memfd = addon().memfdCreate('not-a-dmabuf', 0);
    try {
      const start = c().DMA_BUF_SYNC_START | c().DMA_BUF_SYNC_READ;
      expect(() => addon().dmaBufSync(fence.fd, start)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
      expect(() => addon().dmaBufSync(memfd, start)).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
      // A device node is no dma-buf either: the heap's where there is one, else udmabuf's.
      const heapDev = addon().open(provides.heaps ? '/dev/dma_heap/system' : '/dev/udmabuf', c().O_RDONLY);
      const [readEnd, writeEnd] = openFifo();
      try {
        for (const fd of [fence.fd, memfd, heapDev, readEnd]) {
          expect(() => DmaBuf.fromFd(fd), `fd ${fd}`).toThrow(expect.objectContaining({ code: 'EBADFD', syscall: 'fstatfs' }));
        }
      } finally {
        for (const fd of [heapDev, readEnd, writeEnd]) addon().close(fd);
      }
    } finally {
      addon().close(memfd);
    }
  });

  // Kernel case #33 (docs/kernel-cases.md).
  it('SYNC and EXPORT on a closed fd → EBADF; fromFd of a closed fd → EBADF', () => {
    const heap = kernelAllocator();
    const buf = heap.allocate(4096);
    const fd = buf.fd;
    buf.close();
    heap.close();
    expect(() => addon().dmaBufSync(fd, c().DMA_BUF_SYNC_START | c().DMA_BUF_SYNC_READ)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => addon().dmaBufExportSyncFile(fd, c().DMA_BUF_SYNC_READ)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => DmaBuf.fromFd(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('END without START on udmabuf is EINVAL in the kernel; the public layer makes it a misuse error instead', () => {
    using buf = Udmabuf.create(4096);
    // udmabuf builds its sg table on the first START: an END before any START is refused.
    expect(() => addon().dmaBufSync(buf.fd, c().DMA_BUF_SYNC_END | c().DMA_BUF_SYNC_READ)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const access = buf.beginCpuAccess('read');
    access.end();
    expect(() => access.end()).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_NOT_IN_BRACKET' }));
  });

  it('views are detached at end: bytes and rows read as empty and writes cannot land', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    const access = buf.beginCpuAccess('write', region.linear({ offset: 100, length: 50 }));
    const bytes = access.bytes;
    const row = [...access.rows()][0]!;
    expect(bytes.length).toBe(50);
    access.end();
    expect(bytes.length).toBe(0);
    expect(row.length).toBe(0);
    expect(access.bytes.length).toBe(0);
    bytes[0] = 99; // a detached view ignores writes
    buf.withCpuAccess('read', (a) => expect(a.bytes[100]).toBe(0));
    expect(() => [...access.rows()]).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_NOT_IN_BRACKET' }));
  });

  it("a bracket's view is made when its bytes are first asked for: none for a bracket that only syncs, none after END", () => {
    // V8 counts an attached external ArrayBuffer's length in process.memoryUsage().external. The
    // count is the whole process's: a collection while this test runs (a 16 MiB view is external
    // memory pressure enough to start one) would take earlier tests' garbage off it (CI saw
    // 16767630 for a 16 MiB view). So collect first, and tell "made" from "not made" by half the
    // view: nothing else here moves the count by megabytes.
    const size = 16 * 1024 * 1024;
    const external = () => process.memoryUsage().external;
    using heap = kernelAllocator();
    using buf = heap.allocate(size, { checked: false });
    gc();
    const before = external();
    const bare = buf.beginCpuAccess('readwrite');
    expect(external() - before).toBeLessThan(size / 2);
    bare.end();
    expect(bare.bytes.length).toBe(0); // first asked for after END: empty, and nothing is made
    expect(external() - before).toBeLessThan(size / 2);
    const touched = buf.beginCpuAccess('readwrite');
    const bytes = touched.bytes;
    expect(bytes.length).toBe(size);
    expect(touched.bytes).toBe(bytes); // one view per bracket
    expect(external() - before).toBeGreaterThan(size / 2);
    touched.end();
    expect(bytes.length).toBe(0);
    expect(external() - before).toBeLessThan(size / 2);
  });

  it('one bracket per holder; close refused while open; two holders may bracket at once', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    // Unchecked: its read bracket sees the other holder's writes, which checked mode would report.
    using other = DmaBuf.fromFd(buf.fd, { checked: false });
    const access = buf.beginCpuAccess('readwrite');
    expect(() => buf.beginCpuAccess('read')).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_BRACKET_ACTIVE' }));
    expect(() => buf.close()).toThrow(expect.objectContaining({ code: 'ERR_DMABUF_CLOSE_IN_BRACKET' }));
    const second = other.beginCpuAccess('read');
    access.bytes[0] = 5;
    expect(second.bytes[0]).toBe(5);
    second.end();
    access.end();
  });

  it('region validation happens before any syscall', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    // One byte past the end of the buffer (a page: 4 KiB or 16 KiB), in a linear and in a 2D region.
    expect(() => buf.beginCpuAccess('read', region.linear({ offset: buf.size - 96, length: 97 }))).toThrow(
      expect.objectContaining({ code: 'EINVAL', argument: 'region' }),
    );
    expect(() => buf.beginCpuAccess('read', region.rect({ x: 0, y: 0, width: 16, height: buf.size / 256 + 1, stride: 256, bytesPerPixel: 1 }))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => buf.beginCpuAccess('rw' as never)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'mode' }));
    // Nothing was started: a bracket opens normally afterwards.
    buf.withCpuAccess('read', (a) => expect(a.bytes.length).toBe(buf.size));
  });

  it('END carries the START flags: a write bracket reaches the other holder for every mode', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    using reader = DmaBuf.fromFd(buf.fd);
    for (const [mode, value] of [
      ['write', 1],
      ['readwrite', 2],
    ] as const) {
      buf.withCpuAccess(mode, (a) => a.bytes.fill(value));
      reader.withCpuAccess('read', (a) => expect(a.bytes[4095]).toBe(value));
    }
  });

  it('END carries exactly the START flags, for every mode, on heap and udmabuf (the SYNC calls as issued)', () => {
    const a = addon();
    const spy = vi.spyOn(a, 'dmaBufSync');
    try {
      using heap = kernelAllocator();
      for (const buf of [heap.allocate(4096), Udmabuf.create(4096)]) {
        for (const [mode, bits] of [
          ['read', c().DMA_BUF_SYNC_READ],
          ['write', c().DMA_BUF_SYNC_WRITE],
          ['readwrite', c().DMA_BUF_SYNC_RW],
        ] as const) {
          spy.mockClear();
          buf.beginCpuAccess(mode, region.linear({ offset: 8, length: 8 })).end();
          expect(
            spy.mock.calls.map((call) => [call[0], Number(call[1])]),
            mode,
          ).toEqual([
            [buf.fd, c().DMA_BUF_SYNC_START | bits],
            [buf.fd, c().DMA_BUF_SYNC_END | bits],
          ]);
        }
        buf.close();
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('3D box regions hand out one row per row of each slice', () => {
    using buf = Udmabuf.create(4 * 8 * 16);
    const box = region.box({ x: 1, y: 2, z: 1, width: 2, height: 3, depth: 2, rowPitch: 16, slicePitch: 128, bytesPerPixel: 2 });
    buf.withCpuAccess('write', box, (a) => {
      const rows = [...a.rows()];
      expect(rows.length).toBe(6);
      for (const [i, r] of rows.entries()) r.fill(i + 1);
    });
    buf.withCpuAccess('read', (a) => {
      for (let z = 0; z < 4; z++)
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 16; x++) {
            const inside = z >= 1 && z < 3 && y >= 2 && y < 5 && x >= 2 && x < 6;
            const expected = inside ? (z - 1) * 3 + (y - 2) + 1 : 0;
            expect(a.bytes[z * 128 + y * 16 + x]).toBe(expected);
          }
    });
  });

  it('withCpuAccess ends the bracket when the callback throws or rejects', async () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    expect(() =>
      buf.withCpuAccess('write', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(
      buf.withCpuAccess('write', async () => {
        throw new Error('later');
      }),
    ).rejects.toThrow('later');
    buf.withCpuAccess('read', (a) => expect(a.bytes.length).toBe(buf.size));
  });

  it('setName: 31 bytes of UTF-8 is the limit; the kernel refuses 32', () => {
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    buf.setName(`${'é'.repeat(15)}x`);
    expect(buf.name).toBe(`${'é'.repeat(15)}x`);
    expect(() => buf.setName('x'.repeat(32))).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'name' }));
    // The kernel's own check (strndup_user with DMA_BUF_NAME_LEN):
    expect(() => addon().dmaBufSetName(buf.fd, 'y'.repeat(32))).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'DMA_BUF_SET_NAME' }));
  });

  it('every method on a closed DmaBuf throws ERR_DMABUF_CLOSED; close twice is fine', async () => {
    const heap = kernelAllocator();
    const buf = heap.allocate(4096);
    heap.close();
    buf.close();
    buf.close();
    const closed = expect.objectContaining({ code: 'ERR_DMABUF_CLOSED' });
    expect(() => buf.fd).toThrow(closed);
    expect(() => buf.size).toThrow(closed);
    expect(() => buf.name).toThrow(closed);
    expect(() => buf.setName('a')).toThrow(closed);
    expect(() => buf.beginCpuAccess('read')).toThrow(closed);
    await expect(buf.cpuAccess('read')).rejects.toThrow(closed);
    await expect(buf.waitIdle('read')).rejects.toThrow(closed);
    expect(() => buf.exportSyncFile('read')).toThrow(closed);
  });
});
