/**
 * Frame: an image of up to four planes with a DRM format and modifier, the way Wayland's
 * linux-dmabuf, V4L2, GStreamer, EGL and Electron describe what they hand each other. Planes are
 * (buffer, offset, stride) triples; several may share one buffer (NV12 in one allocation). CPU
 * access brackets every distinct buffer once, over the span its planes use, and hands out each
 * plane's rows. Only DRM_FORMAT_MOD_LINEAR has a layout the CPU knows.
 */
import { inspectObject } from './inspect.js';
import { inspect } from 'node:util';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from './errors.js';
import { DmaBuf } from './dmabuf.js';
import type { DmaHeap } from './heap.js';
import type { CpuAccess } from './cpu-access.js';
import { region } from './region.js';
import { drmFormat, drmModifier, DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, EMULATED_TILED_MODIFIER, planeGeometry, type DrmFormat } from './drm-format.js';
import { checkAccessMode, checkFd, checkInteger, checkObject, checkOptions, checkSignal, checkTimeout, type AccessMode, type WaitOptions } from './validate.js';

const SYSCALL = 'Frame';

export interface FramePlane {
  readonly buffer: DmaBuf;
  readonly offset: number;
  readonly stride: number;
  /** Bytes the plane occupies: stride × (rows − 1) + row bytes, or what the producer said. */
  readonly size: number;
}

export interface FrameDescription {
  readonly width: number;
  readonly height: number;
  /** The DRM fourcc code, and its macro name. */
  readonly format: number;
  readonly formatName: string;
  readonly modifier: bigint;
  readonly planes: readonly { fd: number; offset: number; stride: number; size: number }[];
}

export interface PlaneAccess {
  /** The plane's bytes, from its first row's start to its last row's end (strides included). */
  readonly bytes: Uint8Array;
  /** One view per row, each `rowBytes` long. */
  rows(): Iterable<Uint8Array>;
  readonly stride: number;
  readonly rowBytes: number;
}

/** What Frame.allocate takes its buffer from: a DmaHeap, `Udmabuf`, or an emulation's heap or udmabuf maker. */
export type FrameAllocator =
  | DmaHeap
  | { create(size: number, options?: { name?: string }): DmaBuf }
  | { allocate(size: number, options?: { name?: string }): DmaBuf };

/** Electron's pixelFormat names → DRM formats (Electron's OffscreenSharedTexture; importSharedTexture). */
const ELECTRON_FORMATS: Record<string, string> = {
  bgra: 'ARGB8888',
  rgba: 'ABGR8888',
  rgbaf16: 'ABGR16161616F',
  nv12: 'NV12',
  p010le: 'P010',
  nv16: 'NV16',
};

function checkDimension(name: string, value: unknown): number {
  return checkInteger(SYSCALL, name, value, 1, 1 << 16);
}

function allocateFrom(allocator: unknown, size: number, name: string | undefined): DmaBuf {
  const options = name === undefined ? undefined : { name };
  if (allocator && typeof (allocator as { allocate?: unknown }).allocate === 'function') {
    return (allocator as { allocate(size: number, options?: { name?: string }): DmaBuf }).allocate(size, options);
  }
  if (allocator && typeof (allocator as { create?: unknown }).create === 'function') {
    return (allocator as { create(size: number, options?: { name?: string }): DmaBuf }).create(size, options);
  }
  throw invalidType(SYSCALL, 'allocator', 'a DmaHeap, Udmabuf or an emulation heap', allocator);
}

/** Open brackets on distinct buffers: ends all of them, reporting the first failure after. */
/**
 * Two planes in one buffer must not share a byte: NV12 with its chroma at offset 0 would write
 * chroma over luma. What a plane touches is its rows (stride × (rows − 1) + a row's bytes), not
 * its declared size, which producers often give as "the rest of the buffer".
 */
function refuseOverlaps(format: DrmFormat, width: number, height: number, planes: readonly { buffer: DmaBuf; offset: number; stride: number }[]): void {
  const spans = planes.map((p, i) => {
    const { rowBytes, rows } = planeGeometry(format, i, width, height);
    return { identity: p.buffer._identity(), start: p.offset, end: p.offset + p.stride * (rows - 1) + rowBytes };
  });
  for (let i = 1; i < spans.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = spans[j] as (typeof spans)[number];
      const b = spans[i] as (typeof spans)[number];
      if (a.identity === b.identity && a.start < b.end && b.start < a.end) {
        throw invalidArgument(
          SYSCALL,
          `planes[${i}]`,
          `bytes [${b.start}, ${b.end}) overlap planes[${j}]'s [${a.start}, ${a.end}) in the same buffer: each plane needs its own bytes`,
        );
      }
    }
  }
}

