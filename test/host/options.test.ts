// An options object with a key the call does not know (a typo) is refused before anything is made:
// ERR_INVALID_ARG_VALUE naming the key and the known ones, with `argument` set to `options.<key>`.
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaHeap, emulation, FdChannel, Frame, FramePool, Memfd, region, SyncFile, Udmabuf, UnixFdSink } from '../../lib/index.js';
import { addonLoads } from '../helpers/env.js';

const emu = emulation.create({ coherency: 'coherent' });
const heap = emu.heap();
const typo = { nmae: 'x' } as never;

/** [call, what it does with the typo'd options, the known keys the message must list] */
const calls: [string, () => unknown, string[]][] = [
  ['heap.allocate', () => heap.allocate(4096, typo), ['name', 'checked']],
  ['emu.udmabuf', () => emu.udmabuf(4096, typo), ['name', 'checked']],
  ['DmaBuf.fromFd', () => DmaBuf.fromFd(0, typo), ['dup', 'checked']],
  ['SyncFile.fromFd', () => SyncFile.fromFd(0, typo), ['dup']],
  ['DmaHeap.list', () => DmaHeap.list(typo), ['details']],
  ['emulation.create', () => emulation.create(typo), ['coherency', 'seed', 'pageSize', 'heaps']],
  ['device.submit', () => emu.device('gpu').submit(typo), ['reads', 'writes', 'durationMs', 'run', 'error']],
  ['buf.beginCpuAccess', () => heap.allocate(4096).beginCpuAccess('read', undefined, typo), ['timeoutMs']],
  ['buf.cpuAccess', () => heap.allocate(4096).cpuAccess('read', undefined, typo), ['timeoutMs', 'signal']],
  ['buf.waitIdle', () => heap.allocate(4096).waitIdle('read', typo), ['timeoutMs', 'signal']],
  ['syncFile.wait', () => emu.device('gpu').submit({}).wait(typo), ['timeoutMs', 'signal']],
  ['Frame.allocate', () => Frame.allocate(heap, { width: 8, height: 8, format: 'R8', nmae: 'x' } as never), ['strideAlign', 'name', 'modifier']],
  ['Frame.fromPlanes', () => Frame.fromPlanes({ width: 8, height: 8, format: 'R8', planes: [], modifer: 0n } as never), ['modifier', 'planes']],
  ['FramePool.allocate', () => FramePool.allocate(heap, { width: 8, height: 8, format: 'R8', count: 1, nmae: 'x' } as never), ['count', 'name']],
  ['pool.acquire', () => FramePool.allocate(heap, { width: 8, height: 8, format: 'R8', count: 1 }).acquire(typo), ['timeoutMs', 'signal']],
  ['frame.toElectron', () => Frame.allocate(heap, { width: 8, height: 8, format: 'NV12' }).toElectron(typo), ['electronVersion']],
  ['frame.colorSpace', () => Frame.fromPlanes({ width: 8, height: 8, format: 'R8', planes: [], colorSpace: { nmae: 'x' } } as never), ['primaries', 'range']],
  ['region.linear', () => region.linear({ length: 4, ofset: 2 } as never), ['offset', 'length']],
  ['region.rect', () => region.rect({ x: 0, y: 0, width: 1, height: 1, stride: 1, bytesPerPixel: 1, ofset: 2 } as never), ['offset']],
  [
    'region.box',
    () => region.box({ x: 0, y: 0, z: 0, width: 1, height: 1, depth: 1, rowPitch: 1, slicePitch: 1, bytesPerPixel: 1, ofset: 2 } as never),
    ['offset'],
  ],
];
const nativeCalls: [string, () => unknown, string[]][] = [
  ['Udmabuf.create', () => Udmabuf.create(4096, typo), ['name', 'checked']],
  ['Memfd.create', () => Memfd.create(4096, typo), ['name']],
  ['FdChannel.listen', () => FdChannel.listen(`/tmp/dmabuf-options-${process.pid}.sock`, typo), ['mode', 'backlog']],
  ['FdChannel.fromFd', () => FdChannel.fromFd(0, typo), ['dup']],
  ['UnixFdSink.listen', () => UnixFdSink.listen(`\0dmabuf-options-${process.pid}`, typo), ['mode', 'backlog', 'drmCaps', 'trustVideoMeta']],
  [
    'channel.receive',
    () => {
      const [a, b] = FdChannel.pair();
      return a.receive(typo).finally(() => {
        a.close();
        b.close();
      });
    },
    ['timeoutMs', 'signal', 'maxBytes', 'maxFds'],
  ],
];

async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('an unknown option key is refused, naming it and the known ones', () => {
  for (const [name, call, known] of calls) {
    it(name, async () => {
      const error = (await outcome(call)) as { code?: string; message?: string; argument?: string };
      expect(error?.code).toBe('ERR_INVALID_ARG_VALUE');
      expect(error.argument).toMatch(/\.(nmae|ofset|modifer)$/);
      expect(error.message).toMatch(/(nmae|ofset|modifer) is not an option of .*: the known ones are /);
      for (const key of known) expect(error.message).toContain(key);
    });
  }
  for (const [name, call, known] of nativeCalls) {
    it.skipIf(!addonLoads)(`${name}${addonLoads ? '' : ' [needs the native addon]'}`, async () => {
      const error = (await outcome(call)) as { code?: string; message?: string };
      expect(error?.code).toBe('ERR_INVALID_ARG_VALUE');
      for (const key of known) expect(error.message).toContain(key);
    });
  }

  it('known keys with undefined values are still accepted', () => {
    const buf = heap.allocate(4096, { name: 'ok', checked: undefined } as never);
    expect(buf.name).toBe('ok');
    buf.close();
  });
});
