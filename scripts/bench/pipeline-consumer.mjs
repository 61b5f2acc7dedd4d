// P11's consumer process (scripts/bench/pipeline.mjs starts it): frames arrive on the FdChannel at
// fd 3; each is rebuilt with Frame.fromMessage, the 64×64 luma region the producer wrote is copied
// out under a read bracket, and the frame is closed, which unmaps and closes its buffer and sends
// the release its producer's pool waits for.
// Control on stdin/stdout, one line each way: "<n> <x> <y>" asks for n frames with the region at
// (x, y); the answer is JSON with this process's CPU time over those n frames (process.cpuUsage:
// the same getrusage the C baseline reads) and the frame message's size, which the C pair copies.
import { createInterface } from 'node:readline';
import { FdChannel, Frame, region } from 'dmabuf';
import { SIDE } from './frame-geometry.mjs';

const channel = FdChannel.fromFd(3, { dup: false });
const copy = new Uint8Array(SIDE * SIDE);
let messageBytes = 0;
let wrong = 0;

async function consume(n, x, y) {
  for (let i = 0; i < n; i++) {
    const message = await channel.receive();
    messageBytes = message.data.length;
    const { frame } = Frame.fromMessage(message);
    const luma = frame.planes[0];
    const square = region.rect({ x, y, width: SIDE, height: SIDE, stride: luma.stride, bytesPerPixel: 1, offset: luma.offset });
    // The synchronous bracket: a CPU-only heap buffer has no device fences to wait for, and SYNC
    // START waits for any itself; cpuAccess() would add a poll wait on the loop per bracket.
    const access = luma.buffer.beginCpuAccess('read', square);
    let row = 0;
    for (const bytes of access.rows()) copy.set(bytes, SIDE * row++);
    access.end();
    // The producer filled the square with one value: a torn or stale frame shows as two.
    if (copy[0] !== copy[copy.length - 1]) wrong++;
    frame.close();
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const [n, x, y] = line.split(' ').map(Number);
  const before = process.cpuUsage();
  await consume(n, x, y);
  // The last release is sent from a promise chain: let it go out inside the window.
  await new Promise((resolve) => setImmediate(resolve));
  const used = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system, messageBytes, wrong })}\n`);
}
channel.close();
