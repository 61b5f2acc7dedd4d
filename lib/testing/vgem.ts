/**
 * A real fence source for integration tests, built on vgem (the kernel's virtual GEM driver, the
 * one the kernel selftests and IGT use): it exports real dma-bufs and attaches real dma_fences
 * that userspace signals. vgem fences auto-signal after 10 s (VGEM_FENCE_TIMEOUT), because the
 * kernel allows no indefinite fences; signalling an expired fence fails with ETIMEDOUT.
 */
import { readdirSync } from 'node:fs';
import { inspect } from 'node:util';
import { DmaBuf } from '../dmabuf.js';
import { DmaBufError, fsError, invalidArgument } from '../common/errors.js';
import { vgemOps, type VgemOps } from '../backend/kernel/vgem.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkFenceMode, checkInteger, type FenceMode } from '../validate.js';

export interface VgemFence {
  readonly id: number;
  readonly mode: FenceMode;
}

/** Find the DRM card node whose driver is vgem (DRM_IOCTL_VERSION name "vgem"); `dmabuf doctor` looks with it too. */
export function openVgemCard(addon: VgemOps): { fd: number; path: string } {
  let names: string[] = [];
  try {
    names = readdirSync('/dev/dri').filter((n) => n.startsWith('card') || n.startsWith('renderD'));
  } catch (error) {
    // No DRM at all: reported below. Anything else (EMFILE, EACCES) is an error of its own.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'opendir', '/dev/dri');
  }
  for (const name of names.sort()) {
    let fd: number;
    try {
      fd = addon.open(`/dev/dri/${name}`, addon.constants.O_RDWR);
    } catch {
      continue;
    }
    try {
      if (addon.drmDriverName(fd) === 'vgem') return { fd, path: `/dev/dri/${name}` };
    } catch {
      // Not a DRM node we can query: try the next one.
    }
    addon.close(fd);
  }
  throw new DmaBufError('ENODEV', 'no vgem DRM device: load the vgem module (modprobe vgem, CONFIG_DRM_VGEM)', { syscall: 'open' });
}

const openToken = Symbol('VgemFenceSource.open');

export class VgemFenceSource {
  readonly #addon: VgemOps;
  readonly #owned: Owned<{ readonly fd: number; close(): void }>;
  /** GEM handles of buffers this source knows, by dma-buf inode. */
  readonly #handles = new Map<number, number>();

  private constructor(token: symbol, addon: VgemOps, fd: number) {
    checkToken(token, openToken, 'VgemFenceSource', 'VgemFenceSource.open()');
    this.#addon = addon;
    this.#owned = new Owned(this, 'VgemFenceSource', { fd, close: () => addon.close(fd) });
  }

  /** Open the vgem device. Fails with ENODEV where vgem is missing. */
  static open(): VgemFenceSource {
    const addon = vgemOps();
    return new VgemFenceSource(openToken, addon, openVgemCard(addon).fd);
  }

  #live(operation: string): number {
    return this.#owned.live(operation).fd;
  }

  /** The vgem DRM device fd: fences are per open file, so another thread signalling them needs this fd. */
  get fd(): number {
    return this.#live('fd');
  }

  /** A vgem dumb buffer of at least `size` bytes, exported with PRIME as a dma-buf (exporter 'vgem'). */
  createBuffer(size: number): DmaBuf {
    this.#live('createBuffer');
    checkInteger('DRM_IOCTL_MODE_CREATE_DUMB', 'size', size, 1);
    return this.createDumb(4096, Math.ceil(size / 4096), 8).buffer;
  }

  /**
   * A dumb buffer of width × height pixels of `bpp` bits (DRM_IOCTL_MODE_CREATE_DUMB), exported as
   * a dma-buf, with the pitch the driver chose: what a real DRM exporter hands a frame consumer.
   */
  createDumb(width: number, height: number, bpp: number): { buffer: DmaBuf; pitch: number } {
    const card = this.#live('createDumb');
    const syscall = 'DRM_IOCTL_MODE_CREATE_DUMB';
    checkInteger(syscall, 'width', width, 1, 1 << 16);
    checkInteger(syscall, 'height', height, 1, 1 << 16);
    checkInteger(syscall, 'bpp', bpp, 1, 128);
    const a = this.#addon;
    const dumb = a.drmCreateDumb(card, width, height, bpp);
    let fd: number;
    try {
      fd = a.drmPrimeHandleToFd(card, dumb.handle, a.constants.DRM_CLOEXEC | a.constants.DRM_RDWR);
    } catch (error) {
      a.drmGemClose(card, dumb.handle);
      throw error;
    }
    const buf = DmaBuf.fromFd(fd, { dup: false });
    this.#handles.set(a.fstat(buf.fd).ino, dumb.handle);
    return { buffer: buf, pitch: dumb.pitch };
  }

  /** The GEM handle for `buf`, importing it into vgem with PRIME if it came from elsewhere (a heap, udmabuf). */
  #handleFor(card: number, buf: DmaBuf): number {
    const a = this.#addon;
    const ino = a.fstat(buf.fd).ino;
    let handle = this.#handles.get(ino);
    if (handle === undefined) {
      handle = a.drmPrimeFdToHandle(card, buf.fd);
      this.#handles.set(ino, handle);
    }
    return handle;
  }

  /**
   * Attach an unsignalled fence to `buf`'s reservation object as a reader or writer
   * (VGEM_FENCE_ATTACH). Fails with EBUSY if a conflicting fence is pending.
   */
  attachFence(buf: DmaBuf, mode: FenceMode): VgemFence {
    const card = this.#live('attachFence');
    if (!(buf instanceof DmaBuf) || !buf.supports.realFds) throw invalidArgument('DRM_IOCTL_VGEM_FENCE_ATTACH', 'buf', 'must be a kernel DmaBuf');
    const checked = checkFenceMode('DRM_IOCTL_VGEM_FENCE_ATTACH', mode);
    const flags = checked === 'write' ? this.#addon.constants.VGEM_FENCE_WRITE : 0;
    return { id: this.#addon.vgemFenceAttach(card, this.#handleFor(card, buf), flags), mode: checked };
  }

  /** Signal a fence (VGEM_FENCE_SIGNAL). ETIMEDOUT if it already expired, ENOENT if already signalled. */
  signal(fence: VgemFence): void {
    this.#addon.vgemFenceSignal(this.#live('signal'), fence.id);
  }

  /** Close the vgem device; buffers stay valid, pending fences expire on their own. Idempotent. */
  close(): void {
    this.#owned.close(() => this.#handles.clear());
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd }));
  }
}
