/** DmaHeap: a dma-heap (/dev/dma_heap/<name> on the kernel backend) to allocate buffers from. */
import { closeOnCollect, closedExplicitly, nameOrClose } from './lifecycle.js';
import { closedError, invalidArgument, invalidType } from './errors.js';
import type { HeapHandle } from './backend/backend.js';
import { selectedBackend } from './backend/select.js';
import { DmaBuf } from './dmabuf.js';
import { checkInteger, checkName, checkOptions } from './validate.js';

const ALLOC = 'DMA_HEAP_IOCTL_ALLOC';


const wrapToken = Symbol('DmaHeap.wrap');

export class DmaHeap {
  #handle: HeapHandle | undefined;

  /** Not public: use DmaHeap.open() or an emulation's heap(). */
  private constructor(token: symbol, handle: HeapHandle) {
    if (token !== wrapToken) throw new TypeError('DmaHeap cannot be constructed directly; use DmaHeap.open()');
    this.#handle = handle;
    closeOnCollect(this, handle);
  }

  /** @internal */
  static _wrap(handle: HeapHandle): DmaHeap {
    return new DmaHeap(wrapToken, handle);
  }

  /** The heaps this system offers (the entries of /dev/dma_heap), e.g. ['system']. */
  static list(): string[] {
    return selectedBackend().listHeaps();
  }

  /**
   * Open a heap by name (default 'system'). The device is opened read-only: ALLOC needs no write
   * access. /dev/dma_heap/* is root-only unless a udev rule grants it: EACCES says so.
   */
  static open(name = 'system'): DmaHeap {
    if (typeof name !== 'string') throw invalidType('open', 'name', 'a heap name', name);
    if (name === '' || name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
      throw invalidArgument('open', 'name', `'${name}' is not a heap name (see DmaHeap.list())`);
    }
    return DmaHeap._wrap(selectedBackend().openHeap(name));
  }

  #live(operation: string): HeapHandle {
    if (!this.#handle) throw closedError('DmaHeap', operation);
    return this.#handle;
  }

  get name(): string {
    return this.#live('name').name;
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /**
   * Allocate `size` bytes (rounded up to the page size by the kernel; buf.size says the real size).
   * The memory is zeroed. With `name`, the buffer is named at once (DMA_BUF_SET_NAME); if that
   * fails, nothing is left behind.
   */
  allocate(size: number, options?: { name?: string }): DmaBuf {
    const handle = this.#live(ALLOC);
    checkInteger(ALLOC, 'size', size, 1);
    const name = checkOptions(ALLOC, options)['name'];
    if (name !== undefined) checkName('DMA_BUF_SET_NAME', name);
    return DmaBuf._wrap(nameOrClose(handle.allocate(size), name as string | undefined));
  }

  /** Close the heap device. Buffers already allocated stay valid. Idempotent. */
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
}
