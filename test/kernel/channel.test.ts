// FdChannel with real dma-bufs and sync files, across processes: a second Node process, and an
// independent implementation (Python's standard library: socket.recv_fds/send_fds and mmap).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DmaBuf, DmaBufError, FdChannel, Memfd, SyncFile, Udmabuf } from '../../lib/index.js';
import { kernelAllocator, NEEDS_PYTHON, PAGE, provides, runKernel, vmSlowdown } from '../helpers/env.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { fixturePath } from '../helpers/fixtures.js';
import { rounds } from '../helpers/rounds.js';

function collectStdout(child: ReturnType<typeof spawn>): Promise<string> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += String(d)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`peer exited ${code}: ${out}`))));
  });
}

describe.runIf(runKernel)('kernel: FdChannel carries dma-bufs and sync files between processes (needs a dma-heap or udmabuf)', () => {
  it('two Node processes exchange heap/udmabuf buffers and sync files; 10,000 messages (2,000 on arm64, 500 in CI) leave both fd tables as they were', async () => {
    const [mine, theirs] = FdChannel.pair();
    const child = spawn(process.execPath, [fixturePath('channel-peer.mjs')], { stdio: ['ignore', 'pipe', 'inherit', theirs.fd] });
    theirs.close();
    const done = collectStdout(child);
    using heap = kernelAllocator();
    using first = heap.allocate(PAGE, { name: 'channel-a' });
    using second = Udmabuf.create(PAGE, { name: 'channel-b' });
    const fds = fdSnapshot();
    // 10,000 round trips; 2,000 under the arm64 profiles' slower software CPU (DMABUF_VM_SLOWDOWN);
    // 500 in CI (test/helpers/rounds.ts).
    const ROUNDS = rounds(vmSlowdown > 1 ? 2_000 : 10_000, 500);
    for (let n = 0; n < ROUNDS; n++) {
      const buf = n % 2 === 0 ? first : second;
      buf.withCpuAccess('write', undefined, (a) => (a.bytes[0] = n & 0xff));
      await mine.send(JSON.stringify({ n, fill: (n + 1) & 0xff }), [buf]);
      const reply = await mine.receive({ timeoutMs: 30_000 });
      const [back] = reply.buffers;
      const [fence] = reply.syncFiles;
      expect(JSON.parse(reply.text())).toEqual({ n, sawIt: true });
      expect(back?.exporter).toBe(buf.exporter);
      expect(fence).toBeInstanceOf(SyncFile);
      // The same buffer came back: what the peer wrote is what this holder reads.
      if (n % 1000 === 0) {
        expect(back?.name).toBe(buf.name);
        await fence!.wait({ timeoutMs: 1000 });
        buf.withCpuAccess('read', undefined, (a) => expect(a.bytes[0]).toBe((n + 1) & 0xff));
      }
      for (const h of reply.handles) h.close();
    }
    expect(fdsMadeSince(fds)).toEqual([]);
    await mine.send(JSON.stringify({ done: true }));
    const report = JSON.parse((await done).trim().split('\n').at(-1) as string);
    expect(report.count).toBe(ROUNDS);
    expect(report.endFds).toBe(report.startFds); // nothing the peer received stayed open
    mine.close();
  }, 600_000);

  it.runIf(provides.python3)(`a Python standard-library peer maps what Node wrote, sends fds back, and a hostile one is survived ${NEEDS_PYTHON}`, async () => {
    const fds = fdSnapshot();
    {
      const [mine, theirs] = FdChannel.pair();
      const child = spawn('python3', [fixturePath('python_peer.py')], { stdio: ['ignore', 'pipe', 'inherit', theirs.fd] });
      theirs.close();
      const done = collectStdout(child);
      using heap = kernelAllocator();
      using buf = heap.allocate(PAGE, { name: 'to-python' });
      buf.withCpuAccess('write', undefined, (a) => a.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]));
      using fence = buf.exportSyncFile('read');
      await mine.send(JSON.stringify({ size: buf.size }), [buf, fence]);

      const answer = await mine.receive({ timeoutMs: 30_000 });
      expect(JSON.parse(answer.text())).toEqual({ first: [1, 2, 3, 4, 5, 6, 7, 8] });
      expect(answer.handles.map((h) => h.constructor.name)).toEqual(['DmaBuf', 'SyncFile', 'OwnedFd']);
      const [back] = answer.buffers;
      expect(back?.name).toBe('to-python');
      back!.withCpuAccess('read', undefined, (a) => expect([...a.bytes.subarray(0, 4)]).toEqual([1, 2, 3, 4]));
      expect(answer.syncFiles[0]?.status).toBe('signaled');
      expect(answer.fds[0]?.kind).toMatch(/^\/tmp\/|\(deleted\)|^\//);
      for (const h of answer.handles) h.close();

      // Garbage bytes are just bytes; the 254-fd message never left Python (EINVAL there).
      expect([...(await mine.receive({ timeoutMs: 30_000 })).data]).toEqual([0, 0xff, ...new TextEncoder().encode(' garbage '), 0xfe]);
      expect(JSON.parse((await mine.receive({ timeoutMs: 30_000 })).text())).toEqual({ refused: 22 });
      // Ten fds against room for two: refused, and the two that arrived are closed.
      const error = await mine.receive({ timeoutMs: 30_000, maxFds: 2 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DmaBufError);
      expect(error).toMatchObject({ code: 'ERR_DMABUF_FDS_TRUNCATED' });
      // Then Python hangs up.
      expect(await mine.receive({ timeoutMs: 30_000 }).catch((e: DmaBufError) => e.code)).toBe('ERR_DMABUF_CHANNEL_CLOSED');
      await done;
      mine.close();
    }
    // Every holder above is closed (the block's `using`s): nothing is left on either side.
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('a received dma-buf is a DmaBuf, a sync_file a SyncFile, a memfd an OwnedFd; Memfd backs Udmabuf.fromSegments', async () => {
    const [a, b] = FdChannel.pair();
    using memfd = Memfd.create(2 * PAGE, { name: 'segments' });
    memfd.seal();
    using fromMemfd = Udmabuf.fromSegments(
      [
        { memfd, offset: 0, size: PAGE },
        { memfd: memfd.fd, offset: PAGE, size: PAGE },
      ],
      { name: 'from-memfd' },
    );
    expect(fromMemfd.size).toBe(2 * PAGE);
    using fence = fromMemfd.exportSyncFile('write');
    await a.send('typed', [fromMemfd, fence, memfd]);
    const message = await b.receive({ timeoutMs: 10_000 });
    expect(message.buffers[0]).toBeInstanceOf(DmaBuf);
    expect(message.buffers[0]?.name).toBe('from-memfd');
    expect(message.syncFiles[0]).toBeInstanceOf(SyncFile);
    expect(message.fds[0]?.kind).toMatch(/memfd:segments/);
    // SyncFile.fromFd / DmaBuf.fromFd refuse each other's fds before any typed ioctl.
    expect(() => SyncFile.fromFd(fromMemfd.fd)).toThrow(expect.objectContaining({ code: 'EBADFD' }));
    expect(() => SyncFile.fromFd(memfd.fd)).toThrow(expect.objectContaining({ code: 'EBADFD' }));
    expect(() => DmaBuf.fromFd(fence.fd)).toThrow(expect.objectContaining({ code: 'EBADFD' }));
    for (const h of message.handles) h.close();
    a.close();
    b.close();
  });

  it('the frame-transport example runs as the README says: producer and consumer processes on a FramePool, frames reused only after release', async () => {
    const producer = spawn(process.execPath, [new URL('../../examples/frame-producer.mjs', import.meta.url).pathname, '--frames', '20'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out = await collectStdout(producer);
    expect(out).toMatch(/consumer connected \(pid \d+\); sending 20 frames of 320×240 over a pool of 3/);
    // The consumer holds one frame at a time and the pool has 3: the producer waits for releases.
    expect(out).toMatch(/producer: the pool waited for a release \d+ times; 3 of 3 frames back; the consumer checked 20 frames, 0 bad; consumer exit 0/);
  });

  it('an emulated buffer cannot be sent: ERR_DMABUF_UNSUPPORTED before any syscall', async () => {
    const { emulation } = await import('../../lib/index.js');
    using heap = emulation.create().heap();
    using buf = heap.allocate(4096);
    const [a, b] = FdChannel.pair();
    await expect(a.send('x', [buf])).rejects.toMatchObject({ code: 'ERR_DMABUF_UNSUPPORTED', argument: 'handles[0]' });
    a.close();
    b.close();
  });
});
