/**
 * P10: Node → GStreamer → Node, against GStreamer → GStreamer → GStreamer: three processes each,
 * NV12 1920×1080 frames, the middle the same `gst-launch-1.0 unixfdsrc ! identity ! unixfdsink`
 * (GStreamer 1.26 from the cached Debian 13 root: scripts/gst/root.mjs).
 *
 * Node's chain: this process produces (a FramePool of 4 frames from the system heap, strideAlign 4
 * for GStreamer 1.26's default layout; per frame it copies a whole prepared NV12 image of 75 %
 * colour bars into the frame under a write bracket, stamps the frame's number into a 64×64 luma
 * square, and UnixFdSink#send()s it: one DMABUF memory spanning both planes, one fd), the middle
 * forwards the dma-bufs, and gst-pipeline-consumer.mjs (UnixFdSrc) copies the square out under a
 * read bracket, checks the stamp and the image, and releases the buffer. GStreamer's chain:
 * `videotestsrc pattern=smpte75` (a static pattern: videotestsrc draws it once and copies the
 * whole frame into every buffer, the same work as the Node producer's copy; unixfdsink offers its
 * memfd allocator, so the buffers are memfds, one per frame, and nothing more is copied) → the
 * same middle → `unixfdsrc ! fakesink` (which maps nothing: GStreamer's cheapest end, where
 * Node's maps the buffer and reads a square).
 *
 * The baseline keeps the middle (the issue's "videotestsrc ! unixfdsink → unixfdsrc ! fakesink",
 * with the same middle process between), so both chains are the same three processes and the
 * same two socket hops; without it GStreamer's chain would have a process and a hop fewer than
 * Node's. The middle's cost is in both totals; the second figure compares the ends alone.
 *
 * CPU time, every thread of every process: Node's over a window of `frames` frames after a
 * warm-up (process.cpuUsage, as P11); the middle of Node's chain from /proc/<pid>/stat at the
 * window's edges, where the chain is idle (every frame back in the pool, the consumer done:
 * nothing moves, so the read races nothing; 10 ms ticks). GStreamer's processes run a fixed
 * number of buffers and exit: wait4() in c/cputime.c charges each, and a run of `short` (100)
 * buffers is subtracted from a run of `short + gstFrames` in the same round, so start-up (plugin
 * loading), negotiation, the pool's first buffers and teardown cancel and what is left is the
 * steady state.
 *
 * Checked on the way, failing the run: every frame reaches the Node consumer once and in order
 * (its stamp), with the image's bytes; every frame comes back to the pool each round (no
 * deadlock: a round has a time limit); each process exits 0 (GStreamer's at EOS); the consumer
 * holds nothing; no fd of this process is left open.
 *
 *   node scripts/bench/gst-pipeline.mjs [frames] [rounds] [warm]   standalone (default 1000 1 2000), as root where a
 *                      heap is (in the VM: `node scripts/vm/run.mjs -- node scripts/bench/gst-pipeline.mjs 250 4`):
 *                      every round printed; the meter is bench-results/bin/cputime, which run.mjs
 *                      compiles (any `npm run bench` on Linux)
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gstCommand, gstRootPath } from '../gst/root.mjs';
import { COUNT, HEIGHT, SIDE, WIDTH, X, Y } from './frame-geometry.mjs';
import { formatNs, median } from './measure.mjs';

const CAPS = `video/x-raw,format=NV12,width=${WIDTH},height=${HEIGHT},framerate=30/1`;
/**
 * Every sink: no clock (sync=false: buffers go on as fast as they come) and no last sample
 * (a basesink keeps a ref on the last buffer it rendered for its `last-sample` property, so the
 * middle would hold the producer's last frame until the next one came: a round that waits for all
 * of a pool of 4 to come back would never end).
 */
const SINK = 'sync=false enable-last-sample=false';
const MIDDLE = (from, to) =>
  `unixfdsrc socket-path=${from} socket-type=abstract ! identity ! unixfdsink socket-path=${to} socket-type=abstract wait-for-connection=true ${SINK}`;

/** 75 % colour bars (BT.601, limited range): luma and the interleaved CbCr of each of 8 bars. */
const BARS = [
  [180, 128, 128],
  [162, 44, 142],
  [131, 156, 44],
  [112, 72, 58],
  [84, 184, 198],
  [65, 100, 212],
  [35, 212, 114],
  [16, 128, 128],
];

