/** The kernel backend: the public classes' operations as real syscalls through the native addon. */
import { CHECKED_SUPPORTS, SUPPORTS } from './supports.js';
import { readdirSync } from 'node:fs';
import type { NativeAddon } from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';
import type { Backend, BufferHandle, HeapHandle, MemfdHandle, SegmentSpec, Supports, SyncFileHandle } from '../backend.js';
import { checkedByDefault } from '../../common/checked.js';
import { cmaRegionNames } from '../../common/heap-kind.js';
import { DmaBufError, fsError } from '../../common/errors.js';
import { totalmem } from 'node:os';
import { moduleParameter, UDMABUF_PARAMETERS, udmabufSizeLimitMb } from './module-params.js';
import { isSyncFileFd } from './fd-kind.js';
import { KernelSyncFile } from './sync-file.js';
import { KernelBuffer } from './buffer.js';
import { withHint } from './errors.js';

export const HEAP_DIR = '/dev/dma_heap';
export const UDMABUF_DEVICE = '/dev/udmabuf';

/** The entries of /dev/dma_heap, sorted; none on a kernel without dma-heaps. Needs no addon (doctor reads it too). */
export function heapNames(): string[] {
  try {
    return readdirSync(HEAP_DIR).sort();
  } catch (error) {
    // No heap directory: a kernel without dma-heaps. Anything else (EMFILE, EACCES) is an error.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fsError(error, 'opendir', HEAP_DIR);
  }
}

let memTotalBytes: number | undefined;
/** MemTotal (os.totalmem(), a sysinfo() call), read once rather than at every allocation. */
function memTotal(): number {
  memTotalBytes ??= totalmem();
  return memTotalBytes;
}

class KernelHeap implements HeapHandle {
  readonly name: string;
  readonly #backend: KernelBackend;
  readonly #addon: NativeAddon;
  readonly #fd: number;
  #closed = false;

  constructor(backend: KernelBackend, addon: NativeAddon, name: string, fd: number) {
    this.#backend = backend;
    this.#addon = addon;
    this.name = name;
    this.#fd = fd;
  }

  allocate(size: number): BufferHandle {
    // The system heap of 6.12 takes pages until the request is met or the OOM killer acts: it has
    // no guard against a size above the machine's memory. Measured in a disposable 2 GiB VM:
    // ALLOC of 1.5× MemTotal got the process SIGKILLed by the OOM killer. It can never succeed.
    const total = memTotal();
    if (size > total) {
      throw new DmaBufError(
        'ENOMEM',
        `DMA_HEAP_IOCTL_ALLOC: ${size} bytes exceed the machine's memory (${total} bytes); the kernel would invoke the OOM killer`,
        {
          syscall: 'DMA_HEAP_IOCTL_ALLOC',
          argument: 'size',
        },
      );
    }
    const c = this.#addon.constants;
    // fd_flags may hold only O_CLOEXEC | O_ACCMODE; heap_flags must be 0 (DMA_HEAP_VALID_*_FLAGS).
    const fd = this.#addon.heapAlloc(this.#fd, size, c.O_RDWR | c.O_CLOEXEC, 0);
    // dma-heap exports carry the heap's name as exp_name, and dma_heap_buffer_alloc() rounds the
    // length up to whole pages (PAGE_ALIGN) for every heap: no fstat needed.
    const pageSize = c.PAGE_SIZE;
    const bufferSize = Math.ceil(size / pageSize) * pageSize;
    return new KernelBuffer(this.#backend, this.#addon, fd, { exporter: this.name, readOnly: false, size: bufferSize });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.close(this.#fd);
  }
}

export class KernelBackend implements Backend {
  readonly name = 'kernel' as const;
  /** New buffers' manifest: checked (DMABUF_CHECK=1) or not; a buffer's own says what it does. */
  get supports(): Supports {
    return checkedByDefault() ? CHECKED_SUPPORTS : SUPPORTS;
  }
  readonly pageSize: number;
  readonly #addon: NativeAddon;

  constructor(addon: NativeAddon) {
    this.#addon = addon;
    this.pageSize = addon.constants.PAGE_SIZE;
  }

  listHeaps(): string[] {
    return heapNames();
  }

  cmaRegions(): readonly string[] {
    return cmaRegionNames();
  }

