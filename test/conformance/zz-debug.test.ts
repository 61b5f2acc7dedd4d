import { it } from 'vitest';
import { DmaHeap } from '../../lib/index.js';
import { VgemFenceSource } from '../../lib/testing/index.js';
import { fdTargets } from '../helpers/env.js';

const fds = (label: string) => console.log(label, fdTargets().filter((t) => /dmabuf|sync_file|dri|heap/.test(t)).join(', '));

it('debug', async () => {
  fds('start');
  const heap = DmaHeap.open('system');
  const buf = heap.allocate(4096);
  fds('alloc');
  const vgem = VgemFenceSource.open();
  const fence = vgem.attachFence(buf, 'write');
  fds('attached');
  const during = buf.exportSyncFile('read');
  fds('exported');
  await during.wait({ timeoutMs: 30 }).catch((e) => console.log('wait', e.code));
  fds('after timed-out wait');
  await buf.waitIdle('read', { timeoutMs: 30 }).catch((e) => console.log('waitIdle', e.code));
  fds('after timed-out waitIdle');
  vgem.signal(fence);
  await during.wait({ timeoutMs: 2000 });
  fds('after resolved wait');
  await buf.waitIdle('read', { timeoutMs: 2000 });
  fds('after resolved waitIdle');
  during.close();
  fds('sync closed');
  vgem.close();
  fds('vgem closed');
  buf.close();
  heap.close();
  fds('all closed');
  (globalThis as any).gc?.();
  await new Promise((r) => setTimeout(r, 50));
  fds('after gc');
  buf.setName('x');
}, 60000);
