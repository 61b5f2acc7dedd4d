/** DmaHeap: a dma-heap (/dev/dma_heap/<name> on the kernel backend) to allocate buffers from. */
import { checkToken, Owned, setUpOptions, setUpOrClose } from './lifecycle.js';
import { invalidArgument, invalidType } from './common/errors.js';
import { inspect } from 'node:util';
import type { Backend, BufferHandle, HeapHandle } from './backend/backend.js';
import { selectedBackend } from './backend/select.js';
import { debug } from './common/debug.js';
import { DmaBuf } from './dmabuf.js';
import { DmaBufError } from './common/errors.js';
import { CMA_ALIAS, CMA_HEAP_NAMES, heapKind, isHeapName, resolveHeapName, type HeapKind } from './common/heap-kind.js';
import { type HeapDetails, probeHeap } from './heap-probe.js';
import { checkInteger, checkOptions } from './validate.js';

export type { HeapDetails } from './heap-probe.js';
export type { HeapKind } from './common/heap-kind.js';

const ALLOC = 'DMA_HEAP_IOCTL_ALLOC';

const wrapToken = Symbol('DmaHeap.wrap');

export class DmaHeap {
  readonly #owned: Owned<HeapHandle>;
  readonly #kind: HeapKind;
  readonly #emulated: boolean;

  /** Not public: use DmaHeap.open() or an emulation's heap(). */
  private constructor(token: symbol, handle: HeapHandle, kind: HeapKind, emulated: boolean) {
    checkToken(token, wrapToken, 'DmaHeap', 'DmaHeap.open()');
    this.#owned = new Owned(this, 'DmaHeap', handle);
    this.#kind = kind;
    this.#emulated = emulated;
  }

  /**
   * @internal Open `name` of `backend` (DmaHeap.open and emulation.heap): checks the name,
   * resolves the 'cma' alias to this kernel's CMA heap, and says which heap it found.
   */
  static _open(backend: Backend, name: unknown): DmaHeap {
    if (typeof name !== 'string') throw invalidType('open', 'name', 'a heap name', name);
    if (!isHeapName(name)) {
      throw invalidArgument('open', 'name', `'${name}' is not a heap name (see DmaHeap.list())`);
    }
    const available = backend.listHeaps();
    const cmaRegions = backend.cmaRegions();
    const resolved = resolveHeapName(name, available, cmaRegions);
    if (resolved === undefined && name === CMA_ALIAS) {
      throw new DmaBufError(
        'ENOENT',
        `open: no CMA heap here (looked for ${CMA_HEAP_NAMES.join(', ')} and reusable device-tree regions); ` +
          (available.length ? `this system has: ${available.join(', ')}` : 'this system has no dma-heaps'),
        { syscall: 'open', argument: 'name' },
      );
    }
    const heapName = resolved ?? name;
    let handle: HeapHandle;
    try {
      handle = backend.openHeap(heapName);
    } catch (error) {
      debug('heap %s: open failed: %s', heapName, (error as Error).message);
      throw error;
    }
    const emulated = !backend.supports.realFds;
    debug('heap %s opened%s (%s backend)', heapName, heapName === name ? '' : ` for '${name}'`, emulated ? 'emulated' : 'kernel');
    return new DmaHeap(wrapToken, handle, heapKind(heapName, cmaRegions), emulated);
  }

  /**
   * The heaps this system offers (the entries of /dev/dma_heap), e.g. ['system']. With
   * `{ details: true }`, each heap tried for real: its kind, whether this process can open it and
   * CPU-map a page of it, and whether it is emulated (no dma-buf devices here: see backendInfo()).
   */
  static list(): string[];
  static list(options: { details: true }): HeapDetails[];
  static list(options?: { details?: boolean }): string[] | HeapDetails[];
  static list(options?: { details?: boolean }): string[] | HeapDetails[] {
    const details = checkOptions('DmaHeap.list', options, ['details'])['details'] ?? false;
    if (typeof details !== 'boolean') throw invalidType('DmaHeap.list', 'details', 'a boolean', details);
    const backend = selectedBackend();
    const names = backend.listHeaps();
    if (!details) return names;
    const cmaRegions = backend.cmaRegions();
    return names.map((name) => probeHeap(backend, name, cmaRegions));
  }

  /**
   * Open a heap by name (default 'system'); 'cma' finds this kernel's CMA heap whatever it is
   * called (heap.name says which). The device is opened read-only: ALLOC needs no write access.
   * /dev/dma_heap/* is root-only unless a udev rule grants it: EACCES says so.
   */
  static open(name = 'system'): DmaHeap {
    return DmaHeap._open(selectedBackend(), name);
  }

  get name(): string {
    return this.#owned.live('name').name;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** 'system', 'cma', 'protected' (the CPU cannot map its buffers) or 'other'. */
  get kind(): HeapKind {
    this.#owned.live('kind');
    return this.#kind;
  }

  /** Whether this heap is the emulated backend's. */
  get emulated(): boolean {
    this.#owned.live('emulated');
    return this.#emulated;
  }

  /**
   * Allocate `size` bytes (rounded up to the page size by the kernel; buf.size says the real size).
   * The memory is zeroed. With `name`, the buffer is named at once (DMA_BUF_SET_NAME); if that
   * fails, nothing is left behind. `checked` (default: DMABUF_CHECK=1) puts it in checked mode:
   * its brackets report writes they may not make, as the emulator does (see docs/API.md, "Checked mode").
   */
  allocate(size: number, options?: { name?: string; checked?: boolean }): DmaBuf {
    const handle = this.#owned.live(ALLOC);
    checkInteger(ALLOC, 'size', size, 1);
    const setUp = setUpOptions(ALLOC, options);
    let buffer: BufferHandle;
    try {
      buffer = handle.allocate(size);
    } catch (error) {
      debug('heap %s: allocating %d bytes failed: %s', handle.name, size, (error as Error).message);
      throw error;
    }
    return DmaBuf._wrap(setUpOrClose(buffer, setUp));
  }

  /** Close the heap device. Buffers already allocated stay valid. Idempotent. */
  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (handle) => ({ name: handle.name, kind: this.#kind, backend: this.#emulated ? 'emulated' : 'kernel' }));
  }
}
