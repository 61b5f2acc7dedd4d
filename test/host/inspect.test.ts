// How every public class prints (util.inspect, console.log): its name and what matters, never `{}`,
// never an `undefined` field. The list of classes is taken from the package's exports, so a class
// added later without an entry below fails here (and one without an inspect method fails its entry).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as root from '../../lib/index.js';
import * as testing from '../../lib/testing/index.js';
import { addonLoads, hasVgem, hasVivid } from '../helpers/env.js';

const { AbortError, DmaBufError, emulation, FdChannel, Frame, FramePool, Memfd, region } = root;

/** Every exported class: a function whose source is a class declaration. */
const exportedClasses = [...Object.entries(root), ...Object.entries(testing)]
  .filter(([, v]) => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v)))
  .map(([name]) => name)
  .sort();

type Sample = { make: () => { value: unknown; done?: () => void }; needs?: string | undefined };
const emu = emulation.create({ coherency: 'coherent' });
const samples: Record<string, Sample> = {
  AbortError: { make: () => ({ value: new AbortError('waiting was aborted') }) },
  DmaBufError: { make: () => ({ value: new DmaBufError('EINVAL', 'size: must be > 0') }) },
  DmaHeap: { make: () => ({ value: emu.heap() }) },
  DmaBuf: { make: () => ({ value: emu.heap().allocate(4096, { name: 'printed' }) }) },
  CpuAccess: {
    make: () => {
      const buf = emu.heap().allocate(4096);
      const access = buf.beginCpuAccess('read', region.linear({ offset: 0, length: 16 }));
      return {
        value: access,
        done: () => {
          access.end();
          buf.close();
        },
      };
    },
  },
  // Exported as a type only; emu.device() makes one.
  EmulatedDevice: { make: () => ({ value: emu.device('printed') }) },
  SyncFile: { make: () => ({ value: emu.device('gpu').submit({}) }) },
  Frame: { make: () => ({ value: Frame.allocate(emu.heap(), { width: 8, height: 8, format: 'NV12' }) }) },
  FramePool: {
    make: () => {
      const pool = FramePool.allocate(emu.heap(), { width: 8, height: 8, format: 'NV12', count: 2 });
      const held = pool.tryAcquire();
      return { value: pool, done: () => (held?.close(), pool.close()) };
    },
  },
  FrameAccess: {
    make: () => {
      const frame = Frame.allocate(emu.heap(), { width: 8, height: 8, format: 'R8' });
      const access = frame.beginCpuAccess('read');
      return {
        value: access,
        done: () => {
          access.end();
          frame.close();
        },
      };
    },
  },
  Memfd: { needs: addonLoads ? undefined : 'the native addon', make: () => ({ value: Memfd.create(4096, { name: 'printed' }) }) },
  FdChannel: {
    needs: addonLoads ? undefined : 'the native addon',
    make: () => {
      const [a, b] = FdChannel.pair();
      return {
        value: a,
        done: () => {
          a.close();
          b.close();
        },
      };
    },
  },
  FdChannelServer: {
    needs: addonLoads ? undefined : 'the native addon',
    make: () => ({ value: FdChannel.listen(`/tmp/dmabuf-inspect-${process.pid}.sock`) }),
  },
  OwnedFd: {
    needs: addonLoads ? undefined : 'the native addon',
    make: () => {
      const [a, b] = FdChannel.pair();
      return {
        value: (async () => {
          await a.send('fd', [Memfd.create(4096)]);
          return (await b.receive()).fds[0];
        })(),
        done: () => {
          a.close();
          b.close();
        },
      };
    },
  },
  VgemFenceSource: { needs: hasVgem ? undefined : 'vgem (/dev/dri)', make: () => ({ value: testing.VgemFenceSource.open() }) },
  VividCamera: { needs: addonLoads && hasVivid ? undefined : 'vivid (/dev/video*)', make: () => ({ value: testing.VividCamera.open() }) },
};

describe('every public class prints usefully in util.inspect', () => {
  it('the samples below cover every class the package exports', () => {
    for (const name of exportedClasses) expect(Object.keys(samples), name).toContain(name);
  });

  for (const [name, sample] of Object.entries(samples)) {
    it.skipIf(sample.needs !== undefined)(`${name}: its name and fields, open and closed${sample.needs ? ` [needs ${sample.needs}]` : ''}`, async () => {
      const { value: made, done } = sample.make();
      const value = await made;
      const printed = inspect(value);
      expect(printed).toMatch(new RegExp(`^(\\[?${name}\\b|${name}:)`));
      expect(printed).not.toMatch(new RegExp(`^${name} \\{\\}$`));
      expect(printed).not.toMatch(/undefined/);
      const closable = value as { close?: () => void };
      if (typeof closable.close === 'function' && !(value instanceof Error)) {
        closable.close();
        if ('closed' in (value as object)) expect(inspect(value)).toMatch(/closed: true/);
      }
      done?.();
    });
  }

  it('a DmaBufError shows only the fields that are set', () => {
    const printed = inspect(new DmaBufError('ERR_DMABUF_CLOSED', 'the buffer is closed'));
    expect(printed).toMatch(/code: 'ERR_DMABUF_CLOSED'/);
    for (const field of ['errno', 'syscall', 'argument', 'bufferName', 'offset']) expect(printed).not.toMatch(new RegExp(`\\b${field}:`));
    const full = new DmaBufError('EINVAL', 'x', { syscall: 'DMA_BUF_IOCTL_SYNC', argument: 'region' });
    expect(Object.keys(full).sort()).toEqual(['argument', 'code', 'errno', 'name', 'syscall']);
  });
});
