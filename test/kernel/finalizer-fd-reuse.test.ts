// The safety net never closes a stranger's fd. Every class that closes its fd when dropped without
// close() (an Owned handle's FinalizationRegistry, lib/lifecycle.ts) must close only the file it opened: an fd
// number is reused as soon as it is closed, so a finalizer (or env cleanup) acting on the number
// alone would close whatever file holds it now. The addon records which file each fd it owns
// names (fstat's dev and ino) and closes the number only while it still names that file.
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaHeap, FdChannel, Memfd, type SyncFile, UnixFdSink, UnixFdSrc } from '../../lib/index.js';
import { addonLoads, kernelAllocator, provides, runKernel, runVgem, runVirtioGpu, runVivid } from '../helpers/env.js';
import { DrmScanout, VgemFenceSource, VividCamera, VividLoop } from '../../lib/testing/index.js';
import { collect } from '../helpers/gc.js';
import { fdSnapshot, fdsMadeSince, fileId } from '../helpers/proc.js';

type Owner = { close(): void };
interface Case {
  /** Where the class registers its fd with the safety net. */
  file: string;
  needs: boolean;
  /**
   * Makes one owner holding exactly one new fd, and what else to close afterwards. A case that
   * makes other fds on the way names its owner's fd: on a kernel without dma-heaps the buffer
   * behind a SyncFile is a udmabuf whose memfd is closed once it is made, so the sync_file takes a
   * lower number than the buffer and "the highest new fd" would be the buffer's.
   */
  make: () => Promise<{ owner: Owner; fd?: number; cleanup?: () => void }>;
}

const DEV_NULL = fileId(openSync('/dev/null', 'r')) as string;

const cases: Record<string, Case> = {
  DmaBuf: { file: 'dmabuf.ts', needs: runKernel, make: async () => ({ owner: kernelAllocator().allocate(4096) }) },
  DmaHeap: { file: 'heap.ts', needs: runKernel && provides.heaps, make: async () => ({ owner: DmaHeap.open('system') }) },
  SyncFile: {
    file: 'sync-file.ts',
    needs: runKernel,
    make: async () => {
      const buf = kernelAllocator().allocate(4096);
      const before = fdSnapshot();
      const sync: SyncFile = buf.exportSyncFile('write');
      const made = fdsMadeSince(before);
      expect(made).toHaveLength(1);
      return { owner: sync, fd: Number(made[0]?.split(' ')[0]), cleanup: () => buf.close() };
    },
  },
  Memfd: { file: 'memfd.ts', needs: addonLoads, make: async () => ({ owner: Memfd.create(4096) }) },
  OwnedFd: {
    file: 'fd-channel.ts',
    needs: addonLoads,
    make: async () => {
      const [a, b] = FdChannel.pair();
      const memfd = Memfd.create(4096);
      await a.send('fd', [memfd]);
      memfd.close();
      const before = fdSnapshot();
      const message = await b.receive({ timeoutMs: 5000 });
      a.close();
      b.close();
      expect(fdsMadeSince(before)).toHaveLength(1);
      return { owner: message.fds[0] as Owner };
    },
  },
  FdChannel: {
    file: 'fd-channel.ts',
    needs: addonLoads,
    make: async () => {
      const [a, b] = FdChannel.pair();
      b.close();
      return { owner: a };
    },
  },
  VgemFenceSource: { file: 'testing/vgem.ts', needs: runVgem, make: async () => ({ owner: VgemFenceSource.open() }) },
  VividCamera: { file: 'testing/vivid.ts', needs: runVivid, make: async () => ({ owner: VividCamera.open() }) },
  // Two nodes: the output node's fd is the later one, the one tested.
  VividLoop: { file: 'testing/vivid-loop.ts', needs: runVivid, make: async () => ({ owner: VividLoop.open() }) },
  DrmScanout: {
    file: 'testing/drm-scanout.ts',
    needs: runVirtioGpu,
    make: async () => {
      // The card's fd (the dumb buffer's dma-buf, opened after it, is a DmaBuf's own case).
      const before = fdSnapshot();
      const owner = DrmScanout.open();
      const card = fdsMadeSince(before).find((line) => line.includes('/dev/dri/card'));
      return { owner, fd: Number(card?.split(' ')[0]) };
    },
  },
  UnixFdSink: {
    file: 'unixfd/sink.ts',
    needs: addonLoads,
    make: async () => {
      const before = fdSnapshot();
      const owner = UnixFdSink.listen(`\0dmabuf-reuse-sink-${process.pid}-${Math.random().toString(36).slice(2)}`);
      // The listening socket; its accept loop's waiter has an epoll fd of its own (not the sink's to test).
      const socket = fdsMadeSince(before).find((line) => line.includes('socket:'));
      return { owner, fd: Number(socket?.split(' ')[0]) };
    },
  },
  UnixFdSrc: {
    file: 'unixfd/src.ts',
    needs: addonLoads,
    make: async () => {
      const name = `\0dmabuf-reuse-src-${process.pid}-${Math.random().toString(36).slice(2)}`;
      const sink = UnixFdSink.listen(name);
      const before = fdSnapshot();
      const src = await UnixFdSrc.connect(name);
      // The connect's own fd (the sink's accepted end may appear later, on its side).
      const fd = Number(fdsMadeSince(before)[0]?.split(' ')[0]);
      return { owner: src, fd, cleanup: () => sink.close() };
    },
  },
  FdChannelServer: {
    file: 'fd-channel.ts',
    needs: addonLoads,
    make: async () => ({ owner: FdChannel.listen(`\0dmabuf-reuse-${process.pid}-${Math.random().toString(36).slice(2)}`) }),
  },
};

