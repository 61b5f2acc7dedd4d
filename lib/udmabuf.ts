/** Udmabuf: dma-bufs over memfd pages (/dev/udmabuf), often usable without root. */
import { DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import type { Backend } from './backend/backend.js';
import { selectedBackend } from './backend/select.js';
import { DmaBuf } from './dmabuf.js';
import { setUpOptions, setUpOrClose } from './lifecycle.js';
import { Memfd } from './memfd.js';
import { checkFd, checkInteger } from './validate.js';

/** UDMABUF_CREATE_LIST refuses more items than list_limit (module parameter, default 1024). */
export const MAX_SEGMENTS = 1024;

export function createUdmabuf(backend: Backend, size: number, options?: { name?: string; checked?: boolean }): DmaBuf {
  checkInteger('UDMABUF_CREATE', 'size', size, 1);
  const setUp = setUpOptions('UDMABUF_CREATE', options);
  const pages = Math.ceil(size / backend.pageSize);
  return DmaBuf._wrap(setUpOrClose(backend.createUdmabuf(pages * backend.pageSize), setUp));
}

/** A segment as callers give it: the memfd as a Memfd or its fd number. */
/** One range of a memfd for Udmabuf.fromSegments: `offset` and `size` page-aligned. */
export interface SegmentInput {
  readonly memfd: number | Memfd;
  readonly offset: number;
  readonly size: number;
}

export function udmabufFromSegments(backend: Backend, segments: readonly SegmentInput[], options?: { name?: string; checked?: boolean }): DmaBuf {
  const syscall = segments?.length > 1 ? 'UDMABUF_CREATE_LIST' : 'UDMABUF_CREATE';
  if (!backend.supports.udmabufSegments) {
    throw new DmaBufError(MisuseCode.UNSUPPORTED, 'Udmabuf.fromSegments needs real memfds, which this backend does not have (supports.udmabufSegments)', {
      syscall,
    });
  }
  if (!Array.isArray(segments)) throw invalidType(syscall, 'segments', 'an array of { memfd, offset, size }', segments);
  if (segments.length === 0 || segments.length > MAX_SEGMENTS) {
    throw invalidArgument(syscall, 'segments', `must hold 1 to ${MAX_SEGMENTS} segments, got ${segments.length}`);
  }
  const page = backend.pageSize;
  let total = 0;
  const checked = segments.map((segment: unknown, i) => {
    if (typeof segment !== 'object' || segment === null) throw invalidType(syscall, `segments[${i}]`, 'an object', segment);
    const s = segment as Record<string, unknown>;
    // A Memfd object or its fd number.
    const raw = s['memfd'] instanceof Memfd ? s['memfd'].fd : s['memfd'];
    const memfd = checkFd(syscall, `segments[${i}].memfd`, raw);
    const offset = checkInteger(syscall, `segments[${i}].offset`, s['offset'], 0);
    const size = checkInteger(syscall, `segments[${i}].size`, s['size'], 1);
    // udmabuf pins whole pages: unaligned offsets or sizes are EINVAL in the kernel too.
    if (offset % page !== 0) throw invalidArgument(syscall, `segments[${i}].offset`, `must be a multiple of the page size ${page}`);
    if (size % page !== 0) throw invalidArgument(syscall, `segments[${i}].size`, `must be a multiple of the page size ${page}`);
    total += size;
    return { memfd, offset, size };
  });
  if (!Number.isSafeInteger(total)) throw invalidArgument(syscall, 'segments', 'total size overflows');
  const setUp = setUpOptions(syscall, options);
  return DmaBuf._wrap(setUpOrClose(backend.udmabufFromSegments(checked), setUp));
}

export const Udmabuf = {
  /**
   * A dma-buf of `size` bytes (rounded up to pages) over a fresh memfd that this call creates,
   * sizes and seals with F_SEAL_SHRINK (udmabuf requires it), then closes: the buffer keeps the
   * pages pinned. Limited to udmabuf's size_limit_mb: 64 MiB by default up to Linux 7.2, no limit
   * by default from 7.3 (the emulated backend keeps 64 MiB).
   */
  create(size: number, options?: { name?: string; checked?: boolean }): DmaBuf {
    return createUdmabuf(selectedBackend(), size, options);
  },
  /**
   * A dma-buf over page-aligned ranges of your own memfds (MFD_ALLOW_SEALING, sealed with
   * F_SEAL_SHRINK and without F_SEAL_WRITE). One segment uses UDMABUF_CREATE, more use
   * UDMABUF_CREATE_LIST. Writes through the memfd are visible through the dma-buf and back.
   */
  fromSegments(segments: readonly SegmentInput[], options?: { name?: string; checked?: boolean }): DmaBuf {
    return udmabufFromSegments(selectedBackend(), segments, options);
  },
};
