// Worker threads holding one buffer: buf.share() / DmaBuf.fromShared() (a dup of the fd, checked
// to be the same file), brackets from 8 threads, and a worker exiting with a bracket open.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DmaBuf, SyncFile } from '../../lib/index.js';
import { kernelAllocator, runKernel } from '../helpers/env.js';
import { dmaBufMappings, mappingsMadeSince, fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { warmUpWorkers } from '../helpers/workers.js';

const WORKER = new URL('../fixtures/shared-worker.mjs', import.meta.url);

function runWorker(workerData: object): Promise<{ done: boolean; status?: string }> {
  const worker = new Worker(WORKER, { workerData });
  return new Promise((resolve, reject) => {
    let message: { done: boolean; status?: string } | undefined;
    worker.on('message', (m) => (message = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && message ? resolve(message) : reject(new Error(`worker exited ${code}`))));
  });
}

describe.runIf(runKernel)('kernel: worker threads share buffers and sync files (needs a dma-heap or udmabuf)', () => {
  it('8 workers bracket their slots of one shared buffer; the data and the fd table check out', async () => {
    await warmUpWorkers();
    using heap = kernelAllocator();
    using buf = heap.allocate(8 * 64, { name: 'shared' });
    using fence = buf.exportSyncFile('read');
    buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(0)); // the main thread's own mapping, before the snapshot
    const fds = fdSnapshot();
    const maps = dmaBufMappings();
    const handle = buf.share();
    // The handle is plain data: it survives structured cloning as is.
    expect(structuredClone(handle)).toEqual(handle);
    const fenceHandle = fence.share();
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => runWorker({ handle, fenceHandle, index, rounds: 200, leaveOpen: false })));
    expect(results.every((r) => r.done && r.status === 'signaled')).toBe(true);
    buf.withCpuAccess('read', undefined, (a) => {
      for (let index = 0; index < 8; index++) expect(a.bytes.subarray(index * 64, index * 64 + 64).every((b) => b === index + 1)).toBe(true);
    });
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(mappingsMadeSince(maps)).toEqual([]);
  });

  it('a worker exiting with a bracket open and its holder unclosed leaves no fd and no mapping behind', async () => {
    await warmUpWorkers();
    using heap = kernelAllocator();
    using buf = heap.allocate(4096);
    buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(0));
    const fds = fdSnapshot();
    const maps = dmaBufMappings();
    await runWorker({ handle: buf.share(), index: 0, rounds: 1, leaveOpen: true });
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(mappingsMadeSince(maps)).toEqual([]);
    // The main thread's holder is unaffected.
    buf.withCpuAccess('read', undefined, (a) => expect(a.bytes[0]).toBe(1));
  });

  it("fromShared refuses a handle whose holder was closed (EBADF), a foreign process's, and junk", () => {
    using heap = kernelAllocator();
    const buf = heap.allocate(4096);
    const handle = buf.share();
    buf.close();
    expect(() => DmaBuf.fromShared(handle)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^EBADF$/) }));
    expect(() => DmaBuf.fromShared({ ...handle, pid: handle.pid + 1 })).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'handle' }));
    expect(() => DmaBuf.fromShared(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => SyncFile.fromShared(handle as never)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'handle' }));
  });
});
