/** 1D, 2D and 3D regions: a bracket hands out exactly their bytes and rows. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, region } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { KiB, rowsOf, writePattern, readAll } from './shared.js';

export function regions(b: ConformanceBackend): void {
  describe('regions', () => {
    it('a 1D region hands out exactly its bytes, and the rest of the buffer is untouched', () => {
      using buf = b.allocate(8 * KiB);
      const r = region.linear({ offset: 4096 - 5, length: 10 });
      buf.withCpuAccess('write', r, (access) => {
        expect(access.bytes.length).toBe(10);
        expect([...access.rows()].map((row) => row.length)).toEqual([10]);
        access.bytes.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });
      expect(buf.withCpuAccess('read', r, (access) => [...access.bytes])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const all = readAll(buf);
      expect(all.reduce((sum, x) => sum + x, 0)).toBe(55);
      expect(all[4096 - 6]).toBe(0);
      expect(all[4096 + 5]).toBe(0);
    });

    it('a 2D region: rows() gives one view per row, the bytes land in the rectangle only', () => {
      const stride = 64 * 4;
      using buf = b.allocate(64 * stride);
      const rect = region.rect({ x: 10, y: 20, width: 8, height: 5, stride, bytesPerPixel: 4 });
      buf.withCpuAccess('write', rect, (access) => {
        const rows = [...access.rows()];
        expect(rows.map((row) => row.length)).toEqual([32, 32, 32, 32, 32]);
        expect(access.bytes.length).toBe(4 * stride + 32);
        writePattern(access, 1);
      });
      const expected: number[] = [];
      buf.withCpuAccess('readwrite', rect, (access) => {
        expected.push(...rowsOf(access));
      });
      const all = readAll(buf);
      let i = 0;
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < stride; x++) {
          const inside = y >= 20 && y < 25 && x >= 40 && x < 72;
          const want = inside ? expected[i++] : 0;
          if (all[y * stride + x] !== want) expect(all[y * stride + x], `byte (${x}, ${y})`).toBe(want);
        }
      }
      expect(i).toBe(5 * 32);
      // The pattern itself, through the region again.
      expect(buf.withCpuAccess('read', rect, (access) => rowsOf(access).slice(0, 4))).toEqual([1, 4, 7, 10]);
    });

    it('a 3D region: one row per row of each slice, and the data reads back through a second holder', () => {
      const rowPitch = 32;
      const slicePitch = 16 * rowPitch;
      using buf = b.allocate(8 * slicePitch);
      const box = region.box({ x: 2, y: 3, z: 1, width: 5, height: 4, depth: 3, rowPitch, slicePitch, bytesPerPixel: 2, offset: 64 });
      let written: number[] = [];
      buf.withCpuAccess('write', box, (access) => {
        expect([...access.rows()].length).toBe(12);
        expect(access.bytes.length).toBe(2 * slicePitch + 3 * rowPitch + 10);
        writePattern(access, 9);
        written = rowsOf(access);
      });
      using second = DmaBuf.fromFd(buf.fd);
      expect(second.withCpuAccess('read', box, rowsOf)).toEqual(written);
      const all = readAll(second);
      let nonZero = 0;
      for (const x of all) if (x !== 0) nonZero++;
      expect(nonZero).toBe(written.filter((x) => x !== 0).length);
      // First row of the middle slice: offset + z·slicePitch + y·rowPitch + x·bpp, with z = 2.
      const at = 64 + 2 * slicePitch + 3 * rowPitch + 4;
      expect([...all.subarray(at, at + 10)]).toEqual(written.slice(40, 50));
    });
  });
}
