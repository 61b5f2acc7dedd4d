// A real foreign exporter: CUDA device memory exported as a dma-buf by the NVIDIA open driver
// (exp_name nv_dmabuf), imported with DmaBuf.fromFd. Run by test/gpu/run.sh on a GPU machine,
// where there is no npm: plain node:assert, and a closing "N passed, N failed" line.
import assert from 'node:assert/strict';
import { DmaBuf, DmaBufError } from '../../dist/index.js';
import { requireAddon } from '../../dist/native/load.js';

const fd = Number(process.env.DMABUF_FD);
const size = Number(process.env.DMABUF_SIZE);
let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok  ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}\n     ${error?.stack ?? error}`);
  }
}

const buf = DmaBuf.fromFd(fd);
await check('fromFd accepts it: a dma-buf from nv_dmabuf of the exported size', () => {
  assert.equal(buf.exporter, 'nv_dmabuf');
  assert.equal(buf.size, size);
  assert.equal(buf.backend, 'kernel');
});
await check('a bracket fails with a clear ENOTSUPP error (no CPU mmap), leaving no START behind', () => {
  assert.throws(
    () => buf.beginCpuAccess('read'),
    (e) => e instanceof DmaBufError && e.code === 'ENOTSUPP' && e.errno === 524 && e.syscall === 'mmap' && /does not support CPU mmap/.test(e.message),
  );
  assert.throws(
    () => buf.beginCpuAccess('write'),
    (e) => e.code === 'ENOTSUPP',
  );
});
await check('SYNC START/END themselves work on it (only mmap is refused)', () => {
  const addon = requireAddon();
  const c = addon.constants;
  for (const bits of [c.DMA_BUF_SYNC_READ, c.DMA_BUF_SYNC_WRITE, c.DMA_BUF_SYNC_RW]) {
    addon.dmaBufSync(buf.fd, c.DMA_BUF_SYNC_START | bits);
    addon.dmaBufSync(buf.fd, c.DMA_BUF_SYNC_END | bits);
  }
  assert.throws(
    () => addon.dmaBufSync(buf.fd, 0),
    (e) => e.code === 'EINVAL',
  );
});
await check('setName works on it', () => {
  buf.setName('cuda-buffer');
  assert.equal(buf.name, 'cuda-buffer');
});
await check('export, wait, merge and import of its fences work', async () => {
  const read = buf.exportSyncFile('read');
  const all = buf.exportSyncFile('readwrite');
  await read.wait({ timeoutMs: 5000 });
  assert.equal(read.status, 'signaled');
  const merged = read.merge(all, 'both');
  await merged.wait({ timeoutMs: 5000 });
  buf.importSyncFile(merged, 'read');
  await buf.waitIdle('readwrite', { timeoutMs: 5000 });
  for (const f of [read, all, merged]) f.close();
});
await check('a second holder via fromFd, and close leaves its fd closed', () => {
  const second = DmaBuf.fromFd(buf.fd);
  const secondFd = second.fd;
  second.close();
  assert.throws(
    () => DmaBuf.fromFd(secondFd),
    (e) => e.code === 'EBADF',
  );
});
buf.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