/** The image the Node producer copies into every frame: GStreamer's default NV12 layout (stride = width). */
export function makeImage() {
  const luma = new Uint8Array(WIDTH * HEIGHT);
  const chroma = new Uint8Array(WIDTH * (HEIGHT / 2));
  const bar = (x) => BARS[Math.floor((x * BARS.length) / WIDTH)];
  for (let x = 0; x < WIDTH; x++) luma[x] = bar(x)[0];
  for (let x = 0; x < WIDTH; x += 2) [chroma[x], chroma[x + 1]] = bar(x).slice(1);
  for (let y = 1; y < HEIGHT; y++) luma.copyWithin(y * WIDTH, 0, WIDTH);
  for (let y = 1; y < HEIGHT / 2; y++) chroma.copyWithin(y * WIDTH, 0, WIDTH);
  return { luma, chroma };
}

/** The square as the consumer must find it, less the 4 stamp bytes. */
export function expectedSquare() {
  const { luma } = makeImage();
  const square = new Uint8Array(SIDE * SIDE);
  for (let r = 0; r < SIDE; r++) square.set(luma.subarray((Y + r) * WIDTH + X, (Y + r) * WIDTH + X + SIDE), r * SIDE);
  return square;
}

/** CPU time (ns) the kernel has charged to a live process, all its threads: utime + stime, and stime, in clock ticks. */
function procCpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), counted after the command name (field 2): indexes 11 and 12. USER_HZ is 100 on Linux.
  const [user, system] = [Number(fields[11]) * 1e7, Number(fields[12]) * 1e7];
  return { cpuNs: user + system, sysNs: system };
}

/** Resolves once an abstract unix socket `name` listens (its /proc/net/unix line has __SO_ACCEPTCON). */
async function listening(name, until, what) {
  for (;;) {
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[7] === `@${name}` && f[3] === '00010000') return;
    }
    if (Date.now() > until) throw new Error(`P10: ${what} did not listen on @${name} in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** This process's open fds and what each is (the listing's own fd, gone by the readlink, is left out). */
function openFds() {
  const fds = new Map();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed since the listing
    }
  }
  return fds;
}

let unique = 0;
const socketName = (what) => `dmabuf-p10-${process.pid}-${unique++}-${what}`;

/** gst-launch-1.0 with a pipeline, optionally under the cputime meter. Resolves with its exit, output and (metered) CPU. */
function launch(root, pipeline, meter) {
  const c = gstCommand(root, 'gst-launch-1.0', ['-q', ...pipeline.split(' ')]);
  const [file, args] = meter ? [meter, [c.file, ...c.args]] : [c.file, c.args];
  // Its own process group, so a failed run is killed whole (the meter and gst-launch under it).
  const child = spawn(file, args, { env: c.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const done = new Promise((resolve) => {
    child.on('error', (error) => resolve({ code: -1, output: `${output}${error.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? signal, output }));
  }).then((r) => {
    if (!meter || r.code !== 0) return r;
    const lines = r.output.trim().split('\n');
    const m = JSON.parse(lines.at(-1));
    return { ...r, output: lines.slice(0, -1).join('\n'), cpuNs: (m.userUs + m.systemUs) * 1e3, sysNs: m.systemUs * 1e3 };
  });
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { child, done, kill, output: () => output };
}

/** Rejects with `what` when `promise` has not settled within `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`P10: ${what} took over ${ms / 1000} s (a deadlock?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * GStreamer's chain once: `frames` buffers from videotestsrc through the middle to fakesink, each
 * process under the meter. Its CPU time per process (ns) and the wall time from the first start
 * to the last exit.
 */
