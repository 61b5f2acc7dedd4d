/**
 * Memfd: an anonymous shared-memory file (memfd_create), the backing udmabuf needs. Node cannot
 * make one itself; Udmabuf.fromSegments takes ranges of these (Udmabuf.create makes its own).
 */
import { inspect } from 'node:util';
import { closedError } from './common/errors.js';
import { inspectObject } from './inspect.js';
import type { MemfdHandle } from './backend/backend.js';
import { getKernelBackend } from './backend/kernel/index.js';
import { closeOnCollect, closedExplicitly } from './lifecycle.js';
import { checkInteger, checkName, checkOptions } from './validate.js';

const SYSCALL = 'memfd_create';

export class Memfd {
  #handle: MemfdHandle | undefined;

  private constructor(handle: MemfdHandle) {
    this.#handle = handle;
    closeOnCollect(this, handle);
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
    return new Memfd(getKernelBackend().createMemfd(size, name as string));
  }

  #live(operation: string): MemfdHandle {
    if (!this.#handle) throw closedError('Memfd', operation);
    return this.#handle;
  }

  get fd(): number {
    return this.#live('fd').fd;
  }

  get size(): number {
    return this.#live('size').size;
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** Seal against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW): udmabuf pins the pages and requires it. */
  seal(): void {
    this.#live('fcntl').seal();
  }

  close(): void {
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = undefined;
    closedExplicitly(this);
    handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    const h = this.#handle;
    return inspectObject('Memfd', h ? { fd: h.fd, size: h.size } : { closed: true }, depth, options);
  }
}
