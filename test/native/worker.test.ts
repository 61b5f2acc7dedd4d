// Env cleanup: when a worker thread's environment goes away, everything the addon made there is
// unmapped and closed, pending PollWaiters included, without crashing the process.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { isLinux } from '../helpers/env.js';
import { addonPath } from '../helpers/addon.js';
import { fdTarget, memfdMappings } from '../helpers/proc.js';
import { makeFifoPath } from '../helpers/fifo.js';

interface Report {
  memfd: number;
  memfdTarget: string;
  name: string;
  fifoFd: number;
  dups: number[];
  viewLength: number;
}

// Runs inside the worker (CommonJS eval). Everything it creates is left open on purpose.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { readdirSync, readlinkSync } = require('node:fs');
const a = require(workerData.addonPath);
class NativeError extends Error {
  constructor(code, message, details) { super(message); this.code = code; Object.assign(this, details); }
}
a.init(NativeError);
const c = a.constants;
const memfd = a.memfdCreate(workerData.name, 0);
a.ftruncate(memfd, 4 * c.PAGE_SIZE);
const mapping = new a.Mapping(memfd, 4 * c.PAGE_SIZE, c.PROT_READ | c.PROT_WRITE, 0);
globalThis.view = new Uint8Array(mapping.view(0, c.PAGE_SIZE));
globalThis.view.fill(1);
globalThis.mapping = mapping;
const fifoFd = a.open(workerData.fifo, c.O_RDWR);
const targets = () => readdirSync('/proc/self/fd').filter((fd) => {
  try { return readlinkSync('/proc/self/fd/' + fd) === workerData.fifo; } catch { return false; }
}).map(Number);
const before = targets();
globalThis.waiters = [];
for (let i = 0; i < workerData.waiters; i++) {
  const w = new a.PollWaiter(fifoFd, c.POLLIN, workerData.timeoutMs);
  w.promise.then((r) => parentPort.postMessage({ settled: r }));
  globalThis.waiters.push(w);
}
const dups = targets().filter((fd) => !before.includes(fd));
parentPort.postMessage({
  memfd, memfdTarget: readlinkSync('/proc/self/fd/' + memfd), name: workerData.name, fifoFd, dups,
  viewLength: globalThis.view.length,
});
if (workerData.exit) process.exit(0);
// Stay alive until the main thread has looked at our fds and mapping, then end normally.
parentPort.once('message', () => parentPort.close());
`;

async function runWorker(options: {
  waiters: number;
  timeoutMs?: number;
  exit?: boolean;
  terminate?: boolean;
}): Promise<{ report: Report; code: number; settled: number[] }> {
  const name = `worker-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fifo = makeFifoPath();
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { addonPath: addonPath(), name, fifo, waiters: options.waiters, timeoutMs: options.timeoutMs ?? -1, exit: options.exit ?? false },
  });
  const settled: number[] = [];
  let report: Report | undefined;
  const exited = new Promise<number>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
  await new Promise<void>((resolve) => {
    worker.on('message', (message: Report | { settled: number }) => {
      if ('settled' in message) {
        settled.push(message.settled);
      } else {
        report = message;
        resolve();
      }
    });
  });
  if (!report) throw new Error('no report from the worker');
  // While the worker lives, its fds and mapping are there (fds and mappings are process-wide).
  if (!options.exit) {
    expect(fdTarget(report.memfd)).toBe(report.memfdTarget);
    expect(memfdMappings(name).length).toBe(1);
  }
  if (options.terminate) await worker.terminate();
  else worker.postMessage('finish');
  const code = await exited;
  return { report, code, settled };
}

function expectReleased(report: Report, fifo: string | undefined = undefined): void {
  expect(report.viewLength).toBeGreaterThan(0);
  expect(fdTarget(report.memfd)).not.toBe(report.memfdTarget);
  expect(memfdMappings(report.name)).toEqual([]);
  for (const fd of [report.fifoFd, ...report.dups]) {
    const target = fdTarget(fd);
    if (fifo !== undefined) expect(target).not.toBe(fifo);
    expect(target === undefined || !target.includes('dmabuf-native-')).toBe(true);
  }
}

describe.runIf(isLinux)('native env cleanup in worker threads (Linux only: the addon builds only there)', () => {
  it('a worker that ends normally leaves no fd and no mapping behind', async () => {
    const { report, code } = await runWorker({ waiters: 0 });
    expect(code).toBe(0);
    expect(report.dups).toEqual([]);
    expectReleased(report);
  });

  it('a worker that calls process.exit() with pending PollWaiters releases them', async () => {
    const { report, code, settled } = await runWorker({ waiters: 3, exit: true });
    expect(code).toBe(0);
    expect(report.dups.length).toBe(3);
    expect(settled).toEqual([]);
    expectReleased(report);
  });

  it('a worker terminated from outside with pending PollWaiters (with timeouts) releases them', async () => {
    const { report, settled } = await runWorker({ waiters: 2, timeoutMs: 60_000, terminate: true });
    expect(report.dups.length).toBe(2);
    expect(settled).toEqual([]);
    expectReleased(report);
  });

  it('many workers in a row keep the main thread sound', async () => {
    for (let i = 0; i < 5; i++) {
      const { report } = await runWorker({ waiters: 1, terminate: true });
      expectReleased(report);
    }
  });
});
