#!/usr/bin/env node
// The consumer half of examples/frame-producer.mjs: connects to PATH, and for each frame brackets
// the received dma-buf for reading, checks the pixels, closes its holder and sends a release.
//   node examples/frame-consumer.mjs PATH
import { FdChannel, region } from 'dmabuf';

const channel = await FdChannel.connect(process.argv[2]);
let checked = 0;
let bad = 0;
for await (const message of channel) {
  const meta = JSON.parse(message.text());
  if (meta.end) break;
  const [buf] = message.buffers;
  const { frame, width, height, stride } = meta;
  const x = frame % (width - 10);
  const y = frame % (height - 10);
  // The last pixel holds the frame number (the square never reaches it); the square's centre is white.
  const ok = buf.withCpuAccess('read', undefined, (a) => a.bytes[a.bytes.length - 1] === (frame & 0xff) && a.bytes[(y + 5) * stride + (x + 5) * 4] === 0xff);
  // Read one row of the square through a 2D region too: only the declared rows are handed out.
  const row = buf.withCpuAccess('read', region.rect({ x, y, width: 10, height: 1, stride, bytesPerPixel: 4 }), (a) => a.bytes.every((b) => b === 0xff));
  if (ok && row) checked++;
  else bad++;
  buf.close();
  await channel.send(JSON.stringify({ release: meta.buffer }));
}
await channel.send(JSON.stringify({ checked, bad }));
channel.close();
