/** Buffers, holders, fd numbers and bracket-violation detection on the emulated backend. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, MisuseCode, emulation, region } from '../../lib/index.js';
import { createEmulatedBackend, EMULATED_FD_BASE, emulatedBackendForFd } from '../../lib/backend/emulated/index.js';
import { udmabufFromSegments } from '../../lib/udmabuf.js';
import { allBytes, fill, read } from './helpers.js';
import { code, thrown } from '../helpers/errors.js';

describe('emulated buffers', () => {
  it('heaps: system only, page-rounded zeroed memory, names as the kernel keeps them', () => {
    const emu = emulation.create();
    expect(emu.coherency).toBe('writeback');
    expect(thrown(() => emu.heap('cma')).code).toBe('ENOENT');
    const heap = emu.heap();
    expect(heap.name).toBe('system');
    const buf = heap.allocate(5000, { name: 'pixels' });
    expect(buf.size).toBe(8192);
    expect(buf.exporter).toBe('system');
    expect(buf.backend).toBe('emulated');
    expect(buf.name).toBe('pixels');
    buf.setName('other');
    expect(buf.name).toBe('other');
    expect(allBytes(read(buf), 0)).toBe(true);
    heap.close();
    expect(read(buf, region.linear({ offset: 0, length: 8 })).length).toBe(8); // buffers outlive the heap
    buf.close();
    buf.close(); // idempotent
  });

  it('udmabuf: create is modelled, fromSegments is refused as unsupported, 64 MiB limit', () => {
    const emu = emulation.create();
    expect(emu.udmabuf(1).size).toBe(4096);
    expect(thrown(() => emu.udmabuf(65 * 1024 * 1024)).code).toBe('EINVAL');
    const backend = createEmulatedBackend();
    expect(thrown(() => udmabufFromSegments(backend, [{ memfd: 3, offset: 0, size: 4096 }])).code).toBe(MisuseCode.UNSUPPORTED);
    // The manifest decides, before the segments are looked at.
    expect(backend.supports.udmabufSegments).toBe(false);
    expect(thrown(() => udmabufFromSegments(backend, 'nonsense' as never)).code).toBe(MisuseCode.UNSUPPORTED);
  });

  it('emulation.create validates its options', () => {
    expect(thrown(() => emulation.create({ coherency: 'wrong' as 'tiled' })).code).toBe('EINVAL');
    expect(thrown(() => emulation.create({ coherency: 3 as unknown as 'tiled' })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => emulation.create({ seed: 1.5 })).code).toBe('EINVAL');
    expect(thrown(() => emulation.create({ seed: '1' as unknown as number })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => emulation.create().failNext('nope' as 'sync', 'EINTR')).code).toBe('EINVAL');
  });

  it('fd numbers are ≥ 2^30, unique across emulations, and route back to their emulation', () => {
    const a = emulation.create().heap().allocate(4096);
    const b = emulation.create().heap().allocate(4096);
    expect(a.fd).toBeGreaterThanOrEqual(EMULATED_FD_BASE);
    expect(b.fd).not.toBe(a.fd);
    expect(emulatedBackendForFd(a.fd)).not.toBe(emulatedBackendForFd(b.fd));
    expect(emulatedBackendForFd(3)).toBeUndefined();
  });
});

describe('two holders (DmaBuf.fromFd on an emulated number)', () => {
  it('share the buffer, and each holder’s views die at its own end', () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const first = emu.heap().allocate(4096);
    const second = DmaBuf.fromFd(first.fd);
    expect(second.fd).not.toBe(first.fd);
    fill(first, 3);
    expect(allBytes(read(second), 3)).toBe(true);
    const a = first.beginCpuAccess('read', region.linear({ offset: 0, length: 16 }));
    const b = second.beginCpuAccess('readwrite', region.linear({ offset: 16, length: 16 }));
    b.bytes.fill(4);
    b.end();
    expect(b.bytes.length).toBe(0);
    expect(a.bytes.length).toBe(16); // still open
    expect(allBytes(a.bytes, 3)).toBe(true);
    a.end();
    expect(a.bytes.length).toBe(0);
    expect([...read(first, region.linear({ offset: 14, length: 4 }))]).toEqual([3, 3, 4, 4]);
    second.close();
    expect(read(first).length).toBe(4096); // the buffer lives while a holder does
    first.close();
  });

  it('dup: false takes the number over; non-buffers are EBADFD, closed numbers EBADF', () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const fd = buf.fd;
    const taken = DmaBuf.fromFd(fd, { dup: false });
    expect(taken.fd).toBe(fd);
    const sync = buf.exportSyncFile('read');
    expect(thrown(() => DmaBuf.fromFd(sync.fd)).code).toBe('EBADFD');
    taken.close();
    buf.close();
    expect(thrown(() => DmaBuf.fromFd(fd)).code).toBe('EBADF');
    sync.close();
  });
});

describe('bracket violations are detected at end', () => {
  it('a write inside a read bracket: ERR_DMABUF_WRITE_IN_READ_BRACKET with name and offset, not synced', async () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const buf = emu.heap().allocate(4096);
    const access = buf.beginCpuAccess('read', region.linear({ offset: 100, length: 50 }));
    access.bytes[7] = 1;
    const error = thrown(() => access.end());
    expect(error.code).toBe(MisuseCode.WRITE_IN_READ_BRACKET);
    expect(error.offset).toBe(107);
    expect(error.bufferName).toBe(`fd ${buf.fd}`);
    expect(access.ended).toBe(true);
    let device = -1;
    await emu
      .device('gpu')
      .submit({
        reads: [buf],
        run: (job) => {
          device = job.bytes(buf)[107]!;
        },
      })
      .wait();
    expect(device).toBe(0);
    // The bracket is over: the holder can open the next one.
    expect(read(buf, region.linear({ offset: 100, length: 10 })).length).toBe(10);
  });

  it('every model detects both kinds, and views are detached afterwards', () => {
    for (const coherency of ['coherent', 'writeback', 'bounce', 'tiled'] as const) {
      const emu = emulation.create({ coherency });
      const buf = emu.heap().allocate(4096, { name: coherency });
      const rect = region.rect({ x: 1, y: 1, width: 2, height: 3, stride: 16, bytesPerPixel: 4 });
      const access = buf.beginCpuAccess('readwrite', rect);
      const bytes = access.bytes;
      const span = bytes.length;
      expect(span).toBe(2 * 16 + 8);
      const rows = [...access.rows()];
      expect(rows.map((r) => r.length)).toEqual([8, 8, 8]);
      rows[1]!.fill(1); // fine: inside the region
      bytes[span - 9] = 1; // the gap before the last row
      const error = thrown(() => access.end());
      expect(error.code).toBe(MisuseCode.WRITE_OUTSIDE_REGION);
      expect(error.bufferName).toBe(coherency);
      expect(error.offset).toBe(16 + 4 + span - 9);
      expect(bytes.length).toBe(0);
      expect(rows.every((r) => r.length === 0)).toBe(true);
      // The row write reached the device; the gap write did not.
      expect(allBytes(read(buf, region.linear({ offset: 16 * 2 + 4, length: 8 })), 1)).toBe(true);
      expect(read(buf, region.linear({ offset: 16 + 4 + span - 9, length: 1 }))[0]).not.toBe(1);
    }
  });
});

describe('the default emulation (DMABUF_BACKEND=emulated)', () => {
  it('serves DmaHeap and Udmabuf, and emulation.default() reaches its devices', async () => {
    const { DmaHeap, Udmabuf } = await import('../../lib/index.js');
    const saved = process.env['DMABUF_BACKEND'];
    process.env['DMABUF_BACKEND'] = 'emulated';
    try {
      expect(DmaHeap.list()).toEqual(['system']);
      const buf = DmaHeap.open().allocate(4096);
      expect(buf.backend).toBe('emulated');
      const emu = emulation.default();
      expect(emu.supports.realFds).toBe(false);
      await emu
        .device('gpu')
        .submit({ writes: [buf], run: (job) => job.bytes(buf).fill(8) })
        .wait();
      expect(allBytes(read(buf), 8)).toBe(true);
      expect(code(() => Udmabuf.fromSegments([{ memfd: 3, offset: 0, size: 4096 }]))).toBe(MisuseCode.UNSUPPORTED);
      const other = emulation.create().heap().allocate(4096);
      expect(code(() => emu.device('gpu').submit({ reads: [other] }))).toBe('EINVAL');
      buf.close();
    } finally {
      if (saved === undefined) delete process.env['DMABUF_BACKEND'];
      else process.env['DMABUF_BACKEND'] = saved;
    }
  });
});