export async function gstChain(root, meter, frames, limitMs) {
  const a = socketName('gst-a');
  const b = socketName('gst-b');
  const until = Date.now() + limitMs;
  const t0 = performance.now();
  const producer = launch(
    root,
    `videotestsrc num-buffers=${frames} pattern=smpte75 ! ${CAPS} ! unixfdsink socket-path=${a} socket-type=abstract wait-for-connection=true ${SINK}`,
    meter,
  );
  const started = [producer];
  try {
    await listening(a, until, 'videotestsrc ! unixfdsink');
    started.push(launch(root, MIDDLE(a, b), meter));
    await listening(b, until, 'the middle pipeline');
    started.push(launch(root, `unixfdsrc socket-path=${b} socket-type=abstract ! fakesink ${SINK}`, meter));
    const results = await within(Promise.all(started.map((p) => p.done)), Math.max(1, until - Date.now()), `GStreamer's chain of ${frames} frames`);
    const wallNs = (performance.now() - t0) * 1e6;
    for (const [i, r] of results.entries()) {
      if (r.code !== 0) throw new Error(`P10: GStreamer's ${['producer', 'middle', 'consumer'][i]} exited ${r.code}: ${r.output.trim()}`);
    }
    const [producer, middle, consumer] = results;
    return {
      wallNs,
      producerNs: producer.cpuNs,
      middleNs: middle.cpuNs,
      consumerNs: consumer.cpuNs,
      producerSysNs: producer.sysNs,
      middleSysNs: middle.sysNs,
      consumerSysNs: consumer.sysNs,
    };
  } finally {
    for (const p of started) p.kill();
  }
}

/** Node's chain: the producer here, the middle and the Node consumer started once; `round(n)` measures n frames. */
export async function startNodeChain(root) {
  process.env.DMABUF_BACKEND ??= 'kernel';
  const dmabuf = await import('dmabuf');
  const a = socketName('node-a');
  const b = socketName('node-b');
  const { luma, chroma } = makeImage();
  const heap = dmabuf.DmaHeap.open('system');
  const pool = dmabuf.FramePool.allocate(heap, { width: WIDTH, height: HEIGHT, format: 'NV12', count: COUNT, strideAlign: 4 });
  const sink = dmabuf.UnixFdSink.listen(`\0${a}`, { waitForConnection: true, framerate: '30/1' });
  const middle = launch(root, MIDDLE(a, b));
  const consumerScript = fileURLToPath(new URL('./gst-pipeline-consumer.mjs', import.meta.url));
  const consumer = spawn(process.execPath, [...process.execArgv, consumerScript, b], { stdio: ['pipe', 'pipe', 'inherit'] });
  const consumerExit = new Promise((resolve) => consumer.once('exit', (code, signal) => resolve(code ?? signal)));
  const replies = createInterface({ input: consumer.stdout })[Symbol.asyncIterator]();
  let stamp = 0;

  async function produce(n) {
    for (let i = 0; i < n; i++) {
      const frame = await pool.acquire();
      const number = stamp++;
      frame.withCpuAccess('write', (access) => {
        const y = access.plane(0).bytes;
        y.set(luma);
        access.plane(1).bytes.set(chroma);
        const at = Y * WIDTH + X;
        y[at] = number & 0xff;
        y[at + 1] = (number >>> 8) & 0xff;
        y[at + 2] = (number >>> 16) & 0xff;
        y[at + 3] = number >>> 24;
      });
      const clients = await sink.send(frame);
      pool.release(frame); // back in the pool once the middle has released it too
      if (clients !== 1) throw new Error(`P10: frame ${number} went to ${clients} clients, not the middle alone`);
    }
    // The round ends when every frame is back: the middle has released the last one, after the consumer released it.
    const back = [];
    for (let k = 0; k < COUNT; k++) back.push(await pool.acquire());
    for (const frame of back) pool.release(frame);
  }

  return {
    /** n frames: wall ns per frame, CPU ns per frame of each process. */
    async round(n, limitMs) {
      consumer.stdin.write(`${n}\n`);
      const middle0 = procCpu(middle.child.pid);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const failed = Promise.race([
        consumerExit.then((how) => {
          throw new Error(`P10: the Node consumer exited (${how})`);
        }),
        middle.done.then((r) => {
          throw new Error(`P10: the middle pipeline exited (${r.code}): ${r.output.trim()}`);
        }),
      ]);
      try {
        await within(Promise.race([produce(n), failed]), limitMs, `Node's chain of ${n} frames`);
      } catch (error) {
        error.message += ` (frame ${stamp} of this run being sent; the middle said: ${middle.output().trim().slice(-2000) || 'nothing'})`;
        throw error;
      }
      const wallNs = ((performance.now() - t0) * 1e6) / n;
      const cpu = process.cpuUsage(cpu0);
      const reply = await within(Promise.race([replies.next(), failed]), limitMs, "the Node consumer's report");
      if (reply.done) throw new Error('P10: the Node consumer closed its stdout');
      const theirs = JSON.parse(reply.value);
      const middle1 = procCpu(middle.child.pid);
      if (theirs.problems.length) throw new Error(`P10: the Node consumer found: ${theirs.problems.join('; ')}`);
      if (theirs.received !== stamp) throw new Error(`P10: ${stamp} frames sent, the consumer got ${theirs.received}`);
      if (theirs.held !== 0) throw new Error(`P10: the consumer still holds ${theirs.held} buffers`);
      if (sink.clients !== 1) throw new Error(`P10: the sink has ${sink.clients} clients`);
      return {
        wallNs,
        producerNs: ((cpu.user + cpu.system) * 1e3) / n,
        middleNs: (middle1.cpuNs - middle0.cpuNs) / n,
        consumerNs: (theirs.cpuUs * 1e3) / n,
        producerSysNs: (cpu.system * 1e3) / n,
        middleSysNs: (middle1.sysNs - middle0.sysNs) / n,
        consumerSysNs: (theirs.sysUs * 1e3) / n,
      };
    },
    /** Everything closed and every process gone, each having exited cleanly. */
    async close() {
      try {
        consumer.stdin.end();
        const consumerCode = await within(consumerExit, 60000, 'the Node consumer exiting');
        sink.close(); // EOS: the middle's unixfdsrc ends and gst-launch exits
        const middleResult = await within(middle.done, 60000, 'the middle pipeline exiting at EOS');
        if (consumerCode !== 0) throw new Error(`P10: the Node consumer exited ${consumerCode}`);
        if (middleResult.code !== 0) throw new Error(`P10: the middle pipeline exited ${middleResult.code}: ${middleResult.output.trim()}`);
      } finally {
        consumer.kill('SIGKILL');
        middle.kill();
        sink.close();
        pool.close();
        heap.close();
      }
    },
  };
}

