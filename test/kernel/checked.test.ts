// Checked mode on the real kernel: a snapshot of the span at START compared at END finds what the
// emulator finds (a write inside a read bracket; a write between a region's rows), undoes it, and
// reports it after END with the buffer's name and the byte's offset.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { DmaBuf, MisuseCode, region, rereadCheckedMode } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';
import { kernelAllocator, PAGE, runKernel } from '../helpers/env.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';

describe.runIf(runKernel)('kernel: checked mode', () => {
  expectNothingLeftEachTest();

  it('unchecked (checked: false), the kernel cannot see a write inside a read bracket: it lands', () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(PAGE, { name: 'unchecked', checked: false });
    expect(buf.checked).toBe(false);
    expect(buf.supports.detectsWriteInReadBracket).toBe(false);
    buf.withCpuAccess('read', (a) => {
      a.bytes[5] = 9;
    });
    expect(buf.withCpuAccess('read', (a) => a.bytes[5])).toBe(9);
  });

  it('checked: a write inside a read bracket throws after END, with name and offset, and is undone', () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(PAGE, { name: 'checked-read', checked: true });
    expect(buf.checked).toBe(true);
    expect(buf.supports).toMatchObject({ detectsWriteInReadBracket: true, detectsWriteOutsideRegion: true });
    buf.withCpuAccess('write', (a) => a.bytes.fill(1));
    const access = buf.beginCpuAccess('read', region.linear({ offset: 64, length: 128 }));
    access.bytes[10] = 7;
    const error = thrown(() => access.end());
    expect(error).toMatchObject({ code: MisuseCode.WRITE_IN_READ_BRACKET, bufferName: 'checked-read', offset: 74, syscall: 'DMA_BUF_IOCTL_SYNC' });
    expect(error.message).toMatch(/byte 74 of dma-buf 'checked-read' was written inside a 'read' bracket/);
    // END was issued: the holder is free, the view detached, and the write did not stay.
    expect(access.ended).toBe(true);
    expect(access.bytes.length).toBe(0);
    expect(buf.withCpuAccess('read', (a) => [...a.bytes.subarray(72, 76)])).toEqual([1, 1, 1, 1]);
  });

  it('checked: a write between the rows of a 2D region, and between the slices of a 3D one, is found and dropped; the rows land', () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(4 * PAGE, { name: 'checked-gaps', checked: true });
    const rect = region.rect({ x: 2, y: 1, width: 4, height: 3, stride: 64, bytesPerPixel: 2 });
    const writing = buf.beginCpuAccess('write', rect);
    for (const row of writing.rows()) row.fill(5);
    writing.bytes[20] = 6; // after the first row (bytes 0–7 of the span), before the second (64–71)
    const error = thrown(() => writing.end());
    expect(error).toMatchObject({ code: MisuseCode.WRITE_OUTSIDE_REGION, bufferName: 'checked-gaps', offset: 64 + 4 + 20 });
    const after = buf.withCpuAccess('read', (a) => a.bytes.slice(0, 512));
    expect(after[64 + 4 + 20]).toBe(0);
    expect([...after.subarray(64 + 4, 64 + 12)]).toEqual(Array(8).fill(5));
    expect([...after.subarray(3 * 64 + 4, 3 * 64 + 12)]).toEqual(Array(8).fill(5));

    const box = region.box({ x: 0, y: 0, z: 0, width: 8, height: 2, depth: 2, rowPitch: 16, slicePitch: 256, bytesPerPixel: 1 });
    const three = buf.beginCpuAccess('readwrite', box);
    for (const row of three.rows()) row.fill(8);
    three.bytes[100] = 1; // between the slices
    expect(thrown(() => three.end())).toMatchObject({ code: MisuseCode.WRITE_OUTSIDE_REGION, offset: 100 });
    expect(buf.withCpuAccess('read', (a) => [a.bytes[100], a.bytes[0], a.bytes[256 + 16 + 7]])).toEqual([0, 8, 8]);
  });

  it('a checked bracket without a violation ends as usual, and a linear write bracket takes no snapshot', () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(PAGE, { checked: true });
    buf.withCpuAccess('write', (a) => a.bytes.fill(3));
    expect(buf.withCpuAccess('read', region.linear({ offset: 0, length: 16 }), (a) => a.bytes[15])).toBe(3);
    const rect = region.rect({ x: 0, y: 0, width: 4, height: 2, stride: 32, bytesPerPixel: 1 });
    buf.withCpuAccess('write', rect, (a) => {
      for (const row of a.rows()) row.fill(4);
    });
    expect(buf.withCpuAccess('read', (a) => [a.bytes[0], a.bytes[4], a.bytes[32]])).toEqual([4, 3, 4]);
  });

  it('DMABUF_CHECK decides for buffers made or imported without the option, read once until rereadCheckedMode(); the option wins', () => {
    const saved = process.env['DMABUF_CHECK'];
    try {
      using alloc = kernelAllocator();
      process.env['DMABUF_CHECK'] = '1';
      expect(rereadCheckedMode()).toBe(true);
      using on = alloc.allocate(PAGE);
      expect(on.checked).toBe(true);
      using imported = DmaBuf.fromFd(on.fd);
      expect(imported.checked).toBe(true);
      using off = DmaBuf.fromFd(on.fd, { checked: false });
      expect(off.checked).toBe(false);
      // Read once: a change is seen only when the program asks for it to be read again.
      process.env['DMABUF_CHECK'] = '0';
      using still = alloc.allocate(PAGE);
      expect(still.checked).toBe(true);
      expect(rereadCheckedMode()).toBe(false);
      using plain = alloc.allocate(PAGE);
      expect(plain.checked).toBe(false);
      using forced = DmaBuf.fromFd(plain.fd, { checked: true });
      expect(forced.checked).toBe(true);
      // A bad value or option is refused before any syscall: no fd is created.
      process.env['DMABUF_CHECK'] = 'yes';
      const fds = fdSnapshot();
      expect(thrown(() => rereadCheckedMode())).toMatchObject({ code: 'EINVAL', argument: 'DMABUF_CHECK' });
      expect(thrown(() => alloc.allocate(PAGE))).toMatchObject({ code: 'EINVAL', argument: 'DMABUF_CHECK' });
      expect(thrown(() => DmaBuf.fromFd(plain.fd))).toMatchObject({ code: 'EINVAL', argument: 'DMABUF_CHECK' });
      delete process.env['DMABUF_CHECK'];
      expect(rereadCheckedMode()).toBe(false);
      expect(thrown(() => alloc.allocate(PAGE, { checked: 'yes' as unknown as boolean }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', argument: 'checked' });
      expect(fdsMadeSince(fds)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env['DMABUF_CHECK'];
      else process.env['DMABUF_CHECK'] = saved;
      rereadCheckedMode();
    }
  });

  it('1000 checked brackets with violations leave no fd, no mapping and no growing memory', () => {
    using alloc = kernelAllocator();
    using buf = alloc.allocate(64 * PAGE, { name: 'checked-loop', checked: true });
    const rect = region.rect({ x: 0, y: 0, width: 16, height: 64, stride: PAGE, bytesPerPixel: 4 });
    const rss = () => process.memoryUsage().rss;
    const start = rss();
    for (let i = 0; i < 1000; i++) {
      const a = buf.beginCpuAccess('write', rect);
      a.bytes[100] = (a.bytes[100] ?? 0) ^ 0xff; // always a change: the gap's byte, inverted
      expect(thrown(() => a.end()).code).toBe(MisuseCode.WRITE_OUTSIDE_REGION);
    }
    // Each snapshot is 63 pages + a row; 1000 of them kept would be about 250 MiB (4K pages).
    expect(rss() - start).toBeLessThan(64 * 1024 * 1024);
  });

  it('the examples of the README hold in a plain process run with DMABUF_CHECK=1', () => {
    const script = `
      import { DmaHeap, Udmabuf, region } from 'dmabuf';
      const buf = DmaHeap.list().includes('system') ? DmaHeap.open('system').allocate(4096, { name: 'frame' }) : Udmabuf.create(4096, { name: 'frame' });
      const a = buf.beginCpuAccess('read');
      a.bytes[0] = 1;
      try { a.end(); } catch (e) { console.log(e.code, e.bufferName, e.offset); }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, DMABUF_CHECK: '1' } });
    expect(r.stdout.trim(), r.stderr).toBe('ERR_DMABUF_WRITE_IN_READ_BRACKET frame 0');
  });
});
