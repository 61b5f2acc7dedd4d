import { describe, expect, it } from 'vitest';
import { DmaBufError, emulation, region } from '../../lib/index.js';

describe('emulation pageSize: a 16K- or 64K-page kernel (arm64 16K kernels, the Raspberry Pi 5)', () => {
  it('defaults to 4096', () => {
    const emu = emulation.create();
    expect(emu.pageSize).toBe(4096);
    using heap = emu.heap();
    using buf = heap.allocate(1);
    expect(buf.size).toBe(4096);
  });

  it.each([16384, 65536] as const)('rounds heap and udmabuf sizes up to %i-byte pages', (pageSize) => {
    const emu = emulation.create({ pageSize, coherency: 'bounce' });
    expect(emu.pageSize).toBe(pageSize);
    using heap = emu.heap();
    using a = heap.allocate(4096);
    using b = emu.udmabuf(pageSize + 1);
    expect(a.size).toBe(pageSize);
    expect(b.size).toBe(2 * pageSize);
    // A program that assumed 4096-byte pages and brackets "the whole buffer" gets more bytes.
    a.withCpuAccess('write', undefined, (access) => expect(access.bytes.length).toBe(pageSize));
    b.withCpuAccess('write', region.linear({ offset: pageSize, length: 1 }), (access) => access.bytes.fill(1));
  });

  it('refuses page sizes Linux does not run with, naming the argument', () => {
    for (const [pageSize, code] of [
      [8192, 'EINVAL'],
      [0, 'EINVAL'],
      ['16384', 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      const error = (() => {
        try {
          emulation.create({ pageSize: pageSize as 4096 });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(DmaBufError);
      expect(error).toMatchObject({ code, argument: 'pageSize' });
    }
  });
});