function endAll(accesses: readonly CpuAccess[]): void {
  let first: unknown;
  for (const access of accesses) {
    try {
      if (!access.ended) access.end();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}

/** DmaBuf.fromFd, with the failing plane named in the error. */
function importPlane(fd: number, index: number): DmaBuf {
  try {
    return DmaBuf.fromFd(fd);
  } catch (error) {
    if (!(error instanceof DmaBufError)) throw error;
    const details = { argument: `planes[${index}].fd`, cause: error, ...(error.syscall === undefined ? {} : { syscall: error.syscall }) };
    throw new DmaBufError(error.code, `planes[${index}].fd: ${error.message}`, details);
  }
}

/** The `type` of a frame message (FdChannel#sendFrame). */
export const FRAME_MESSAGE = 'dmabuf.frame';

const token = Symbol('Frame');

export class Frame {
  readonly width: number;
  readonly height: number;
  readonly format: DrmFormat;
  readonly modifier: bigint;
  readonly #planes: FramePlane[];
  /** Buffers this frame opened itself (imports and allocations), closed with it. */
  readonly #owned: DmaBuf[];
  readonly #allocated: boolean;
  #closed = false;
  /** The frame's latest bracket: close() refuses while it is open. */
  #open: FrameAccess | undefined;

  private constructor(
    t: symbol,
    init: { width: number; height: number; format: DrmFormat; modifier: bigint; planes: FramePlane[]; owned: DmaBuf[]; allocated: boolean },
  ) {
    if (t !== token) throw new TypeError('Frame cannot be constructed directly; use Frame.allocate() or Frame.fromPlanes()');
    this.width = init.width;
    this.height = init.height;
    this.format = init.format;
    this.modifier = init.modifier;
    this.#planes = init.planes;
    this.#owned = init.owned;
    this.#allocated = init.allocated;
  }

  /**
   * One buffer holding every plane, each row padded to `strideAlign` bytes (default 64) and each
   * plane starting at a multiple of it. `allocator` is a DmaHeap, `Udmabuf`, or an emulation's heap.
   */
  static allocate(
    allocator: FrameAllocator,
    options: { width: number; height: number; format: string | number; strideAlign?: number; name?: string; modifier?: bigint },
  ): Frame {
    const opts = checkOptions(SYSCALL, options, ['width', 'height', 'format', 'strideAlign', 'name', 'modifier']);
    const width = checkDimension('width', opts['width']);
    const height = checkDimension('height', opts['height']);
    const format = drmFormat(SYSCALL, opts['format']);
    const align = opts['strideAlign'] === undefined ? 64 : checkInteger(SYSCALL, 'strideAlign', opts['strideAlign'], 1, 4096);
    if ((align & (align - 1)) !== 0) throw invalidArgument(SYSCALL, 'strideAlign', `must be a power of two, got ${align}`);
    const name = opts['name'] as string | undefined;
    const wanted = opts['modifier'] === undefined ? undefined : drmModifier(SYSCALL, opts['modifier']);
    if (wanted !== undefined && wanted !== DRM_FORMAT_MOD_LINEAR) {
      throw invalidArgument(SYSCALL, 'modifier', "a frame allocated here is DRM_FORMAT_MOD_LINEAR, or the device's own layout when none is asked for");
    }
    const up = (n: number) => Math.ceil(n / align) * align;
    const layout: { offset: number; stride: number; size: number }[] = [];
    let total = 0;
    for (let i = 0; i < format.cpp.length; i++) {
      const { rowBytes, rows } = planeGeometry(format, i, width, height);
      const stride = up(rowBytes);
      layout.push({ offset: total, stride, size: stride * rows });
      total = up(total + stride * rows);
    }
    const buffer = allocateFrom(allocator, total, name);
    const planes = layout.map((p) => Object.freeze({ buffer, ...p }));
    // A device that lays buffers out in tiles (the emulated tiled model) hands out its own layout
    // unless the program asked for linear, as a GPU allocator does.
    const modifier = wanted ?? (buffer.supports.tiledLayout ? EMULATED_TILED_MODIFIER : DRM_FORMAT_MOD_LINEAR);
    return new Frame(token, { width, height, format, modifier, planes, owned: [buffer], allocated: true });
  }

  /**
   * A frame over planes a producer describes: each `{ buffer | fd, offset, stride, size? }`. fds are
   * imported (dup'd: the caller keeps its own, and may close them at once); planes sharing one
   * buffer (the same inode) share one holder. Everything is checked before any buffer is mapped.
   */
  static fromPlanes(description: {
    width: number;
    height: number;
    format: string | number;
    modifier?: bigint | number | string;
    planes: readonly { buffer?: DmaBuf; fd?: number; offset: number; stride: number; size?: number }[];
  }): Frame {
    const d = checkOptions(SYSCALL, description, ['width', 'height', 'format', 'formatName', 'modifier', 'planes'], 'description');
    const width = checkDimension('width', d['width']);
    const height = checkDimension('height', d['height']);
    const format = drmFormat(SYSCALL, d['format']);
    const modifier = d['modifier'] === undefined ? DRM_FORMAT_MOD_INVALID : drmModifier(SYSCALL, d['modifier']);
    const planes = d['planes'];
    if (!Array.isArray(planes)) throw invalidType(SYSCALL, 'planes', 'an array of { buffer | fd, offset, stride }', planes);
    if (planes.length !== format.cpp.length) {
      throw invalidArgument(SYSCALL, 'planes', `${format.name} has ${format.cpp.length} plane(s), got ${planes.length}`);
    }
    // Check the numbers first (no fd is touched), then import.
    const checked = planes.map((plane: unknown, i) => {
      if (typeof plane !== 'object' || plane === null) throw invalidType(SYSCALL, `planes[${i}]`, 'an object', plane);
      const p = plane as Record<string, unknown>;
      const offset = checkInteger(SYSCALL, `planes[${i}].offset`, p['offset'], 0);
      const stride = checkInteger(SYSCALL, `planes[${i}].stride`, p['stride'], 1, 2 ** 31);
      const { rowBytes, rows } = planeGeometry(format, i, width, height);
      if (stride < rowBytes)
        throw invalidArgument(SYSCALL, `planes[${i}].stride`, `${stride} is less than a row of ${format.name} at width ${width} (${rowBytes} bytes)`);
      const needed = stride * (rows - 1) + rowBytes;
      const size = p['size'] === undefined ? needed : checkInteger(SYSCALL, `planes[${i}].size`, p['size'], 1);
      if (size < needed) throw invalidArgument(SYSCALL, `planes[${i}].size`, `${size} bytes cannot hold ${rows} rows of stride ${stride} (${needed} bytes)`);
      if (!Number.isSafeInteger(offset + size)) throw invalidArgument(SYSCALL, `planes[${i}].offset`, 'offset + size overflows');
      const buffer = p['buffer'];
      if (buffer !== undefined && !(buffer instanceof DmaBuf)) throw invalidType(SYSCALL, `planes[${i}].buffer`, 'a DmaBuf', buffer);
      const fd = buffer === undefined ? checkFd(SYSCALL, `planes[${i}].fd`, p['fd']) : undefined;
      return { offset, stride, size, buffer: buffer as DmaBuf | undefined, fd };
    });
    const owned: DmaBuf[] = [];
    try {
      const byIdentity = new Map<unknown, DmaBuf>();
      const framePlanes = checked.map((p, i) => {
        let buffer = p.buffer;
        if (!buffer) {
          const imported = importPlane(p.fd as number, i);
          const key = imported._identity();
          const known = byIdentity.get(key);
          if (known) {
            imported.close();
            buffer = known;
          } else {
            owned.push(imported);
            byIdentity.set(key, imported);
            buffer = imported;
          }
        }
        if (p.offset + p.size > buffer.size) {
          throw invalidArgument(SYSCALL, `planes[${i}]`, `[${p.offset}, ${p.offset + p.size}) lies past the end of its ${buffer.size}-byte buffer`);
        }
        return Object.freeze({ buffer, offset: p.offset, stride: p.stride, size: p.size });
      });
      refuseOverlaps(format, width, height, framePlanes);
      return new Frame(token, { width, height, format, modifier, planes: framePlanes, owned, allocated: false });
    } catch (error) {
      for (const b of owned) b.close();
      throw error;
    }
  }

  /**
   * A frame from Electron's offscreen shared texture (`texture.textureInfo` of a 'paint' event):
   * `handle.nativePixmap` planes and modifier, `pixelFormat` and `codedSize`. The fds are dup'd, so
   * `texture.release()` can be called as soon as this returns.
   */
  static fromElectron(textureInfo: {
    pixelFormat: string;
    codedSize: { width: number; height: number };
    handle: { nativePixmap?: { planes: readonly { fd: number; stride: number; offset: number; size: number }[]; modifier: string } };
  }): Frame {
    const info = checkObject('Frame.fromElectron', 'textureInfo', textureInfo);
    const pixelFormat = info['pixelFormat'];
    const format = typeof pixelFormat === 'string' ? ELECTRON_FORMATS[pixelFormat] : undefined;
    if (!format)
      throw invalidArgument('Frame.fromElectron', 'pixelFormat', `'${String(pixelFormat)}' is not one of ${Object.keys(ELECTRON_FORMATS).join(', ')}`);
    const size = checkObject('Frame.fromElectron', 'codedSize', info['codedSize']);
    const handle = checkObject('Frame.fromElectron', 'handle', info['handle']);
    const pixmap = handle['nativePixmap'];
    if (typeof pixmap !== 'object' || pixmap === null) {
      throw invalidArgument('Frame.fromElectron', 'handle', 'has no nativePixmap: dma-buf shared textures exist on Linux only');
    }
    const { planes, modifier } = pixmap as { planes: unknown; modifier: unknown };
    return Frame.fromPlanes({
      width: size['width'] as number,
      height: size['height'] as number,
      format,
      modifier: modifier as string,
      planes: planes as { fd: number; offset: number; stride: number; size: number }[],
    });
  }

  /**
   * The frame a peer sent with FdChannel#sendFrame, and the `extra` it sent along. The frame takes
   * over the message's buffers (close the frame, not them).
   */
  static fromMessage(message: { text(): string; buffers: readonly DmaBuf[] }): { frame: Frame; extra: unknown } {
    const syscall = 'Frame.fromMessage';
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.text());
    } catch (error) {
      throw new DmaBufError('EINVAL', 'the message is not a frame message (not JSON)', { syscall, argument: 'message', cause: error });
    }
    const m = parsed as { type?: unknown; planes?: unknown; extra?: unknown; [k: string]: unknown };
    if (typeof m !== 'object' || m === null || m.type !== FRAME_MESSAGE || !Array.isArray(m.planes)) {
      throw invalidArgument(syscall, 'message', `is not a frame message (type '${FRAME_MESSAGE}' with planes)`);
    }
    const planes = m.planes.map((p: unknown, i: number) => {
      const plane = p as Record<string, unknown>;
      const index = checkInteger(syscall, `planes[${i}].buffer`, plane['buffer'], 0, message.buffers.length - 1);
      return { buffer: message.buffers[index] as DmaBuf, offset: plane['offset'] as number, stride: plane['stride'] as number, size: plane['size'] as number };
    });
    const frame = Frame.fromPlanes({
      width: m['width'] as number,
      height: m['height'] as number,
      format: m['format'] as number,
      modifier: m['modifier'] as string,
      planes,
    });
    frame.#owned.push(...new Set(planes.map((p) => p.buffer)));
    return { frame, extra: m.extra };
  }

  #live(operation: string): FramePlane[] {
    if (this.#closed) throw closedError('Frame', operation);
    return this.#planes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get planes(): readonly FramePlane[] {
    return this.#live('planes');
  }

  /** The plain description other APIs take (linux-dmabuf, EGL attributes, GStreamer caps). */
  describe(): FrameDescription {
    const planes = this.#live('describe');
    return Object.freeze({
      width: this.width,
      height: this.height,
      format: this.format.code,
      formatName: this.format.name,
      modifier: this.modifier,
      planes: Object.freeze(planes.map((p) => Object.freeze({ fd: p.buffer.fd, offset: p.offset, stride: p.stride, size: p.size }))),
    });
  }

  /** The object Electron's `sharedTexture.importSharedTexture({ textureInfo })` takes. */
  toElectron(): {
    pixelFormat: string;
    codedSize: { width: number; height: number };
    handle: { nativePixmap: { planes: { fd: number; stride: number; offset: number; size: number }[]; modifier: string } };
  } {
    const d = this.describe();
    const pixelFormat = Object.keys(ELECTRON_FORMATS).find((k) => ELECTRON_FORMATS[k] === this.format.name);
    if (!pixelFormat) {
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `Electron has no pixelFormat for ${this.format.name}; it takes ${Object.values(ELECTRON_FORMATS).join(', ')}`,
        {
          syscall: 'Frame.toElectron',
        },
      );
    }
    const modifier = this.modifier === DRM_FORMAT_MOD_INVALID && this.#allocated ? DRM_FORMAT_MOD_LINEAR : this.modifier;
    return {
      pixelFormat,
      codedSize: { width: this.width, height: this.height },
      handle: {
        nativePixmap: { planes: d.planes.map((p) => ({ fd: p.fd, stride: p.stride, offset: p.offset, size: p.size })), modifier: modifier.toString() },
      },
    };
  }

  /** Refuse CPU access to layouts the CPU does not know, before any buffer is mapped. */
  #checkLinear(): void {
    if (this.modifier === DRM_FORMAT_MOD_LINEAR || (this.modifier === DRM_FORMAT_MOD_INVALID && this.#allocated)) return;
    const what = this.modifier === DRM_FORMAT_MOD_INVALID ? 'DRM_FORMAT_MOD_INVALID (a driver-defined layout)' : `modifier 0x${this.modifier.toString(16)}`;
    throw new DmaBufError(
      MisuseCode.UNSUPPORTED,
      `this ${this.format.name} frame has ${what}: its layout is device-specific (tiled or compressed) and the CPU cannot read it as rows; ask the producer for DRM_FORMAT_MOD_LINEAR`,
      { syscall: 'DMA_BUF_IOCTL_SYNC', argument: 'modifier' },
    );
  }

  /** Each distinct buffer and the linear span its planes use. */
  #spans(): { buffer: DmaBuf; start: number; end: number }[] {
    const spans = new Map<DmaBuf, { buffer: DmaBuf; start: number; end: number }>();
    for (const p of this.#planes) {
      const s = spans.get(p.buffer);
      if (s) {
        s.start = Math.min(s.start, p.offset);
        s.end = Math.max(s.end, p.offset + p.size);
      } else spans.set(p.buffer, { buffer: p.buffer, start: p.offset, end: p.offset + p.size });
    }
    return [...spans.values()];
  }

  #access(mode: AccessMode, spans: { buffer: DmaBuf; start: number }[], accesses: CpuAccess[]): FrameAccess {
    const planes = this.#planes.map((p, i) => {
      const index = spans.findIndex((s) => s.buffer === p.buffer);
      const access = accesses[index] as CpuAccess;
      const start = p.offset - (spans[index] as { start: number }).start;
      const { rowBytes, rows } = planeGeometry(this.format, i, this.width, this.height);
      return { access, start, length: p.stride * (rows - 1) + rowBytes, stride: p.stride, rowBytes, rows };
    });
    this.#open = new FrameAccess(mode, accesses, planes);
    return this.#open;
  }

  /** Bracket every distinct buffer (START on all before any byte is handed out), blocking for fences. */
  beginCpuAccess(mode: AccessMode, options?: { timeoutMs?: number }): FrameAccess {
    this.#live('beginCpuAccess');
    const checkedMode = checkAccessMode('DMA_BUF_IOCTL_SYNC', mode);
    this.#checkLinear();
    const spans = this.#spans();
    const accesses: CpuAccess[] = [];
    try {
      for (const s of spans) accesses.push(s.buffer.beginCpuAccess(checkedMode, region.linear({ offset: s.start, length: s.end - s.start }), options));
    } catch (error) {
      endAll(accesses);
      throw error;
    }
    return this.#access(checkedMode, spans, accesses);
  }

  /** As beginCpuAccess, waiting for fences on the event loop. */
  async cpuAccess(mode: AccessMode, options?: WaitOptions): Promise<FrameAccess> {
    this.#live('cpuAccess');
    const checkedMode = checkAccessMode('DMA_BUF_IOCTL_SYNC', mode);
    checkTimeout('DMA_BUF_IOCTL_SYNC', options);
    checkSignal('DMA_BUF_IOCTL_SYNC', options);
    this.#checkLinear();
    const spans = this.#spans();
    const accesses: CpuAccess[] = [];
    try {
      for (const s of spans) accesses.push(await s.buffer.cpuAccess(checkedMode, region.linear({ offset: s.start, length: s.end - s.start }), options));
    } catch (error) {
      endAll(accesses);
      throw error;
    }
    return this.#access(checkedMode, spans, accesses);
  }

  /** Runs `fn` inside one bracket over every plane; END for all buffers also when `fn` throws. */
  withCpuAccess<T>(mode: AccessMode, fn: (access: FrameAccess) => T): T {
    if (typeof fn !== 'function') throw invalidType('DMA_BUF_IOCTL_SYNC', 'fn', 'a function', fn);
    const access = this.beginCpuAccess(mode);
    let result: T;
    try {
      result = fn(access);
    } catch (error) {
      access.end();
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => access.end()) as T;
    access.end();
    return result;
  }

  /** Close the buffers this frame opened (imports, allocations); DmaBufs passed in stay open. */
  close(): void {
    if (this.#closed) return;
    // Refused before anything changes, like DmaBuf.close(): the frame stays open and usable, and
    // closing it after end() releases its buffers.
    if (this.#open && !this.#open.ended) {
      throw new DmaBufError(MisuseCode.CLOSE_IN_BRACKET, 'close(): a CPU-access bracket is open on this Frame; end() it first', { syscall: 'close' });
    }
    this.#open = undefined;
    this.#closed = true;
    for (const b of this.#owned) b.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    if (this.#closed) return inspectObject('Frame', { closed: true }, depth, options);
    return inspectObject(
      'Frame',
      {
        format: this.format.name,
        width: this.width,
        height: this.height,
        modifier: `0x${this.modifier.toString(16)}`,
        planes: this.#planes.length,
        buffers: new Set(this.#planes.map((p) => p.buffer)).size,
      },
      depth,
      options,
    );
  }
}

/** An open bracket over a frame's buffers. */
export class FrameAccess {
  readonly mode: AccessMode;
  readonly #accesses: readonly CpuAccess[];
  readonly #planes: readonly { access: CpuAccess; start: number; length: number; stride: number; rowBytes: number; rows: number }[];

  /** @internal */
  constructor(mode: AccessMode, accesses: readonly CpuAccess[], planes: FrameAccess['_planes']) {
    this.mode = mode;
    this.#accesses = accesses;
    this.#planes = planes;
  }

  /** @internal */
  get _planes(): readonly { access: CpuAccess; start: number; length: number; stride: number; rowBytes: number; rows: number }[] {
    return this.#planes;
  }

  get ended(): boolean {
    return this.#accesses.every((a) => a.ended);
  }

  /** Plane `index`: its bytes and rows, views into the bracket (detached at end()). */
  plane(index: number): PlaneAccess {
    const p = this.#planes[checkInteger('plane', 'index', index, 0, this.#planes.length - 1)];
    if (!p || p.access.ended) throw new DmaBufError(MisuseCode.NOT_IN_BRACKET, 'the frame access has ended', { syscall: 'DMA_BUF_IOCTL_SYNC' });
    const bytes = p.access.bytes.subarray(p.start, p.start + p.length);
    return {
      bytes,
      stride: p.stride,
      rowBytes: p.rowBytes,
      *rows() {
        for (let r = 0; r < p.rows; r++) yield bytes.subarray(r * p.stride, r * p.stride + p.rowBytes);
      },
    };
  }

  /** END on every buffer (each with its START flags), also when one fails; the first failure is thrown after. */
  end(): void {
    if (this.ended) throw new DmaBufError(MisuseCode.NOT_IN_BRACKET, 'end() on a frame access that has ended', { syscall: 'DMA_BUF_IOCTL_SYNC' });
    endAll(this.#accesses);
  }

  [Symbol.dispose](): void {
    if (!this.ended) endAll(this.#accesses);
  }
}