/** The first gst-launch of a VM boot builds the plugin registry (slow under the software CPU): not in any round. */
async function warmRegistry(root) {
  const t0 = Date.now();
  const r = await launch(root, 'fakesrc num-buffers=1 ! identity ! fakesink').done;
  if (r.code !== 0) throw new Error(`P10: gst-launch-1.0 does not run (${r.code}): ${r.output.trim()}`);
  return Date.now() - t0;
}

const fps = (wallNs) => `${(1e9 / wallNs).toFixed(wallNs > 1e8 ? 1 : 0)} frames/s`;
const sum = (r) => r.producerNs + r.middleNs + r.consumerNs;
const ends = (r) => r.producerNs + r.consumerNs;

/**
 * The figure: `rounds` rounds, each `frames` frames through Node's chain then GStreamer's chain
 * run twice, `short` and `short + gstFrames` buffers (C: its first buffers only fill
 * videotestsrc's pool; the more buffers the longer run has, the less the start-up's variation
 * from run to run weighs: in the VM ±20 % of the per-frame figure with 400);
 * Node's chain after a warm-up of `warm` frames (the JIT settles: in the VM, Node's CPU per frame
 * still fell by a fifth from rounds of 1,000 frames after 1,000 to rounds after 4,000, and by a
 * tenth after 2,000). Reported per process and per chain; the ratio is CPU per frame of the whole
 * chain, Node's over GStreamer's, round by round.
 */
