import { describe, expect, it } from 'vitest';
import {
  CpuAccess,
  DmaBuf,
  DmaHeap,
  FdChannel,
  FdChannelServer,
  Frame,
  FrameAccess,
  FramePool,
  Memfd,
  OwnedFd,
  SyncFile,
  UnixFdSink,
  UnixFdSrc,
} from '../../lib/index.js';
import { DrmScanout, VgemFenceSource, VividCamera, VividLoop } from '../../lib/testing/index.js';
import { exportedClasses } from '../helpers/samples.js';

describe('the public classes are made by their factories only', () => {
  it('every exported class but the errors refuses `new` (the list comes from the exports)', async () => {
    const root = (await import('../../lib/index.js')) as Record<string, unknown>;
    const testing = (await import('../../lib/testing/index.js')) as Record<string, unknown>;
    const classes = [...exportedClasses].map((name) => [name, root[name] ?? testing[name]] as const);
    const unguarded: string[] = [];
    for (const [name, Class] of classes) {
      if ((Class as { prototype?: unknown }).prototype instanceof Error) continue;
      try {
        new (Class as new (...args: unknown[]) => unknown)();
        unguarded.push(`${name}: constructed`);
      } catch (error) {
        if (!(error instanceof TypeError) || !error.message.startsWith(`${name} cannot be constructed directly; use `))
          unguarded.push(`${name}: ${String(error)}`);
      }
    }
    expect(unguarded).toEqual([]);
  });

  it.each([
    ['DmaBuf', DmaBuf, /DmaHeap.allocate\(\) or DmaBuf.fromFd\(\)/],
    ['DmaHeap', DmaHeap, /DmaHeap.open\(\)/],
    ['SyncFile', SyncFile, /exportSyncFile\(\)/],
    ['Frame', Frame, /Frame.allocate\(\), Frame.fromPlanes\(\) or a FramePool/],
    ['FramePool', FramePool, /FramePool.allocate\(\)/],
    ['Memfd', Memfd, /Memfd.create\(\)/],
    ['OwnedFd', OwnedFd, /FdChannel#receive\(\)/],
    ['CpuAccess', CpuAccess, /buf.beginCpuAccess\(\)/],
    ['FrameAccess', FrameAccess, /frame.beginCpuAccess\(\)/],
    ['FdChannel', FdChannel, /FdChannel.pair\(\)/],
    ['FdChannelServer', FdChannelServer, /FdChannel.listen\(\)/],
    ['UnixFdSink', UnixFdSink, /UnixFdSink.listen\(\)/],
    ['UnixFdSrc', UnixFdSrc, /UnixFdSrc.connect\(\)/],
    ['VgemFenceSource', VgemFenceSource, /VgemFenceSource.open\(\)/],
    ['VividCamera', VividCamera, /VividCamera.open\(\)/],
    ['VividLoop', VividLoop, /VividLoop.open\(\)/],
    ['DrmScanout', DrmScanout, /DrmScanout.open\(\)/],
  ])('new %s() throws a TypeError naming the factory, and builds nothing', (name, Class, factory) => {
    const Ctor = Class as unknown as new (...args: unknown[]) => unknown;
    for (const args of [[], [Symbol('forged'), 3], [undefined, undefined, 7]]) {
      let error: unknown;
      try {
        new Ctor(...args);
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(new RegExp(`^${name} cannot be constructed directly; use `));
      expect((error as Error).message).toMatch(factory);
    }
  });
});
