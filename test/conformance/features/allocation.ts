/** Allocation from a heap and from udmabuf: sizes, exporters, zeroed memory, and the sizes refused. */
import { describe, expect, it } from 'vitest';
import { udmabufSizeLimitMb } from '../../../lib/backend/kernel/module-params.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { NEEDS_HEAPS } from '../../helpers/env.js';
import { thrown } from '../../helpers/errors.js';
import { KiB, shape, readAll } from './shared.js';

export function allocation(b: ConformanceBackend): void {
  const page = (): number => {
    using probe = b.allocate(1);
    return probe.size;
  };

  describe('allocation', () => {
    it.runIf(b.heaps)(`heap buffers: page-rounded sizes, the heap as exporter, zeroed memory ${NEEDS_HEAPS}`, () => {
      const p = page();
      expect(p % 4096).toBe(0);
      for (const [size, expected] of [
        [1, p],
        [p, p],
        [p + 1, 2 * p],
        [64 * KiB - 3, 64 * KiB],
      ] as const) {
        using buf = b.allocate(size);
        expect(buf.size, `allocate(${size})`).toBe(expected);
        expect(buf.exporter).toBe('system');
        expect(buf.backend).toBe(b.kind);
        expect(buf.closed).toBe(false);
        expect(readAll(buf).every((x) => x === 0)).toBe(true);
      }
    });

    it('udmabuf buffers: page-rounded sizes, exporter udmabuf, zeroed memory', () => {
      const p = page();
      for (const [size, expected] of [
        [1, p],
        [3 * p - 1, 3 * p],
      ] as const) {
        using buf = b.udmabuf(size);
        expect(buf.size).toBe(expected);
        expect(buf.exporter).toBe('udmabuf');
        expect(buf.backend).toBe(b.kind);
        expect(readAll(buf).every((x) => x === 0)).toBe(true);
      }
    });

    const badSizes: [unknown, string][] = [
      [0, 'EINVAL'],
      [-1, 'EINVAL'],
      [1.5, 'EINVAL'],
      [Number.NaN, 'EINVAL'],
      [Infinity, 'EINVAL'],
      [2 ** 53, 'EINVAL'],
      ['4096', 'ERR_INVALID_ARG_TYPE'],
      [undefined, 'ERR_INVALID_ARG_TYPE'],
      [4096n, 'ERR_INVALID_ARG_TYPE'],
    ];

    it.runIf(b.heaps)(`bad sizes to a heap are refused with the same codes before any work ${NEEDS_HEAPS}`, () => {
      for (const [size, code] of badSizes) {
        const heapError = thrown(() => b.allocate(size as number));
        expect(shape(heapError), `allocate(${String(size)})`).toEqual({ code, argument: 'size' });
        expect(heapError.syscall).toBe('DMA_HEAP_IOCTL_ALLOC');
      }
    });

    it('bad sizes to udmabuf are refused with the same codes before any work', () => {
      for (const [size, code] of badSizes) {
        const udmabufError = thrown(() => b.udmabuf(size as number));
        expect(shape(udmabufError), `udmabuf(${String(size)})`).toEqual({ code, argument: 'size' });
        expect(udmabufError.syscall).toBe('UDMABUF_CREATE');
      }
    });

    // The emulated backend models udmabuf's default up to Linux 7.2 (64 MiB); a kernel's is its
    // size_limit_mb, INT_MAX (no limit) by default from 7.3 (test/kernel/udmabuf.test.ts).
    it('udmabuf refuses more than its size limit with EINVAL (64 MiB; none by default on Linux 7.3 and later)', () => {
      const limitMb = b.kind === 'kernel' ? udmabufSizeLimitMb() : 64;
      if (limitMb === null) {
        using buf = b.udmabuf(64 * KiB * KiB + 1);
        expect(buf.size).toBe(64 * KiB * KiB + page());
        return;
      }
      const error = thrown(() => b.udmabuf(limitMb * KiB * KiB + 1));
      expect(error.code).toBe('EINVAL');
      expect(error.syscall).toBe('UDMABUF_CREATE');
    });
  });
}