  openHeap(name: string): HeapHandle {
    let fd: number;
    try {
      // ALLOC needs no write access to the heap device: O_RDONLY is enough (and all udev grants).
      fd = this.#addon.open(`${HEAP_DIR}/${name}`, this.#addon.constants.O_RDONLY);
    } catch (error) {
      const heaps = this.listHeaps();
      withHint(error, {
        ENOENT: heaps.length
          ? `no heap '${name}'; this system has: ${heaps.join(', ')}`
          : 'this kernel has no dma-heaps (needs CONFIG_DMABUF_HEAPS, Linux 5.6+); try Udmabuf or DMABUF_BACKEND=emulated',
        EACCES: `${HEAP_DIR}/${name} is root-only by default; run as root or add a udev rule granting your group read access`,
      });
    }
    return new KernelHeap(this, this.#addon, name, fd);
  }

  #openUdmabufDevice(): number {
    try {
      return this.#addon.open(UDMABUF_DEVICE, this.#addon.constants.O_RDWR);
    } catch (error) {
      withHint(error, {
        ENOENT: 'this kernel has no udmabuf (needs CONFIG_UDMABUF, Linux 4.20+); try DmaHeap or DMABUF_BACKEND=emulated',
        EACCES: `${UDMABUF_DEVICE} is not accessible to this user; systemd tags it uaccess for the logged-in user, or run as root`,
      });
    }
  }

  /**
   * udmabuf refuses (EINVAL) a buffer over size_limit_mb and a list over list_limit; say so, with
   * the limit and how to raise it, before any memfd or device is opened.
   */
  #checkUdmabufLimits(total: number, segments: number, syscall: string): void {
    const limitMb = udmabufSizeLimitMb();
    if (limitMb !== null && total > limitMb * 1024 * 1024) {
      throw new DmaBufError(
        'EINVAL',
        `${syscall}: ${total} bytes exceed udmabuf's size_limit_mb (${limitMb} MiB); raise it with ` +
          `echo <MiB> | sudo tee ${UDMABUF_PARAMETERS}/size_limit_mb (or options udmabuf size_limit_mb=<MiB> in /etc/modprobe.d/)`,
        { syscall, argument: 'size' },
      );
    }
    const listLimit = moduleParameter('udmabuf', 'list_limit');
    if (listLimit !== null && segments > listLimit) {
      throw new DmaBufError(
        'EINVAL',
        `${syscall}: ${segments} segments exceed udmabuf's list_limit (${listLimit}); raise it in ${UDMABUF_PARAMETERS}/list_limit`,
        {
          syscall,
          argument: 'segments',
        },
      );
    }
  }

  createUdmabuf(size: number): BufferHandle {
    this.#checkUdmabufLimits(size, 1, 'UDMABUF_CREATE');
    const a = this.#addon;
    const c = a.constants;
    const memfd = a.memfdCreate('dmabuf-udmabuf', c.MFD_ALLOW_SEALING);
    try {
      a.ftruncate(memfd, size);
      // udmabuf pins the pages and requires that the memfd can never shrink under them.
      a.addSeals(memfd, c.F_SEAL_SHRINK);
      return this.udmabufFromSegments([{ memfd, offset: 0, size }]);
    } finally {
      // The dma-buf holds the pages; the memfd is no longer needed.
      a.close(memfd);
    }
  }

