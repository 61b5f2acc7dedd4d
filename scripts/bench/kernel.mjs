/**
 * Figures on the kernel backend (a machine or VM with /dev/dma_heap/system and vgem): P1 bracket
 * cost, P2 zero copy, P5 fence wake-up, P6 event loop, P7 allocation; each against a C baseline
 * or a second measurement in the same run.
 */
import { Worker } from 'node:worker_threads';
import { DmaBuf, DmaHeap } from 'dmabuf';
import { VgemFenceSource } from 'dmabuf/testing';
import { calibrate, median, paired, rounder, runC, timeLoop } from './measure.mjs';
import { eventLoopGaps } from './loop.mjs';

const MiB = 1024 * 1024;
/** Where the bytes read go, so the reads are not optimised away. */
const sink = { value: 0 };
const bracket = (buf) => () => buf.beginCpuAccess('readwrite').end();
/** A bracket that reads one byte: its view over the mapping is made. */
const touchedBracket = (buf) => () => {
  const access = buf.beginCpuAccess('readwrite');
  sink.value ^= access.bytes[0];
  access.end();
};

/** The raw addon (dist/native/load.js), for the floors: the same syscalls with nothing around them. */
async function rawAddon() {
  const { loadAddon } = await import(new URL('native/load.js', import.meta.resolve('dmabuf')).href);
  return loadAddon().addon;
}

/** The floors of a bracket on `buf`, through the raw addon: SYNC START|RW + END|RW, and the same with a view made, read and detached between them. */
function floors(addon, buf) {
  const c = addon.constants;
  const { fd, size } = buf;
  const ino = addon.fstat(fd).ino;
  const start = c.DMA_BUF_SYNC_START | c.DMA_BUF_SYNC_RW;
  const end = c.DMA_BUF_SYNC_END | c.DMA_BUF_SYNC_RW;
  const mapping = new addon.Mapping(fd, size, c.PROT_READ | c.PROT_WRITE, 0, c.MAP_SHARED);
  return {
    sync: () => {
      addon.dmaBufSync(fd, start, ino);
      addon.dmaBufSync(fd, end, ino);
    },
    view: () => {
      addon.dmaBufSync(fd, start, ino);
      const view = mapping.view(0, size);
      sink.value ^= new Uint8Array(view)[0];
      mapping.detach(view);
      addon.dmaBufSync(fd, end, ino);
    },
    close: () => mapping.unmap(),
  };
}

/**
 * P1: the public bracket on a 1 MiB heap buffer against the raw addon's floor in the same
 * process: begin+end against SYNC START+END alone; a bracket that reads a byte against SYNC,
 * view, read, detach, SYNC. Then the public bracket against C's SYNC pair (reported: under a
 * software CPU JS pays far more than C).
 */
export async function p1Bracket({ rounds, targetMs, bin }) {
  const addon = await rawAddon();
  const heap = DmaHeap.open('system');
  const buf = heap.allocate(MiB);
  const floor = floors(addon, buf);
  const bare = await paired({ rounds, subject: rounder(bracket(buf), targetMs), baseline: rounder(floor.sync, targetMs) });
  const touched = await paired({ rounds, subject: rounder(touchedBracket(buf), targetMs), baseline: rounder(floor.view, targetMs) });
  const n = calibrate(bracket(buf), targetMs);
  const vsC = await paired({ rounds, subject: () => timeLoop(bracket(buf), n), baseline: () => runC(bin.sync, [MiB, n]).nsPerOp });
  floor.close();
  buf.close();
  heap.close();
  return [
    {
      id: 'P1',
      title: 'kernel bracket vs the raw addon: begin+end vs SYNC START+END, 1 MiB heap buffer',
      subject: 'beginCpuAccess(readwrite)+end()',
      baseline: 'raw addon: dmaBufSync START|RW + END|RW',
      ...bare,
      kind: 'ratio',
      goal: { op: '<=', value: 1.5 },
    },
    {
      id: 'P1',
      title: 'kernel bracket vs the raw addon, reading a byte: with the view, 1 MiB heap buffer',
      subject: 'beginCpuAccess(readwrite), bytes[0], end()',
      baseline: 'raw addon: dmaBufSync START, view, read, detach, dmaBufSync END',
      ...touched,
      kind: 'ratio',
      goal: { op: '<=', value: 1.5 },
    },
    {
      id: 'P1',
      title: 'kernel bracket vs C: begin+end vs ioctl SYNC START/END, 1 MiB heap buffer',
      subject: 'beginCpuAccess(readwrite)+end()',
      baseline: 'C: ioctl SYNC START|RW + END|RW',
      ...vsC,
      kind: 'ratio',
    },
  ];
}

