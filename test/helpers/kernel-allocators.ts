/**
 * Our two kernel allocators, for tests that run a case on each: the system heap (the x86_64
 * profiles; its cases carry the NEEDS_HEAPS mark) and udmabuf (every profile).
 */
import { type DmaBuf, DmaHeap, Udmabuf } from '../../lib/index.js';
import { NEEDS_HEAPS, provides } from './env.js';

export type Allocator = { name: string; marks: string; make(): { create(size: number, options?: { name?: string }): DmaBuf; close(): void } };

export const allocators: Allocator[] = [
  ...(provides.heaps
    ? [
        {
          name: 'the system heap',
          marks: ` ${NEEDS_HEAPS}`,
          make: () => {
            const heap = DmaHeap.open('system');
            return { create: (size: number, options?: { name?: string }) => heap.allocate(size, options), close: () => heap.close() };
          },
        },
      ]
    : []),
  { name: 'udmabuf', marks: '', make: () => ({ create: (size: number, options?: { name?: string }) => Udmabuf.create(size, options), close: () => {} }) },
];
