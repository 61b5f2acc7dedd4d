#!/usr/bin/env node
// The consumer half of examples/frame-producer.mjs: connects to PATH, and for each frame checks
// the pixels under a read bracket, holds the frame a little (as a display would until the next
// vblank), and closes it, which sends the release the producer's pool waits for.
//   node examples/frame-consumer.mjs PATH
import { FdChannel, Frame } from 'dmabuf';

const channel = await FdChannel.connect(process.argv[2]);
let checked = 0;
let bad = 0;
let shown; // the frame "on screen": released when the next one replaces it
for await (const message of channel) {
  if (message.buffers.length === 0 && JSON.parse(message.text()).end) break;
  const { frame, extra } = Frame.fromMessage(message);
  const { n } = extra;
  const x = n % (frame.width - 10);
  const y = n % (frame.height - 10);
  const stride = frame.planes[0].stride;
  // The last pixel holds the frame number (the square never reaches it); the square's centre is white.
  const ok = frame.withCpuAccess('read', (a) => {
    const bytes = a.plane(0).bytes;
    return bytes[bytes.length - 1] === (n & 0xff) && bytes[(y + 5) * stride + (x + 5) * 4] === 0xff && frame.timestamp === n * 33_333;
  });
  if (ok) checked++;
  else bad++;
  shown?.close();
  shown = frame;
}
shown?.close();
await channel.send(JSON.stringify({ checked, bad }));
channel.close();