/**
 * P2 (kernel): the same bracket over 64 MiB against 4 KiB, without and with reading a byte; and,
 * reported, the reading bracket over 32 MiB: V8 starts a mark-compact whenever its count of
 * external ArrayBuffer bytes grows 64 MiB past its low point since the last one, so a view of
 * 64 MiB or more pays for a collection and a smaller one does not.
 */
export async function p2Kernel({ rounds, targetMs }) {
  const heap = DmaHeap.open('system');
  const big = heap.allocate(64 * MiB);
  const half = heap.allocate(32 * MiB);
  const small = heap.allocate(4096);
  const cases = [
    ['begin+end', bracket, big, { op: '<=', value: 2 }],
    ['begin, bytes[0], end', touchedBracket, big, { op: '<=', value: 2 }],
    ['begin, bytes[0], end', touchedBracket, half, undefined],
  ];
  const figures = [];
  for (const [what, make, buf, goal] of cases) {
    const size = `${buf.size / MiB} MiB`;
    const result = await paired({ rounds, subject: rounder(make(buf), targetMs), baseline: rounder(make(small), targetMs) });
    figures.push({
      id: 'P2k',
      title: `zero copy, kernel: ${what}, ${size} vs 4 KiB heap buffer`,
      subject: `readwrite ${what}, ${size}`,
      baseline: `readwrite ${what}, 4 KiB`,
      ...result,
      kind: 'ratio',
      ...(goal ? { goal } : {}),
    });
  }
  big.close();
  half.close();
  small.close();
  heap.close();
  return figures;
}

/**
 * P7: heap.allocate(4 KiB) + close against the raw addon's ALLOC + close in the same process;
 * DmaBuf.fromFd + close against heap.allocate + close; and allocate against C (reported).
 */
export async function p7Alloc({ rounds, targetMs, bin }) {
  const addon = await rawAddon();
  const c = addon.constants;
  const heap = DmaHeap.open('system');
  const heapFd = addon.open('/dev/dma_heap/system', c.O_RDONLY);
  const source = heap.allocate(4096);
  const allocate = () => heap.allocate(4096).close();
  const raw = () => addon.close(addon.heapAlloc(heapFd, 4096, c.O_RDWR | c.O_CLOEXEC, 0));
  const importFd = () => DmaBuf.fromFd(source.fd).close();
  const vsRaw = await paired({ rounds, subject: rounder(allocate, targetMs), baseline: rounder(raw, targetMs) });
  const fromFd = await paired({ rounds, subject: rounder(importFd, targetMs), baseline: rounder(allocate, targetMs) });
  const n = calibrate(allocate, targetMs);
  const vsC = await paired({ rounds, subject: () => timeLoop(allocate, n), baseline: () => runC(bin.alloc, [4096, n]).nsPerOp });
  addon.close(heapFd);
  source.close();
  heap.close();
  return [
    {
      id: 'P7',
      title: 'allocation vs the raw addon: heap.allocate(4 KiB)+close vs heapAlloc+close',
      subject: 'DmaHeap#allocate(4096) + close()',
      baseline: 'raw addon: heapAlloc + close',
      ...vsRaw,
      kind: 'ratio',
      goal: { op: '<=', value: 1.3 },
    },
    {
      id: 'P7',
      title: 'import: DmaBuf.fromFd+close vs heap.allocate(4 KiB)+close',
      subject: 'DmaBuf.fromFd(fd) + close() (dup)',
      baseline: 'DmaHeap#allocate(4096) + close()',
      ...fromFd,
      kind: 'ratio',
      goal: { op: '<=', value: 1.5 },
    },
    {
      id: 'P7',
      title: 'allocation vs C: heap.allocate(4 KiB)+close vs ALLOC+close',
      subject: 'DmaHeap#allocate(4096) + close()',
      baseline: 'C: DMA_HEAP_IOCTL_ALLOC + close',
      ...vsC,
      kind: 'ratio',
    },
  ];
}

/**
 * P5: from VGEM_FENCE_SIGNAL (issued by a worker thread, timestamped just before the ioctl) to
 * the resolution of syncFile.wait() on the main thread, against C's poll() on a sync_file from
 * the same kind of fence. Both sides sleep `delayMs` before signalling, so the waiter is parked.
 */
