/** An emulated dma-heap: allocates zeroed, page-rounded buffers named after the heap. */
import type { BufferHandle, HeapHandle } from '../backend.js';
import type { EmulationContext } from './context.js';

export class EmulatedHeap implements HeapHandle {
  readonly name: string;
  readonly #backend: EmulationContext;

  constructor(backend: EmulationContext, name: string) {
    this.#backend = backend;
    this.name = name;
  }

  allocate(size: number): BufferHandle {
    return this.#backend.allocateBuffer(size, this.name, 'DMA_HEAP_IOCTL_ALLOC');
  }

  /** Buffers outlive their heap, as with a closed /dev/dma_heap fd. */
  close(): void {}
}
