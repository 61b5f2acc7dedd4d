// Copied into the consumer app by prepare.mjs and run there by test/package/installed.test.ts:
// what a user's program sees of the installed package. Prints one JSON object.
import { backendInfo, DmaHeap, Udmabuf, DmaBufError } from 'dmabuf';

const report = { arch: process.arch, info: backendInfo() };
try {
  // The system heap where the kernel has one, else udmabuf (the arm64 kernels have no heaps).
  const heaps = DmaHeap.list();
  const heap = heaps.includes('system') ? DmaHeap.open('system') : undefined;
  const buf = heap ? heap.allocate(64 * 1024, { name: 'consumer' }) : Udmabuf.create(64 * 1024, { name: 'consumer' });
  buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(0x5c));
  const second = (await import('dmabuf')).DmaBuf.fromFd(buf.fd);
  report.buffer = {
    backend: buf.backend,
    exporter: buf.exporter,
    size: buf.size,
    name: second.name,
    readBack: second.withCpuAccess('read', undefined, (a) => a.bytes.every((b) => b === 0x5c)),
  };
  second.close();
  buf.close();
  heap?.close();
} catch (error) {
  report.error = { code: error.code, message: error.message, isDmaBufError: error instanceof DmaBufError };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
