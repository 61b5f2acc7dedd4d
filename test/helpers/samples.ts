/**
 * One instance of every public class, made the simplest way (emulated where it can be), for the
 * tests that go over all classes: how each prints (inspect.test.ts), what a closed one does
 * (closed.test.ts). The list of classes comes from the package's exports, so a class added later
 * without a sample fails those tests.
 */
import * as root from '../../lib/index.js';
import * as testing from '../../lib/testing/index.js';
import { addonLoads, hasVgem, hasVivid, provides } from './env.js';

const { AbortError, DmaBufError, emulation, FdChannel, Frame, FramePool, Memfd, region, UnixFdSink, UnixFdSrc } = root;

/** Every exported class: a function whose source is a class declaration. */
export const exportedClasses = [...Object.entries(root), ...Object.entries(testing)]
  .filter(([, v]) => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v)))
  .map(([name]) => name)
  .sort();

export type Sample = { make: () => { value: unknown; done?: () => void }; needs?: string | undefined };
const emu = emulation.create({ coherency: 'coherent' });
export const samples: Record<string, Sample> = {
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
      return {
        value: pool,
        done: () => {
          held?.close();
          pool.close();
        },
      };
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
  UnixFdSink: {
    needs: addonLoads ? undefined : 'the native addon',
    make: () => ({ value: UnixFdSink.listen(`\0dmabuf-inspect-sink-${process.pid}`) }),
  },
  UnixFdSrc: {
    needs: addonLoads ? undefined : 'the native addon',
    make: () => {
      const sink = UnixFdSink.listen(`\0dmabuf-inspect-src-${process.pid}`);
      return { value: UnixFdSrc.connect(`\0dmabuf-inspect-src-${process.pid}`), done: () => sink.close() };
    },
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
  VividLoop: { needs: addonLoads && hasVivid ? undefined : 'vivid (/dev/video*)', make: () => ({ value: testing.VividLoop.open() }) },
  // Only where a profile declares it: the mark is suite.mjs's, so the arm64 profiles count it out by declaration.
  DrmScanout: { needs: provides.virtioGpu ? undefined : 'virtio-gpu', make: () => ({ value: testing.DrmScanout.open() }) },
};
