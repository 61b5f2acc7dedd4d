// Frames lent over an FdChannel, on real dma-bufs: the producer's pool reuses a frame only after
// the consumer's release (or the channel's end), whoever the consumer is: this process, a Node
// child that dies holding frames, Python's standard library. Received buffers follow
// DMABUF_CHECK like every other way in; frames cross worker threads with share()/fromShared.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FdChannel, Frame, FramePool, rereadCheckedMode } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';
import { kernelAllocator, NEEDS_PYTHON, provides, runKernel } from '../helpers/env.js';
import { fixturePath } from '../helpers/fixtures.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { rounds } from '../helpers/rounds.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { activeResources, leftoverResources } from '../helpers/backends.js';

const FRAMES = rounds(1000, 200);

/** A small deterministic generator (the consumer's random holds must be the same on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

describe.runIf(runKernel)('kernel: FramePool over an FdChannel (needs a dma-heap or udmabuf)', () => {
  expectNothingLeftEachTest();

  it(`${FRAMES} frames through a pool of 3 to a consumer holding some at random: no frame changes while the consumer holds it`, async () => {
    using heap = kernelAllocator();
    using pool = FramePool.allocate(heap, {
      width: 64,
      height: 32,
      format: 'NV12',
      count: 3,
      colorSpace: { primaries: 'bt709', transfer: 'bt709', matrix: 'bt709', range: 'limited' },
      visibleRect: { x: 0, y: 0, width: 60, height: 30 },
    });
    const [producer, consumer] = FdChannel.pair();
    const random = lcg(5);
    let checked = 0;
    const consume = (async () => {
      const held: { frame: Frame; n: number }[] = [];
      const check = ({ frame, n }: { frame: Frame; n: number }) => {
        const ok = frame.withCpuAccess('read', (a) => a.plane(0).bytes.every((b) => b === (n & 0xff)) && a.plane(1).bytes.every((b) => b === (~n & 0xff)));
        expect(ok, `frame ${n} changed while the consumer held it`).toBe(true);
        checked++;
      };
      for (let i = 0; i < FRAMES; i++) {
        const { frame, extra } = Frame.fromMessage(await consumer.receive({ timeoutMs: 20_000 }));
        const n = (extra as { n: number }).n;
        expect(frame.timestamp).toBe(n * 33_333);
        expect(frame.describe()).toMatchObject({ colorSpace: { range: 'limited' }, visibleRect: { width: 60 } });
        held.push({ frame, n });
        check(held.at(-1) as { frame: Frame; n: number });
        // Hold up to two frames (the pool has three), releasing a random one of them.
        while (held.length > 2 || (held.length > 0 && random() < 0.5)) {
          const item = held.splice(Math.floor(random() * held.length), 1)[0] as { frame: Frame; n: number };
          check(item);
          item.frame.close(); // sends the release
          await new Promise((resolve) => setImmediate(resolve)); // let the producer write meanwhile
        }
      }
      for (const item of held) {
        check(item);
        item.frame.close();
      }
    })();
    for (let n = 0; n < FRAMES; n++) {
      using frame = await pool.acquire({ timeoutMs: 20_000 });
      frame.withCpuAccess('write', (a) => {
        a.plane(0).bytes.fill(n & 0xff);
        a.plane(1).bytes.fill(~n & 0xff);
      });
      frame.timestamp = n * 33_333;
      await producer.sendFrame(frame, { n });
    }
    await consume;
    expect(checked).toBeGreaterThan(FRAMES);
    // Every release arrives: all frames come back.
    await pool.acquire({ timeoutMs: 10_000 }).then((f) => f.close());
    for (let i = 0; i < 50 && pool.available < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.available).toBe(3);
    producer.close();
    consumer.close();
  });

  it('a consumer process that dies holding frames returns them: the channel closing ends its loans', async () => {
    using heap = kernelAllocator();
    using pool = FramePool.allocate(heap, { width: 32, height: 16, format: 'XRGB8888', count: 2 });
    const [mine, theirs] = FdChannel.pair();
    const child = spawn(process.execPath, [fixturePath('frame-hoarder.mjs'), '2'], { stdio: ['ignore', 'pipe', 'inherit', theirs.fd] });
    theirs.close();
    for (let i = 0; i < 2; i++) {
      using frame = await pool.acquire({ timeoutMs: 10_000 });
      await mine.sendFrame(frame);
    }
    expect(pool.available).toBe(0);
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    expect(line.toString()).toBe('holding 2\n');
    // Nothing comes free while the child holds them; once it is killed, both do.
    await expect(pool.acquire({ timeoutMs: 200 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    (await pool.acquire({ timeoutMs: 10_000 })).close();
    for (let i = 0; i < 50 && pool.available < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.available).toBe(2);
    mine.close();
  });

  it.runIf(provides.python3)(
    `a Python consumer (standard library, blocking) releases with its own JSON; its exit returns the rest ${NEEDS_PYTHON}`,
    async () => {
      using heap = kernelAllocator();
      using pool = FramePool.allocate(heap, { width: 32, height: 16, format: 'XRGB8888', count: 2 });
      const [mine, theirs] = FdChannel.pair();
      const child = spawn('python3', [fixturePath('python_frame_release.py')], { stdio: ['pipe', 'pipe', 'inherit', theirs.fd] });
      theirs.close();
      for (let i = 0; i < 2; i++) {
        using frame = await pool.acquire({ timeoutMs: 10_000 });
        await mine.sendFrame(frame);
      }
      const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
      expect(JSON.parse(line.toString()).loans).toHaveLength(2);
      // The release arrives while this process calls no receive(): the channel reads ahead for it.
      const first = await pool.acquire({ timeoutMs: 10_000 });
      expect(pool.available).toBe(0);
      first.close();
      child.stdin?.end();
      await once(child, 'exit');
      for (let i = 0; i < 100 && pool.available < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(pool.available).toBe(2);
      mine.close();
    },
  );

  it('messages other than releases wait for receive(); a receive() with a timeout is not held up by the read-ahead; nothing waits once all is released', async () => {
    using heap = kernelAllocator();
    using pool = FramePool.allocate(heap, { width: 16, height: 16, format: 'R8', count: 1 });
    const [a, b] = FdChannel.pair();
    const resources = await activeResources();
    {
      using frame = await pool.acquire();
      await a.sendFrame(frame);
    }
    // a reads ahead now (a frame is lent). b sends an ordinary message, then releases the frame.
    await b.send('hello');
    const { frame: received } = Frame.fromMessage(await b.receive({ timeoutMs: 5000 }));
    received.close();
    (await pool.acquire({ timeoutMs: 5000 })).close();
    expect((await a.receive({ timeoutMs: 5000 })).text()).toBe('hello');
    await expect(a.receive({ timeoutMs: 30 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // Nothing is lent now: no read-ahead wait is left to keep the process alive.
    expect(await leftoverResources(resources)).toEqual([]);
    a.close();
    b.close();
  });

  it('an open write bracket refuses sendFrame; a tiled frame (with a metadata plane) is sent on, and CPU access refused on both sides', async () => {
    using heap = kernelAllocator();
    using frame = Frame.allocate(heap, { width: 64, height: 32, format: 'XRGB8888' });
    const [a, b] = FdChannel.pair();
    const writing = frame.beginCpuAccess('write');
    await expect(a.sendFrame(frame)).rejects.toMatchObject({ code: 'ERR_DMABUF_BRACKET_ACTIVE' });
    writing.end();
    const buffer = frame.planes[0]?.buffer as NonNullable<(typeof frame.planes)[0]>['buffer'];
    // An AMD DCC-style layout: the main surface and a compression-metadata plane in one buffer.
    const tiled = Frame.fromPlanes({
      width: 32,
      height: 16,
      format: 'XRGB8888',
      modifier: 0x0200000000000d01n,
      planes: [
        { buffer, offset: 0, stride: 256, size: 4096 },
        { buffer, offset: 4096, stride: 64 },
      ],
    });
    await a.sendFrame(tiled);
    const { frame: received } = Frame.fromMessage(await b.receive({ timeoutMs: 5000 }));
    expect(received.modifier).toBe(0x0200000000000d01n);
    expect(received.describe().planes.map((p) => [p.offset, p.stride, p.size])).toEqual([
      [0, 256, 4096],
      [4096, 64, buffer.size - 4096],
    ]);
    for (const f of [tiled, received]) expect(thrown(() => f.beginCpuAccess('read'))).toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'modifier' });
    received.close();
    tiled.close();
    a.close();
    b.close();
  });

  it('DMABUF_CHECK=1: a received buffer and a received frame are checked, like fromFd; a bad value refuses the message and closes its fds', async () => {
    const saved = process.env['DMABUF_CHECK'];
    try {
      using heap = kernelAllocator();
      using frame = Frame.allocate(heap, { width: 16, height: 16, format: 'R8' });
      const [a, b] = FdChannel.pair();
      process.env['DMABUF_CHECK'] = '1';
      rereadCheckedMode();
      await a.sendFrame(frame);
      await a.send('buffer', [frame.planes[0]!.buffer]);
      const { frame: received } = Frame.fromMessage(await b.receive({ timeoutMs: 5000 }));
      expect(received.planes[0]?.buffer.checked).toBe(true);
      const message = await b.receive({ timeoutMs: 5000 });
      expect(message.buffers[0]?.checked).toBe(true);
      message.buffers[0]?.close();
      received.close();
      process.env['DMABUF_CHECK'] = 'yes';
      expect(() => rereadCheckedMode()).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      await a.send('buffer', [frame.planes[0]!.buffer]);
      const before = fdSnapshot();
      await expect(b.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ code: 'EINVAL', argument: 'DMABUF_CHECK' });
      expect(fdsMadeSince(before)).toEqual([]);
      a.close();
      b.close();
    } finally {
      if (saved === undefined) delete process.env['DMABUF_CHECK'];
      else process.env['DMABUF_CHECK'] = saved;
      rereadCheckedMode();
    }
  });

  it('frame.share() / Frame.fromShared: a worker reads and writes the same planes, with the metadata', async () => {
    using heap = kernelAllocator();
    using frame = Frame.allocate(heap, { width: 32, height: 16, format: 'NV12', colorSpace: { matrix: 'bt709' } });
    frame.timestamp = 1234;
    frame.withCpuAccess('write', (a) => {
      a.plane(0).bytes.fill(1);
      a.plane(1).bytes.fill(77);
    });
    const worker = new Worker(fixturePath('frame-worker.mjs'), { workerData: { handle: frame.share() } });
    const [reply] = await once(worker, 'message');
    await once(worker, 'exit');
    expect(reply).toEqual({ seen: 77, formatName: 'NV12', timestamp: 1234, colorSpace: { matrix: 'bt709' } });
    expect(frame.withCpuAccess('read', (a) => a.plane(0).bytes[0])).toBe(42);
    expect(thrown(() => Frame.fromShared({ ...frame.share(), kind: 'dmabuf.DmaBuf' } as unknown as ReturnType<Frame['share']>))).toMatchObject({
      code: 'EINVAL',
    });
  });
});