export async function p10GstPipeline({ rounds, frames, gstFrames = frames, warm, short = 100, bin, log = () => {} }) {
  const root = gstRootPath();
  if (!root) throw new Error('P10 needs the GStreamer root: npm run gst:prepare');
  const registryMs = await warmRegistry(root);
  log(`registry and first gst-launch: ${(registryMs / 1000).toFixed(1)} s`);
  // Generous: a deadlock fails the run in minutes, a slow software CPU does not.
  const limitMs = 120000 + Math.max(frames, gstFrames) * 500;
  const fdsBefore = openFds();
  const chain = await startNodeChain(root);
  const node = [];
  const gst = [];
  try {
    const t0 = Date.now();
    await chain.round(warm, limitMs);
    log(`Node warm-up, ${warm} frames: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (let r = 0; r < rounds; r++) {
      const t1 = Date.now();
      node.push(await chain.round(frames, limitMs));
      const t2 = Date.now();
      const less = await gstChain(root, bin.cputime, short, limitMs);
      const more = await gstChain(root, bin.cputime, short + gstFrames, limitMs);
      gst.push({ ...Object.fromEntries(Object.keys(more).map((k) => [k, (more[k] - less[k]) / gstFrames])), runs: [less, more] });
      log(`round ${r + 1}: Node ${((t2 - t1) / 1000).toFixed(1)} s, GStreamer ${((Date.now() - t2) / 1000).toFixed(1)} s`);
    }
  } finally {
    await chain.close();
  }
  const leaked = [...openFds()].filter(([fd, what]) => fdsBefore.get(fd) !== what);
  if (leaked.length) throw new Error(`P10: fds left open after the run: ${leaked.map(([fd, what]) => `${fd} → ${what}`).join(', ')}`);
  const text = (runs) => {
    const m = (k) => formatNs(median(runs.map((s) => s[k])));
    const each = (p) => `${p} ${m(`${p}Ns`)} (kernel ${m(`${p}SysNs`)})`;
    return `${fps(median(runs.map((s) => s.wallNs)))}, CPU per frame ${formatNs(median(runs.map(sum)))}: ${each('producer')} + ${each('middle')} + ${each('consumer')}`;
  };
  const figure = (measure) => ({
    subjectNs: median(node.map(measure)),
    baselineNs: median(gst.map(measure)),
    ratio: median(node.map((s, i) => measure(s) / measure(gst[i]))),
    rounds,
    subjectSamples: node,
    baselineSamples: gst,
  });
  const counts = `${rounds} rounds of ${frames} frames after ${warm} frames' warm-up (GStreamer's chain: a run of ${short + gstFrames} buffers less a run of ${short})`;
  const nodeText = `Node: FramePool (4, system heap) + whole-frame copy of an image under a write bracket + UnixFdSink → gst-launch unixfdsrc ! identity ! unixfdsink → UnixFdSrc, 64×64 read bracket; ${counts}: ${text(node)}`;
  const gstText = `gst-launch videotestsrc pattern=smpte75 (static: a whole-frame copy per buffer) ! unixfdsink (memfds) → the same middle → unixfdsrc ! fakesink: ${text(gst)}`;
  return [
    {
      id: 'P10',
      title: 'GStreamer pipeline: CPU per frame, Node → unixfdsrc ! identity ! unixfdsink → Node vs GStreamer feeding and draining the same middle, NV12 1080p',
      subject: nodeText,
      baseline: gstText,
      ...figure(sum),
      kind: 'ratio',
      goal: { op: '<=', value: 1.5 },
    },
    {
      id: 'P10',
      title: "GStreamer pipeline: CPU per frame of the ends alone, Node's producer + consumer vs videotestsrc + fakesink",
      subject: `Node's producer + consumer: ${formatNs(median(node.map(ends)))} a frame`,
      baseline: `videotestsrc + fakesink processes: ${formatNs(median(gst.map(ends)))} a frame`,
      ...figure(ends),
      kind: 'ratio',
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const frames = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 1);
  const warm = Number(process.argv[4] ?? 2000);
  const meter = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench-results', 'bin', 'cputime');
  if (!existsSync(meter)) throw new Error(`no ${meter}: any \`npm run bench\` on Linux compiles it`);
  const figures = await p10GstPipeline({
    rounds,
    frames,
    warm,
    bin: { cputime: meter },
    log: (s) => process.stderr.write(`[P10] ${s}\n`),
  });
  const [chain] = figures;
  for (const [i, node] of chain.subjectSamples.entries()) {
    process.stdout.write(`${JSON.stringify({ round: i + 1, node, gst: chain.baselineSamples[i] })}\n`);
  }
  for (const f of figures) process.stdout.write(`${JSON.stringify({ title: f.title, ratio: f.ratio, subject: f.subject, baseline: f.baseline })}\n`);
}
