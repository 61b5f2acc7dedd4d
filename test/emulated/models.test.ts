/**
 * Each coherency model exists to expose one class of bug; each test here shows that bug happening
 * (wrong data where a bracket is missing or wrong) and the correct use working.
 */
import { describe, expect, it } from 'vitest';
import { DmaBufError, MisuseCode, emulation, region } from '../../lib/index.js';
import { allBytes, fill, read } from './helpers.js';

describe('coherent model', () => {
  it('passes data both ways and still detaches views at end', async () => {
    const emu = emulation.create({ coherency: 'coherent' });
    expect(emu.supports.staleOutsideBracket).toBe(false);
    const buf = emu.heap().allocate(4096);
    fill(buf, 0x11);
    let seen: Uint8Array | undefined;
    await emu
      .device('gpu')
      .submit({
        writes: [buf],
        run: (job) => {
          seen = job.bytes(buf).slice(0, 4);
          job.bytes(buf).fill(0x22, 0, 16);
        },
      })
      .wait();
    expect([...seen!]).toEqual([0x11, 0x11, 0x11, 0x11]);
    // Coherent: even a 'write' bracket (no invalidate) sees the device's data.
    const access = buf.beginCpuAccess('write', region.linear({ offset: 0, length: 32 }));
    expect([...access.bytes.subarray(0, 17)]).toEqual([...new Array(16).fill(0x22), 0x11]);
    const kept = access.bytes;
    access.end();
    expect(kept.length).toBe(0);
    expect(emu.stats().syncedBytes).toBe(0);
    buf.close();
  });
});

describe('writeback model (non-coherent CPU cache)', () => {
  it('a read without invalidate is stale: device data shows only in a read bracket', async () => {
    const emu = emulation.create({ coherency: 'writeback', seed: 1 });
    const buf = emu.heap().allocate(4096);
    await emu
      .device('gpu')
      .submit({ writes: [buf], run: (job) => job.bytes(buf).fill(0x42) })
      .wait();
    // A 'write' bracket does not invalidate: the CPU sees its cache (seeded poison), not 0x42.
    const a = region.linear({ offset: 0, length: 100 });
    const stale = read(buf, a, 'write');
    expect(stale.every((b) => b >= 0xa0 && b <= 0xaf)).toBe(true);
    // A 'read' bracket invalidates exactly its region.
    expect(allBytes(read(buf, region.linear({ offset: 200, length: 100 })), 0x42)).toBe(true);
    // And the 'write' bracket's END cleaned its whole region: the stale bytes overwrote the device's.
    expect(read(buf, a).some((b) => b === 0x42)).toBe(false);
    buf.close();
  });

  it('a read after a missing invalidate of one region sees only what was invalidated', async () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const buf = emu.heap().allocate(4096);
    fill(buf, 1); // clean the whole buffer: cache and device agree on 1
    await emu
      .device('gpu')
      .submit({ writes: [buf], run: (job) => job.bytes(buf).fill(2) })
      .wait();
    expect(allBytes(read(buf, region.linear({ offset: 0, length: 64 })), 2)).toBe(true);
    // Bytes 64.. were not invalidated: a bracket over them without READ still sees the old 1s.
    expect(allBytes(read(buf, region.linear({ offset: 64, length: 64 }), 'write'), 1)).toBe(true);
  });

  it('a write outside the region is reported and never reaches the device', async () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const buf = emu.heap().allocate(4096, { name: 'frame' });
    const rect = region.rect({ x: 0, y: 0, width: 4, height: 2, stride: 64, bytesPerPixel: 1 });
    const access = buf.beginCpuAccess('write', rect);
    access.bytes.fill(0x77); // the whole span, gap between the two rows included
    let error: unknown;
    try {
      access.end();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DmaBufError);
    expect((error as DmaBufError).code).toBe(MisuseCode.WRITE_OUTSIDE_REGION);
    expect((error as DmaBufError).bufferName).toBe('frame');
    expect((error as DmaBufError).offset).toBe(4);
    let device: Uint8Array | undefined;
    await emu
      .device('gpu')
      .submit({
        reads: [buf],
        run: (job) => {
          device = job.bytes(buf).slice(0, 68);
        },
      })
      .wait();
    expect(allBytes(device!.subarray(0, 4), 0x77)).toBe(true); // the rows were synced
    expect(allBytes(device!.subarray(4, 64), 0)).toBe(true); // the gap write was dropped
    expect(allBytes(device!.subarray(64, 68), 0x77)).toBe(true);
  });

  it('a write whose END has not happened yet has not reached the device', async () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const buf = emu.heap().allocate(4096);
    const access = buf.beginCpuAccess('write');
    access.bytes.fill(9);
    const peek = (): Promise<number> => {
      let first = -1;
      return emu
        .device('gpu')
        .submit({
          reads: [buf],
          run: (job) => {
            first = job.bytes(buf)[0]!;
          },
        })
        .wait()
        .then(() => first);
    };
    expect(await peek()).toBe(0);
    access.end();
    expect(await peek()).toBe(9);
  });
});

