import { describe, expect, it } from 'vitest';
import { addonLoads, hasSystemHeap, hasUdmabuf, hasVgem, requireKernel } from '../helpers/env.js';
import { DmaHeap } from '../../lib/index.js';

// In the VM a missing device must fail the run, not skip the kernel suites.
describe.runIf(requireKernel)('real-kernel VM (DMABUF_REQUIRE_KERNEL=1): the devices the suite needs', () => {
  it('loads the native addon', () => expect(addonLoads).toBe(true));
  it('has /dev/dma_heap/system', () => expect(hasSystemHeap).toBe(true));
  it('has /dev/udmabuf', () => expect(hasUdmabuf).toBe(true));
  it('has a vgem DRM device', () => expect(hasVgem).toBe(true));
  it('lists the system heap', () => expect(DmaHeap.list()).toContain('system'));
  it('selects the kernel backend automatically', () => {
    using heap = DmaHeap.open();
    using buf = heap.allocate(4096);
    expect(buf.backend).toBe('kernel');
  });
});
