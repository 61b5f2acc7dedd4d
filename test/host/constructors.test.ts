import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaHeap, FdChannel, FdChannelServer, Frame, FramePool, SyncFile } from '../../lib/index.js';
import { VgemFenceSource, VividCamera } from '../../lib/testing/index.js';

describe('the public classes are made by their factories only', () => {
  it.each([
    ['DmaBuf', DmaBuf, /DmaHeap.allocate\(\) or DmaBuf.fromFd\(\)/],
    ['DmaHeap', DmaHeap, /DmaHeap.open\(\)/],
    ['SyncFile', SyncFile, /exportSyncFile\(\)/],
    ['Frame', Frame, /Frame.allocate\(\), Frame.fromPlanes\(\) or a FramePool/],
    ['FramePool', FramePool, /FramePool.allocate\(\)/],
    ['FdChannel', FdChannel, /FdChannel.pair\(\)/],
    ['FdChannelServer', FdChannelServer, /FdChannel.listen\(\)/],
    ['VgemFenceSource', VgemFenceSource, /VgemFenceSource.open\(\)/],
    ['VividCamera', VividCamera, /VividCamera.open\(\)/],
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
