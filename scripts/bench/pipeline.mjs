/**
 * P11: a frame pipeline between two processes, the way a user runs one. A FramePool of 4 NV12
 * 1920×1080 frames (system heap); per frame the producer acquires a frame, writes a 64×64 luma
 * region under a write bracket and sends the frame (FdChannel#sendFrame, which lends it); the
 * consumer (pipeline-consumer.mjs) rebuilds it (Frame.fromMessage), copies the region out under a
 * read bracket and closes the frame, which sends the release. Measured: CPU time per frame of both
 * processes together, and frames per second, against a C pair (c/pipeline.c) making the same
 * syscalls in the same run; reported: against a C pair making only the syscalls the work needs.
 *
 *   node scripts/bench/pipeline.mjs [frames] [rounds]   rounds of `frames` frames (default 2000,
 *                      1), each printed: for strace and --cpu-prof (the consumer gets this
 *                      process's node flags), and to see whether a long run slows down
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { COUNT, HEIGHT, SIDE, WIDTH, X, Y } from './frame-geometry.mjs';
import { formatNs, median, runC } from './measure.mjs';

async function produce(dmabuf, pool, channel, n) {
  const { region } = dmabuf;
  for (let i = 0; i < n; i++) {
    const frame = await pool.acquire();
    const luma = frame.planes[0];
    const square = region.rect({ x: X, y: Y, width: SIDE, height: SIDE, stride: luma.stride, bytesPerPixel: 1, offset: luma.offset });
    // Synchronous: nothing but the CPU touches a heap frame here, and SYNC START waits for fences itself.
    const access = luma.buffer.beginCpuAccess('write', square);
    for (const row of access.rows()) row.fill(i & 0xff);
    access.end();
    await channel.sendFrame(frame);
    frame.close(); // the producer's hold ends; the loan holds the frame until the release
  }
  // The round ends when every frame is back: the consumer has released the last one.
  const back = [];
  for (let k = 0; k < COUNT; k++) back.push(await pool.acquire());
  for (const frame of back) frame.close();
}

/** The producer side of a run: the pool, the channel and the consumer process; `round(n)` measures n frames. */
export async function startPipeline() {
  process.env.DMABUF_BACKEND ??= 'kernel';
  const dmabuf = await import('dmabuf');
  const heap = dmabuf.DmaHeap.open('system');
  const pool = dmabuf.FramePool.allocate(heap, { width: WIDTH, height: HEIGHT, format: 'NV12', count: COUNT });
  const [mine, theirs] = dmabuf.FdChannel.pair();
  const consumer = fileURLToPath(new URL('./pipeline-consumer.mjs', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, consumer], { stdio: ['pipe', 'pipe', 'inherit', theirs.fd] });
  theirs.close();
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    /** n frames through the pipeline: wall ns per frame, CPU ns per frame of both processes, the frame message's size. */
    async round(n) {
      child.stdin.write(`${n} ${X} ${Y}\n`);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await produce(dmabuf, pool, mine, n);
      const wallNs = ((performance.now() - t0) * 1e6) / n;
      const cpu = process.cpuUsage(cpu0);
      const reply = await Promise.race([replies.next(), exited.then((how) => ({ exited: how }))]);
      if (reply.exited !== undefined || reply.done) throw new Error(`the P11 consumer exited (${reply.exited ?? 'stdout closed'})`);
      const theirs = JSON.parse(reply.value);
      if (theirs.wrong) throw new Error(`the P11 consumer saw ${theirs.wrong} frames whose region was not one value`);
      const producerNs = ((cpu.user + cpu.system) * 1e3) / n;
      const consumerNs = (theirs.cpuUs * 1e3) / n;
      return { wallNs, cpuNs: producerNs + consumerNs, producerNs, consumerNs, messageBytes: theirs.messageBytes };
    },
    async close() {
      child.stdin.end();
      await exited;
      mine.close();
      pool.close();
      heap.close();
    },
  };
}

const fps = (wallNs) => `${(1e9 / wallNs).toFixed(0)} frames/s`;

/**
 * The figure: `rounds` paired rounds of `frames` frames, Node then C, after a warm-up round of
 * Node of at least 1,000 frames (the JIT settles: under the VM's software CPU rounds of 200
 * frames after 200 cost 30–40 ms each, rounds of 1,000 after 1,000 about 24 ms) and a warm-up
 * inside each C run. The ratio is CPU time per frame, both processes.
 */
export async function p11Pipeline({ rounds, frames, bin }) {
  const pipeline = await startPipeline();
  const warm = await pipeline.round(Math.max(1000, frames));
  const release = JSON.stringify({ type: 'dmabuf.frame-release', loan: 1000 }).length;
  const c = (mirror) => () => runC(bin.pipeline, [frames, Math.round(frames / 10) + COUNT, warm.messageBytes, release, mirror ? 1 : 0]);
  const node = [];
  const same = [];
  const minimal = [];
  try {
    for (let r = 0; r < rounds; r++) {
      node.push(await pipeline.round(frames));
      same.push(c(true)());
      minimal.push(c(false)());
    }
  } finally {
    await pipeline.close();
  }
  const figure = (baselines) => {
    const ratios = node.map((s, i) => s.cpuNs / baselines[i].nsPerOp);
    return {
      subjectNs: median(node.map((s) => s.cpuNs)),
      baselineNs: median(baselines.map((b) => b.nsPerOp)),
      ratio: median(ratios),
      rounds,
      subjectSamples: node,
      baselineSamples: baselines,
    };
  };
  const nodeText = () => {
    const wall = median(node.map((s) => s.wallNs));
    const producer = median(node.map((s) => s.producerNs));
    const consumer = median(node.map((s) => s.consumerNs));
    return `FramePool → sendFrame → Frame.fromMessage, 64×64 region brackets, ${frames} frames per round: ${fps(wall)}, CPU per frame producer ${formatNs(producer)} + consumer ${formatNs(consumer)} (${warm.messageBytes}-byte frame message)`;
  };
  const cText = (baselines, what) =>
    `C ${what}: ${fps(median(baselines.map((b) => b.wallNsPerOp)))}, CPU per frame producer ${formatNs(median(baselines.map((b) => b.producerNs)))} + consumer ${formatNs(median(baselines.map((b) => b.consumerNs)))}`;
  return [
    {
      id: 'P11',
      title: 'frame pipeline: CPU per frame, 2 processes, 4 pooled NV12 1080p frames, vs C making the same syscalls',
      subject: nodeText(),
      baseline: cText(same, "pair making the same syscalls (non-blocking recvmsg, the PollWaiter's, the received fd's checks)"),
      ...figure(same),
      kind: 'ratio',
      goal: { op: '<=', value: 1.5 },
    },
    {
      id: 'P11',
      title: 'frame pipeline: CPU per frame, vs C making only the syscalls the work needs',
      subject: nodeText(),
      baseline: cText(minimal, 'pair, blocking recvmsg, no fd typing'),
      ...figure(minimal),
      kind: 'ratio',
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const frames = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 1);
  const pipeline = await startPipeline();
  for (let i = 0; i < rounds; i++) {
    const r = await pipeline.round(frames);
    process.stdout.write(`${JSON.stringify({ frames, fps: Math.round(1e9 / r.wallNs), ...r })}\n`);
  }
  await pipeline.close();
}
