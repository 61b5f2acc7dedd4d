// P10's Node consumer (scripts/bench/gst-pipeline.mjs starts it): the end of
// Node → `unixfdsrc ! identity ! unixfdsink` → here. It connects with UnixFdSrc to the middle
// pipeline's unixfdsink (the abstract name in argv[2]); per buffer it takes the Frame, copies the
// 64×64 luma square the producer stamped out under a read bracket, checks it, and releases the
// buffer (RELEASE_BUFFER to the middle, which releases the producer's frame in turn).
// Control on stdin/stdout, one line each way: "<n>" asks for n buffers; the answer is JSON with
// this process's CPU time over those n (process.cpuUsage: getrusage, every thread) and what the
// checks found. A stamp is the frame's number (little-endian u32 in the square's first 4 bytes),
// so a lost, repeated or reordered frame shows; the rest of the square must be the image's.
import { createInterface } from 'node:readline';
import { region, UnixFdSrc } from 'dmabuf';
import { SIDE, X, Y } from './frame-geometry.mjs';
import { expectedSquare } from './gst-pipeline.mjs';

const name = process.argv[2];
if (!name) throw new Error('usage: gst-pipeline-consumer.mjs <abstract socket name>');

/** The middle's unixfdsink binds when its pipeline starts: retry until it listens. */
async function connect() {
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      return await UnixFdSrc.connect(`\0${name}`);
    } catch (error) {
      if (Date.now() > deadline || (error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const src = await connect();
const expected = expectedSquare();
const expectedTail = expected.subarray(4);
const copy = new Uint8Array(SIDE * SIDE);
let next = 0;
let received = 0;
const problems = [];

async function consume(n) {
  for (let i = 0; i < n; i++) {
    const buffer = await src.receive(); // no timer per frame: the producer's round has the time limit
    const { frame } = buffer;
    if (!frame) {
      buffer.release();
      throw new Error(`buffer ${next} came without a Frame (caps ${buffer.caps}, ${buffer.memories.length} memories)`);
    }
    const luma = frame.planes[0];
    const square = region.rect({ x: X, y: Y, width: SIDE, height: SIDE, stride: luma.stride, bytesPerPixel: 1, offset: luma.offset });
    // The synchronous bracket: a CPU-only heap buffer has no device fences, and SYNC START waits for any itself.
    const access = luma.buffer.beginCpuAccess('read', square);
    let row = 0;
    for (const bytes of access.rows()) copy.set(bytes, SIDE * row++);
    access.end();
    buffer.release();
    received++;
    const stamp = (copy[0] | (copy[1] << 8) | (copy[2] << 16) | (copy[3] << 24)) >>> 0;
    if (stamp !== next) {
      if (problems.length < 5) problems.push(`frame ${next} arrived stamped ${stamp}`);
    } else if (problems.length < 5 && Buffer.compare(copy.subarray(4), expectedTail) !== 0) {
      // A memcmp, so the check costs next to nothing of the CPU time measured here.
      const k = copy.findIndex((byte, at) => at >= 4 && byte !== expected[at]);
      problems.push(`frame ${next}: square byte ${k} is ${copy[k]}, the image's is ${expected[k]}`);
    }
    next = stamp + 1;
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line);
  const before = process.cpuUsage();
  await consume(n);
  // The last release goes out from a promise chain: let it leave inside the window.
  await new Promise((resolve) => setImmediate(resolve));
  const used = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system, sysUs: used.system, received, held: src.held, problems })}\n`);
}
// stdin closed: the run is over. The middle sends EOS when the producer closes; this side just hangs up.
src.close();