  /** Check each memfd as udmabuf will, so the kernel's refusals come back before the ioctl. */
  #checkSegment(segment: SegmentSpec, index: number, syscall: string): void {
    const a = this.#addon;
    const c = a.constants;
    const where = `segments[${index}].memfd`;
    let seals: number;
    try {
      seals = a.getSeals(segment.memfd);
    } catch (error) {
      // F_GET_SEALS fails on anything but shmem/hugetlbfs; udmabuf answers EBADFD for those and for bad fds.
      throw new DmaBufError('EBADFD', `${where}: fd ${segment.memfd} is not a memfd (udmabuf needs shmem or hugetlbfs pages)`, {
        syscall,
        argument: where,
        cause: error,
      });
    }
    if ((seals & c.F_SEAL_SHRINK) === 0) {
      throw new DmaBufError('EINVAL', `${where}: the memfd must be sealed with F_SEAL_SHRINK (create it with MFD_ALLOW_SEALING)`, {
        syscall,
        argument: where,
      });
    }
    if ((seals & (c.F_SEAL_WRITE | c.F_SEAL_FUTURE_WRITE)) !== 0) {
      throw new DmaBufError('EINVAL', `${where}: a memfd sealed against writes cannot back a dma-buf`, { syscall, argument: where });
    }
    const memfdSize = a.fstat(segment.memfd).size;
    if (segment.offset + segment.size > memfdSize) {
      throw new DmaBufError('EINVAL', `${where}: [${segment.offset}, ${segment.offset + segment.size}) lies past the memfd's ${memfdSize} bytes`, {
        syscall,
        argument: where,
      });
    }
  }

  udmabufFromSegments(segments: readonly SegmentSpec[]): BufferHandle {
    const a = this.#addon;
    const c = a.constants;
    const syscall = segments.length > 1 ? 'UDMABUF_CREATE_LIST' : 'UDMABUF_CREATE';
    this.#checkUdmabufLimits(
      segments.reduce((sum, s) => sum + s.size, 0),
      segments.length,
      syscall,
    );
    for (const [i, segment] of segments.entries()) this.#checkSegment(segment, i, syscall);
    const dev = this.#openUdmabufDevice();
    let fd: number;
    try {
      const first = segments[0];
      fd =
        segments.length === 1 && first
          ? a.udmabufCreate(dev, first.memfd, first.offset, first.size, c.UDMABUF_FLAGS_CLOEXEC)
          : a.udmabufCreateList(dev, c.UDMABUF_FLAGS_CLOEXEC, segments);
    } catch (error) {
      withHint(error, { EINVAL: `udmabuf refused the segments (size_limit_mb and list_limit are in ${UDMABUF_PARAMETERS})` });
    } finally {
      a.close(dev);
    }
    return new KernelBuffer(this, a, fd);
  }

  importFd(fd: number, dup: boolean): BufferHandle {
    const a = this.#addon;
    // Only a dma-buf may reach dma-buf ioctls: on other fds they misbehave or mean something else.
    const magic = a.fstatfsType(fd);
    if (magic !== a.constants.DMA_BUF_MAGIC) {
      throw new DmaBufError('EBADFD', `DmaBuf.fromFd: fd ${fd} is not a dma-buf (its filesystem magic is 0x${magic.toString(16)})`, {
        syscall: 'fstatfs',
        argument: 'fd',
      });
    }
    if (dup) return new KernelBuffer(this, a, a.dup(fd));
    a.adopt(fd);
    return new KernelBuffer(this, a, fd);
  }

  /** F_DUPFD_CLOEXEC; the new fd is owned by the env. */
  dupFd(fd: number): number {
    return this.#addon.dup(fd);
  }

  closeFd(fd: number): void {
    this.#addon.close(fd);
  }

  /** The file an fd refers to (inode and device), to tell a shared fd number from a reused one. */
  identity(fd: number): { ino: number; dev: number } {
    const { ino, dev } = this.#addon.fstat(fd);
    return { ino, dev };
  }

  /** memfd_create(MFD_ALLOW_SEALING) of `size` bytes (Memfd.create): kernel only, devices or not. */
  createMemfd(size: number, name: string): MemfdHandle {
    const a = this.#addon;
    const c = a.constants;
    const fd = a.memfdCreate(name, c.MFD_ALLOW_SEALING);
    try {
      a.ftruncate(fd, size);
    } catch (error) {
      a.close(fd);
      throw error;
    }
    let closed = false;
    return {
      fd,
      size,
      seal: () => a.addSeals(fd, c.F_SEAL_SHRINK | c.F_SEAL_GROW),
      close: () => {
        if (closed) return;
        closed = true;
        a.close(fd);
      },
    };
  }

  importSyncFileFd(fd: number, dup: boolean): SyncFileHandle {
    const a = this.#addon;
    // A sync_file is an anonymous inode named "sync_file" (sync_file_alloc → anon_inode_getfile):
    // anything else must never see SYNC_IOC_* (on another driver's fd the numbers mean other things).
    if (!isSyncFileFd(a, fd)) {
      throw new DmaBufError('EBADFD', `SyncFile.fromFd: fd ${fd} is not a sync_file`, { syscall: 'fstatfs', argument: 'fd' });
    }
    if (dup) return new KernelSyncFile(this, a, a.dup(fd));
    a.adopt(fd);
    return new KernelSyncFile(this, a, fd);
  }
}

let kernelBackend: KernelBackend | undefined;

/** The kernel backend, or ERR_DMABUF_BACKEND_UNAVAILABLE saying why the addon cannot load. */
export function getKernelBackend(): KernelBackend {
  kernelBackend ??= new KernelBackend(requireAddon());
  return kernelBackend;
}
