/**
 * Memfd: an anonymous shared-memory file (memfd_create), the backing udmabuf needs. Node cannot
 * make one itself; Udmabuf.fromSegments takes ranges of these (Udmabuf.create makes its own).
 */
import { inspect } from 'node:util';
import type { MemfdHandle } from './backend/backend.js';
import { getKernelBackend } from './backend/kernel/index.js';
import { checkToken, Owned } from './lifecycle.js';
import { checkInteger, checkName, checkOptions } from './validate.js';

const SYSCALL = 'memfd_create';

const token = Symbol('Memfd');

export class Memfd {
  readonly #owned: Owned<MemfdHandle>;

  /** Not public: use Memfd.create(). */
  private constructor(t: symbol, handle: MemfdHandle) {
    checkToken(t, token, 'Memfd', 'Memfd.create()');
    this.#owned = new Owned(this, 'Memfd', handle);
  }

  /**
   * A memfd of `size` bytes, zero-filled, created with MFD_ALLOW_SEALING and close-on-exec.
   * `name` (at most 249 bytes) shows in /proc/<pid>/fd as "memfd:<name>". Needs the native addon (Linux).
   */
  static create(size: number, options?: { name?: string }): Memfd {
    checkInteger(SYSCALL, 'size', size, 1);
    const name = checkOptions(SYSCALL, options, ['name'])['name'] ?? 'dmabuf-memfd';
    checkName(SYSCALL, name, 249);
    // A memfd is real wherever the addon loads, dma-buf devices or not (and whatever DMABUF_BACKEND says).
    return new Memfd(token, getKernelBackend().createMemfd(size, name as string));
  }

  get fd(): number {
    return this.#owned.live('fd').fd;
  }

  get size(): number {
    return this.#owned.live('size').size;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Seal against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW): udmabuf pins the pages and requires it. */
  seal(): void {
    this.#owned.live('fcntl').seal();
  }

  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd, size: h.size }));
  }
}