export async function p5Wake({ rounds, perRound, delayMs, bin }) {
  const vgem = VgemFenceSource.open();
  const buf = vgem.createBuffer(4096);
  const sab = new SharedArrayBuffer(32);
  const ctrl = new Int32Array(sab, 0, 4); // [0] go counter, [1] fence id, [2] sleep cell, [3] stop
  const stamp = new BigInt64Array(sab, 16, 1);
  const worker = new Worker(new URL('./wake-worker.mjs', import.meta.url), {
    workerData: { sab, card: vgem.fd, delayMs, load: new URL('native/load.js', import.meta.resolve('dmabuf')).href },
  });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const once = async () => {
    const fence = vgem.attachFence(buf, 'write');
    const file = buf.exportSyncFile('read');
    const done = file.wait({ timeoutMs: 5000 });
    Atomics.store(ctrl, 1, fence.id);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    await done;
    const woke = process.hrtime.bigint();
    file.close();
    return Number(woke - Atomics.load(stamp, 0));
  };
  await once(); // warm-up
  await once();
  const result = await paired({
    rounds,
    subject: async () => {
      const samples = [];
      for (let i = 0; i < perRound; i++) samples.push(await once());
      return median(samples);
    },
    baseline: () => runC(bin.wake, [perRound, Math.round(delayMs * 1000)]).nsPerOp,
  });
  Atomics.store(ctrl, 3, 1);
  Atomics.add(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
  await new Promise((resolve) => worker.once('exit', resolve));
  buf.close();
  vgem.close();
  return {
    id: 'P5',
    title: 'wake-up: vgem fence signal → syncFile.wait() resolves, vs C poll()',
    subject: `syncFile.wait() (signal from a worker; median of ${perRound} per round)`,
    baseline: `C: poll(POLLIN) on the exported sync_file (median of ${perRound})`,
    ...result,
    kind: 'ratio',
    goal: { op: '<=', value: 3 },
  };
}

/**
 * P6 (kernel): the largest gap between ticks of a 1 ms interval while 100 waits on vgem fences
 * are pending and then all settle: the fences are signalled a third of the way into the window,
 * so the window holds the 100 wake-ups (uv_poll callbacks, promise settlement, handle and dup
 * closes). Against the largest gap of a window with nothing pending, in the same run.
 */
export async function p6Kernel({ rounds, windowMs }) {
  const vgem = VgemFenceSource.open();
  const bufs = Array.from({ length: 100 }, () => vgem.createBuffer(4096));
  // At least five windows of each kind, alternating (idle, waits, idle, …): the VM's idle loop
  // alone stalls 5–14 ms at random, so one window says little; the figure is median ÷ median.
  const result = await eventLoopGaps({
    rounds: Math.max(5, rounds),
    windowMs,
    arm: () => {
      const fences = bufs.map((buf) => vgem.attachFence(buf, 'write'));
      const files = bufs.map((buf) => buf.exportSyncFile('read'));
      const waits = files.map((f) => f.wait({ timeoutMs: 60_000 }));
      const signalled = new Promise((resolve) =>
        setTimeout(() => {
          for (const fence of fences) vgem.signal(fence);
          resolve();
        }, windowMs / 3),
      );
      return async () => {
        await signalled;
        await Promise.all(waits);
        for (const f of files) f.close();
      };
    },
  });
  for (const buf of bufs) buf.close();
  vgem.close();
  return {
    id: 'P6k',
    title: 'event loop, kernel: largest 1 ms-interval gap while 100 vgem fence waits pend and settle, vs idle',
    subject: '100 × syncFile.wait(), all fences signalled inside the window (median of the windows)',
    baseline: 'no waits pending (median of the idle windows between them)',
    ...result,
    kind: 'ratio',
    goal: { op: '<=', value: 2 },
  };
}

/**
 * P9: the price of checked mode (DMABUF_CHECK=1): a bracket on a checked buffer against the same
 * bracket on an unchecked one, on a 1600×1200 RGBA frame: a whole-frame read bracket (its span is
 * copied at START and compared at END) and a 10×10 readwrite region (its span, 10 rows of stride,
 * is copied for the gaps). A debug mode's cost, reported without a goal.
 */
export async function p9Checked({ rounds, targetMs }) {
  const { region } = await import('dmabuf');
  const heap = DmaHeap.open('system');
  const stride = 1600 * 4;
  const size = stride * 1200;
  const plain = heap.allocate(size, { checked: false });
  const checked = heap.allocate(size, { checked: true });
  const square = region.rect({ x: 795, y: 595, width: 10, height: 10, stride, bytesPerPixel: 4 });
  const cases = [
    ['whole frame, read', (buf) => () => buf.beginCpuAccess('read').end()],
    ['10×10 region, readwrite', (buf) => () => buf.beginCpuAccess('readwrite', square).end()],
  ];
  const figures = [];
  for (const [what, make] of cases) {
    const n = calibrate(make(checked), targetMs);
    const result = await paired({
      rounds,
      subject: () => timeLoop(make(checked), n),
      baseline: () => timeLoop(make(plain), n),
    });
    figures.push({
      id: 'P9',
      title: `checked mode: ${what} bracket, checked vs unchecked, 1600×1200 RGBA`,
      subject: `checked: true, ${what}`,
      baseline: `checked: false, ${what}`,
      ...result,
      kind: 'ratio',
    });
  }
  plain.close();
  checked.close();
  heap.close();
  return figures;
}
