/**
 * The coherent model's zero-copy brackets: the bytes handed out are the buffer's memory itself,
 * detached at END by moving the memory to a new ArrayBuffer. A second holder's bracket opened
 * meanwhile takes the copying path; both holders' writes survive and each holder's views die at
 * its own END only.
 */
import { describe, expect, it } from 'vitest';
import { DmaBuf, MisuseCode, emulation, region } from '../../lib/index.js';
import { allBytes, raceWriteBracketWithDevice, read } from './helpers.js';
import { thrown } from '../helpers/errors.js';

const MiB = 1024 * 1024;

describe('coherent model: zero-copy brackets', () => {
  it('a whole-buffer readwrite bracket over 64 MiB copies nothing, and its views still detach at end', async () => {
    const emu = emulation.create({ coherency: 'coherent' });
    const buf = emu.heap().allocate(64 * MiB);
    for (let i = 0; i < 3; i++) {
      const access = buf.beginCpuAccess('readwrite');
      const bytes = access.bytes;
      expect(bytes.length).toBe(64 * MiB);
      bytes[i] = 0x40 + i;
      bytes[64 * MiB - 1 - i] = 0x50 + i;
      access.end();
      expect(bytes.length).toBe(0);
    }
    // Also a linear region (no gaps) and a write bracket.
    const access = buf.beginCpuAccess('write', region.linear({ offset: 4096, length: 32 * MiB }));
    access.bytes.fill(0x33);
    access.end();
    expect(emu.stats().bracketCopiedBytes).toBe(0);
    expect(emu.stats().syncedBytes).toBe(0);
    let seen: number[] = [];
    await emu
      .device('gpu')
      .submit({
        reads: [buf],
        run: (job) => {
          const b = job.bytes(buf);
          seen = [b[0]!, b[1]!, b[2]!, b[4096]!, b[64 * MiB - 3]!, b[64 * MiB - 1]!];
        },
      })
      .wait();
    expect(seen).toEqual([0x40, 0x41, 0x42, 0x33, 0x52, 0x50]);
    buf.close();
  });

  it('two holders: the second bracket copies; both holders’ writes survive; views die at their own END', () => {
    const emu = emulation.create({ coherency: 'coherent' });
    const a = emu.heap().allocate(4096);
    const b = DmaBuf.fromFd(a.fd);
    for (const firstEnds of ['a', 'b'] as const) {
      const copiedBefore = emu.stats().bracketCopiedBytes;
      const accessA = a.beginCpuAccess('readwrite', region.linear({ offset: 0, length: 100 }));
      expect(emu.stats().bracketCopiedBytes).toBe(copiedBefore); // zero copy
      const accessB = b.beginCpuAccess('readwrite', region.linear({ offset: 200, length: 100 }));
      expect(emu.stats().bracketCopiedBytes).toBeGreaterThan(copiedBefore); // the copying path
      const viewA = accessA.bytes;
      const viewB = accessB.bytes;
      const value = firstEnds === 'a' ? 1 : 2;
      viewA.fill(value);
      viewB.fill(value + 10);
      if (firstEnds === 'a') {
        accessA.end();
        expect(viewA.length).toBe(0);
        expect(viewB.length).toBe(100);
        viewB[0] = value + 20; // still writable until B's own END
        accessB.end();
      } else {
        accessB.end();
        expect(viewB.length).toBe(0);
        expect(viewA.length).toBe(100);
        viewA[0] = value + 20;
        accessA.end();
      }
      expect(viewA.length).toBe(0);
      expect(viewB.length).toBe(0);
      const all = read(a);
      const rowA = all.subarray(0, 100);
      const rowB = all.subarray(200, 300);
      if (firstEnds === 'a') {
        expect(allBytes(rowA, value)).toBe(true);
        expect([rowB[0], allBytes(rowB.subarray(1), value + 10)]).toEqual([value + 20, true]);
      } else {
        expect(allBytes(rowB, value + 10)).toBe(true);
        expect([rowA[0], allBytes(rowA.subarray(1), value)]).toEqual([value + 20, true]);
      }
    }
    b.close();
    a.close();
  });

  it('a second holder writing into the gaps of a zero-copy 2D bracket is no violation of it, and survives', () => {
    const emu = emulation.create({ coherency: 'coherent' });
    const a = emu.heap().allocate(4096);
    const b = DmaBuf.fromFd(a.fd);
    const rect = region.rect({ x: 0, y: 0, width: 4, height: 4, stride: 64, bytesPerPixel: 4 });
    const accessA = a.beginCpuAccess('readwrite', rect);
    for (const row of accessA.rows()) row.fill(7);
    b.withCpuAccess('write', region.linear({ offset: 16, length: 48 }), (access) => access.bytes.fill(9));
    accessA.end();
    const all = read(a, region.linear({ offset: 0, length: 256 }));
    expect(allBytes(all.subarray(0, 16), 7)).toBe(true);
    expect(allBytes(all.subarray(16, 64), 9)).toBe(true);
    expect(allBytes(all.subarray(64, 80), 7)).toBe(true);
    b.close();
    a.close();
  });

  it('detected writes are dropped as on the copying path: in a read bracket and between rows', () => {
    const emu = emulation.create({ coherency: 'coherent' });
    const buf = emu.heap().allocate(4096, { name: 'frame' });
    const access = buf.beginCpuAccess('read', region.linear({ offset: 100, length: 50 }));
    access.bytes[7] = 1;
    const error = thrown(() => access.end());
    expect([error.code, error.offset, error.bufferName]).toEqual([MisuseCode.WRITE_IN_READ_BRACKET, 107, 'frame']);
    expect(read(buf, region.linear({ offset: 107, length: 1 }))[0]).toBe(0);
    const rect = region.rect({ x: 1, y: 1, width: 2, height: 3, stride: 16, bytesPerPixel: 4 });
    const rw = buf.beginCpuAccess('readwrite', rect);
    for (const row of rw.rows()) row.fill(5);
    rw.bytes[10] = 1; // between rows
    const gap = thrown(() => rw.end());
    expect([gap.code, gap.offset]).toEqual([MisuseCode.WRITE_OUTSIDE_REGION, 16 + 4 + 10]);
    expect(read(buf, region.linear({ offset: 30, length: 1 }))[0]).toBe(0);
    expect(allBytes(read(buf, rect), 5)).toBe(true);
    buf.close();
  });

  it('a device writing during a zero-copy bracket: a seeded mix in a writing bracket, no false violation in a read bracket', async () => {
    async function race(seed: number): Promise<number[]> {
      const out = await raceWriteBracketWithDevice('coherent', seed);
      expect(allBytes(Uint8Array.from(out.slice(256)), 0x11)).toBe(true); // outside the region: the device's
      return out.slice(0, 256);
    }
    const first = await race(1);
    expect(first.includes(0xff) && first.includes(0x11)).toBe(true);
    expect(first.every((b) => b === 0xff || b === 0x11)).toBe(true);
    expect(await race(1)).toEqual(first);
    expect(await race(2)).not.toEqual(first);

    const emu = emulation.create({ coherency: 'coherent' });
    const buf = emu.heap().allocate(4096);
    const access = buf.beginCpuAccess('read');
    await emu
      .device('gpu')
      .submit({ writes: [buf], run: (job) => job.bytes(buf).fill(0x22) })
      .wait();
    access.end();
    expect(allBytes(read(buf), 0x22)).toBe(true);
    buf.close();
  });
});
