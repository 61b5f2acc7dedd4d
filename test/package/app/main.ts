// A user's ES module app, compiled by the consumer suite against the installed package with
// `strict` and `skipLibCheck: false` (tsconfig.json here), then run on each Node.js major. It uses
// what the README shows: `using`, regions, frames, the channel, typed errors; it prints one JSON line.
import {
  backendInfo,
  DmaBufError,
  DmaHeap,
  type DmaBuf,
  emulation,
  FdChannel,
  Frame,
  type FrameDescription,
  type HeapKind,
  Memfd,
  region,
  type Region,
  Udmabuf,
} from 'dmabuf';

// The kernel's buffers where this machine has them (the VMs), else an emulated heap.
const real = backendInfo().backend === 'kernel';
const allocate = (size: number, name: string): DmaBuf => {
  if (!real) return emulation.create({ coherency: 'writeback' }).heap().allocate(size, { name });
  return DmaHeap.list().includes('system') ? DmaHeap.open().allocate(size, { name }) : Udmabuf.create(size, { name });
};

const report: Record<string, unknown> = { node: process.versions.node, backend: backendInfo().backend, origin: backendInfo().addon.origin };

{
  using buf = allocate(64 * 64, 'consumer-app');
  const square: Region = region.rect({ x: 8, y: 8, width: 16, height: 16, stride: 64, bytesPerPixel: 1 });
  {
    using access = buf.beginCpuAccess('write', square);
    for (const row of access.rows()) row.fill(0xa5);
  }
  const access = await buf.cpuAccess('read', square);
  let sum = 0;
  for (const row of access.rows()) for (const byte of row) sum += byte;
  access.end();
  report['regionSum'] = sum;
  report['bytesAfterEnd'] = access.bytes.length;
}

const heapKind: HeapKind | undefined = real && DmaHeap.list().includes('system') ? DmaHeap.open().kind : undefined;
report['heapKind'] = heapKind ?? null;

const frame = Frame.allocate(real ? (DmaHeap.list().includes('system') ? DmaHeap.open() : Udmabuf) : emulation.create().heap(), {
  width: 32,
  height: 16,
  format: 'NV12',
});
await frame.withCpuAccess('write', (a) => {
  for (const row of a.plane(0).rows()) row.fill(16);
  for (const row of a.plane(1).rows()) row.fill(128);
});
const description: FrameDescription = frame.describe();
report['frame'] = { format: description.formatName, planes: description.planes.length };

try {
  region.linear({ offset: 0, length: 0 });
} catch (error) {
  report['error'] = error instanceof DmaBufError ? error.code : 'not a DmaBufError';
}

if (backendInfo().addon.origin !== 'none') {
  // A kernel buffer where there is one; an emulated buffer has no fd, so a memfd goes instead.
  const [a, b] = FdChannel.pair();
  using sent = real ? allocate(4096, 'sent') : Memfd.create(4096, { name: 'sent' });
  await a.send('hello', [sent]);
  const message = await b.receive({ timeoutMs: 5000 });
  report['channel'] = { text: message.text(), buffers: message.buffers.length, fds: message.fds.length };
  for (const h of message.handles) h.close();
  a.close();
  b.close();
}
frame.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
