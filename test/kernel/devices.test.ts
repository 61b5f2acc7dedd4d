import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addonLoads,
  hasSystemHeap,
  hasUdmabuf,
  hasVgem,
  hasVivid,
  kernelAtLeast,
  NEEDS_HEAPS,
  NEEDS_NO_HEAPS,
  provides,
  requireKernel,
} from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { backendInfo, DmaHeap, Udmabuf } from '../../lib/index.js';
import { openVgemCard } from '../../lib/testing/vgem.js';
import { openCardOf } from '../../lib/backend/kernel/drm-kms.js';

// vgem's device: a platform device up to 6.16, a faux device (drivers/base/faux.c, bound to
// faux_driver) from 6.17 (upstream "drm/vgem/vgem_drv convert to use faux_device"); seen on 6.12
// and 7.3 in the VMs. Either way its DRM driver name is vgem, which openVgemCard asks for.
const vgemBus = kernelAtLeast(6, 17) ? 'faux' : 'platform';

// In the VM a device the profile declares must be there (a missing one fails the run instead of
// skipping suites), and one it declares absent must be absent (else the declaration would hide
// tests that could run).
describe.runIf(requireKernel)('real-kernel VM (DMABUF_REQUIRE_KERNEL=1): the devices the profile declares', () => {
  it('loads the native addon', () => expect(addonLoads).toBe(true));
  it(`has /dev/dma_heap/system exactly when the profile declares heaps (${provides.heaps})`, () => expect(hasSystemHeap).toBe(provides.heaps));
  it('has /dev/udmabuf', () => expect(hasUdmabuf).toBe(provides.udmabuf));
  it('has a vgem DRM device', () => expect(hasVgem).toBe(provides.vgem));
  it('has a vivid capture node', () => expect(hasVivid).toBe(provides.vivid));
  it(`has a virtio_gpu DRM card exactly when the profile declares virtio-gpu (${provides.virtioGpu})`, () => {
    const card = openCardOf(addon(), 'virtio_gpu');
    if (card) addon().close(card.fd);
    expect(card !== undefined).toBe(provides.virtioGpu);
  });
  it.runIf(provides.vgem)(`finds the vgem card by its driver name; its sysfs device is vgem on the ${vgemBus} bus`, () => {
    const card = openVgemCard(addon());
    addon().close(card.fd);
    const node = `/sys/class/drm/${basename(card.path)}/device`;
    expect(basename(realpathSync(node))).toBe('vgem');
    expect(basename(realpathSync(`${node}/subsystem`))).toBe(vgemBus);
  });
  it('selects the kernel backend automatically, and says why', () => {
    using buf = Udmabuf.create(1);
    expect(buf.backend).toBe('kernel');
    const info = backendInfo();
    expect(info.backend).toBe('kernel');
    expect(info.reason).toMatch(/^auto: .*present and the addon loaded/);
    expect(info.supports?.realFds).toBe(true);
  });
});

describe.runIf(requireKernel && provides.heaps)(`real-kernel VM: the system heap ${NEEDS_HEAPS}`, () => {
  it('lists the system heap', () => expect(DmaHeap.list()).toContain('system'));
  it('allocates from it on the kernel backend', () => {
    using heap = DmaHeap.open();
    using buf = heap.allocate(4096);
    expect(buf.backend).toBe('kernel');
    expect(buf.exporter).toBe('system');
  });
});

// Debian's arm64 kernels have no dma-heaps: the package must say so clearly and udmabuf must serve.
describe.runIf(requireKernel && !provides.heaps)(`real-kernel VM: a kernel without dma-heaps (the arm64 profiles) ${NEEDS_NO_HEAPS}`, () => {
  it('lists no heaps', () => expect(DmaHeap.list()).toEqual([]));
  it('opening a heap is ENOENT saying the kernel has none and what to use instead', () => {
    expect(() => DmaHeap.open('system')).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'open', message: expect.stringMatching(/no dma-heaps.*CONFIG_DMABUF_HEAPS.*Udmabuf/) }),
    );
  });
  it('the kernel backend still serves, through udmabuf', () => {
    using buf = Udmabuf.create(64 * 1024, { name: 'heapless' });
    expect(buf.backend).toBe('kernel');
    expect(buf.exporter).toBe('udmabuf');
    buf.withCpuAccess('write', undefined, (a) => a.bytes.fill(0x42));
    buf.withCpuAccess('read', undefined, (a) => expect(a.bytes.every((b) => b === 0x42)).toBe(true));
  });
});