/** Opens /dev/null until it gets fd number `fd` (the lowest free number is given first); returns what it opened. */
function occupy(fd: number): number[] {
  const opened: number[] = [];
  for (let i = 0; i < 4096; i++) {
    const got = openSync('/dev/null', 'r');
    opened.push(got);
    if (got === fd) return opened;
  }
  for (const f of opened) closeSync(f);
  throw new Error(`could not get fd ${fd} back`);
}

/** The one fd `make` creates, found by what it added to the fd table. */
async function madeWithFd(make: Case['make']): Promise<{ owner: Owner; fd: number; cleanup?: () => void }> {
  const before = fdSnapshot();
  const made = await make();
  if (made.fd !== undefined) return { ...made, fd: made.fd };
  const added = fdsMadeSince(before).map((line) => Number(line.split(' ')[0]));
  // Other fds a case made on the way (its channel's ends, its source buffer) are closed or known.
  const mine = added.filter((fd) => fileId(fd) !== undefined);
  expect(mine.length, `new fds: ${fdsMadeSince(before).join(', ')}`).toBeGreaterThanOrEqual(1);
  return { ...made, fd: mine.at(-1) as number };
}

describe('the finalizers cover exactly the classes tested below', () => {
  it('every `new Owned(this, …)` in lib/ belongs to a class of the table', () => {
    const lib = join(import.meta.dirname, '..', '..', 'lib');
    const registered = (readdirSync(lib, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => Array.from(readFileSync(join(lib, f), 'utf8').matchAll(/new Owned\(this\b/g), () => f))
      .sort();
    expect(registered).toEqual(
      Object.values(cases)
        .map((c) => c.file)
        .sort(),
    );
  });
});

describe('a dropped object never closes an fd number it no longer owns', () => {
  for (const [name, c] of Object.entries(cases)) {
    const needs =
      name === 'DmaHeap'
        ? '[needs dma-heaps]'
        : name === 'VgemFenceSource'
          ? '[needs vgem]'
          : name === 'VividCamera' || name === 'VividLoop'
            ? '[needs vivid]'
            : name === 'DrmScanout'
              ? '[needs virtio-gpu]'
              : c.needs
                ? ''
                : addonLoads
                  ? '[needs a kernel with dma-buf devices]'
                  : '[needs the native addon]';
    describe.runIf(c.needs)(`${name} ${needs}`, () => {
      it('its fd closed behind its back and the number reused: the finalizer leaves the new file open', async () => {
        let fd = -1;
        let cleanup: (() => void) | undefined;
        let opened: number[] = [];
        await (async () => {
          const made = await madeWithFd(c.make);
          fd = made.fd;
          cleanup = made.cleanup;
          closeSync(fd); // what a user's fs.closeSync(buf.fd) would do
          opened = occupy(fd);
          // `made.owner` is dropped here without close().
        })();
        await collect(8);
        expect(fileId(fd)).toBe(DEV_NULL);
        for (const f of opened) closeSync(f);
        cleanup?.();
      });

      it('closed explicitly and the number reused: a later collection leaves the new file open', async () => {
        let fd = -1;
        let opened: number[] = [];
        await (async () => {
          const made = await madeWithFd(c.make);
          fd = made.fd;
          made.owner.close();
          made.cleanup?.();
          opened = occupy(fd);
        })();
        await collect(8);
        expect(fileId(fd)).toBe(DEV_NULL);
        for (const f of opened) closeSync(f);
      });

      it('its fd closed behind its back: close() says so (EBADF) and leaves the file now at that number open', async () => {
        const made = await madeWithFd(c.make);
        closeSync(made.fd);
        const opened = occupy(made.fd);
        let error: unknown;
        try {
          made.owner.close();
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ code: 'EBADF', syscall: 'close' });
        expect((error as Error).message).toMatch(/closed behind the object that owned it/);
        expect(fileId(made.fd)).toBe(DEV_NULL);
        for (const f of opened) closeSync(f);
        made.cleanup?.();
      });
    });
  }
});

// DmaBuf.fromFd with dup: false takes the caller's fd over; the same guarantee holds for it.
describe.runIf(runKernel)('an imported buffer (DmaBuf.fromFd, dup: false) [needs a kernel with dma-buf devices]', () => {
  it('dropped after its fd was closed and reused: the new file stays open', async () => {
    let fd = -1;
    let opened: number[] = [];
    await (async () => {
      const source = kernelAllocator().allocate(4096);
      const imported = DmaBuf.fromFd(source.fd, { dup: true });
      source.close();
      fd = imported.fd;
      closeSync(fd);
      opened = occupy(fd);
    })();
    await collect(8);
    expect(fileId(fd)).toBe(DEV_NULL);
    for (const f of opened) closeSync(f);
  });
});