describe('bounce model (device memory not CPU-visible)', () => {
  it('a write-only START shows garbage, and a gap write is lost', async () => {
    const emu = emulation.create({ coherency: 'bounce' });
    const buf = emu.udmabuf(8192);
    expect(buf.exporter).toBe('udmabuf');
    fill(buf, 5);
    expect(allBytes(read(buf), 5)).toBe(true);
    expect(read(buf, region.linear({ offset: 4096, length: 64 }), 'write').some((b) => b === 5)).toBe(false);
    const box = region.box({ x: 0, y: 0, z: 0, width: 2, height: 2, depth: 2, rowPitch: 8, slicePitch: 32, bytesPerPixel: 1 });
    const access = buf.beginCpuAccess('readwrite', box);
    access.bytes[20] = 0xee; // slice 0, past its last row: in the span, outside the box
    expect(() => access.end()).toThrow(expect.objectContaining({ code: MisuseCode.WRITE_OUTSIDE_REGION, offset: 20 }));
    expect(read(buf, region.linear({ offset: 20, length: 1 }))[0]).toBe(5);
  });
});

describe('tiled model', () => {
  it('device memory is tiled: only untiling shows the CPU linear data', async () => {
    const emu = emulation.create({ coherency: 'tiled' });
    const buf = emu.heap().allocate(4096);
    const data = Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff);
    buf.withCpuAccess('write', region.linear({ offset: 0, length: 1024 }), (access) => access.bytes.set(data));
    let linear: Uint8Array | undefined;
    let raw: Uint8Array | undefined;
    await emu
      .device('display')
      .submit({
        reads: [buf],
        run: (job) => {
          linear = job.bytes(buf).slice(0, 1024);
          raw = job.rawBytes(buf).slice(0, 1024);
        },
      })
      .wait();
    expect([...linear!]).toEqual([...data]);
    expect([...raw!]).not.toEqual([...data]); // a linear reader of the raw memory sees garbage
    expect([...raw!].sort((a, b) => a - b)).toEqual([...data].sort((a, b) => a - b)); // the same bytes, permuted
    expect(
      allBytes(
        read(buf, region.linear({ offset: 100, length: 8 })).map((b, i) => b - (100 + i)),
        0,
      ),
    ).toBe(true);
  });
});

describe('region-proportional sync', () => {
  it('START/END move exactly the region rows, not the buffer', () => {
    for (const coherency of ['writeback', 'bounce', 'tiled'] as const) {
      const emu = emulation.create({ coherency });
      const buf = emu.heap().allocate(1600 * 1200 * 4);
      const rect = region.rect({ x: 10, y: 20, width: 10, height: 10, stride: 1600 * 4, bytesPerPixel: 4 });
      read(buf, rect, 'readwrite');
      expect(emu.stats().syncedBytes).toBe(2 * 10 * 10 * 4); // invalidate + clean of 400 bytes
      buf.close();
    }
  });
});
