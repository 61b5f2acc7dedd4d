/**
 * Frame: an image of up to four planes with a DRM format and modifier, the way Wayland's
 * linux-dmabuf, V4L2, GStreamer, EGL and Electron describe what they hand each other. Planes are
 * (buffer, offset, stride) triples; several may share one buffer (NV12 in one allocation). CPU
 * access brackets every distinct buffer once, over the span its planes use, and hands out each
 * plane's rows. Only DRM_FORMAT_MOD_LINEAR has a layout the CPU knows.
 */
import { inspectObject } from './inspect.js';
import { checkToken } from './lifecycle.js';
import { inspect } from 'node:util';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import { DmaBuf } from './dmabuf.js';
import type { DmaHeap } from './heap.js';
import type { CpuAccess } from './cpu-access.js';
import { region } from './region.js';
import { drmFormat, drmModifier, DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, EMULATED_TILED_MODIFIER, planeGeometry, type DrmFormat } from './drm-format.js';
import { checkAccessMode, checkFd, checkInteger, checkObject, checkOptions, checkSignal, checkTimeout, type AccessMode, type WaitOptions } from './validate.js';
import {
  checkColorSpace,
  checkMetadata,
  checkRect,
  checkTimestamp,
  METADATA_KEYS,
  type FrameColorSpace,
  type FrameMetadata,
  type FrameRect,
} from './frame-metadata.js';
import { decodeFrameMessage, encodeFrameMessage, encodeRelease } from './frame-message.js';
import { electronTextureToDescription, frameToElectron, type ElectronTextureInfo, type ElectronImportInfo } from './frame-electron.js';
import type { SharedHandle } from './share.js';

const SYSCALL = 'Frame';

export interface FramePlane {
  readonly buffer: DmaBuf;
  readonly offset: number;
  readonly stride: number;
  /** Bytes the plane occupies: stride × (rows − 1) + row bytes, or what the producer said. */
  readonly size: number;
}

export interface FrameDescription extends FrameMetadata {
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

/**
 * @internal What a pooled frame knows of its pool: that its holder let go (close), and how to
 * record a consumer's hold (a loan) that the pool waits for before reusing the frame.
 */
export interface FrameLender {
  returned(frame: Frame): void;
  lend(frame: Frame): () => void;
}

/** What Frame.allocate (and FramePool.allocate, with `count`) takes. */
export interface FrameAllocateOptions {
  width: number;
  height: number;
  format: string | number;
  /** Each row padded to, and each plane starting at, a multiple of this (default 64). */
  strideAlign?: number;
  name?: string;
  /** Only DRM_FORMAT_MOD_LINEAR may be asked for. */
  modifier?: bigint;
  colorSpace?: FrameColorSpace;
  visibleRect?: FrameRect;
}

/** A frame shared with another worker thread (frame.share()), for Frame.fromShared. */
export interface SharedFrame extends FrameMetadata {
  readonly kind: 'dmabuf.Frame';
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly modifier: bigint;
  readonly planes: readonly { buffer: number; offset: number; stride: number; size: number }[];
  readonly buffers: readonly SharedHandle<'dmabuf.DmaBuf'>[];
}

/** A DRM modifier whose layout is defined by the buffer's rows (CPU-readable) or by nobody yet. */
function isLinearOrImplicit(modifier: bigint): boolean {
  return modifier === DRM_FORMAT_MOD_LINEAR || modifier === DRM_FORMAT_MOD_INVALID;
}

const token = Symbol('Frame');

export class Frame {
  readonly width: number;
  readonly height: number;
  readonly format: DrmFormat;
  readonly modifier: bigint;
  readonly #planes: readonly FramePlane[];
  /** Buffers this frame opened itself (imports and allocations), closed with it. */
  readonly #owned: DmaBuf[];
  readonly #allocated: boolean;
  #closed = false;
  /** The frame's latest bracket: close() and exports refuse while it is open. */
  #open: FrameAccess | undefined;
  #colorSpace: FrameColorSpace | undefined;
  #visibleRect: FrameRect | undefined;
  #timestamp: number | undefined;
  /** A pooled frame's pool: close() gives the frame back, loans hold it out. */
  readonly #lender: FrameLender | undefined;
  /** Run once when the frame closes (a received lent frame sends its release). */
  #onClose: (() => void) | undefined;

  private constructor(
    t: symbol,
    init: {
      width: number;
      height: number;
      format: DrmFormat;
      modifier: bigint;
      planes: readonly FramePlane[];
      owned: DmaBuf[];
      allocated: boolean;
      metadata: FrameMetadata;
      lender?: FrameLender;
    },
  ) {
    checkToken(t, token, 'Frame', 'Frame.allocate(), Frame.fromPlanes() or a FramePool');
    this.width = init.width;
    this.height = init.height;
    this.format = init.format;
    this.modifier = init.modifier;
    this.#planes = init.planes;
    this.#owned = init.owned;
    this.#allocated = init.allocated;
    this.#colorSpace = init.metadata.colorSpace;
    this.#visibleRect = init.metadata.visibleRect;
    this.#timestamp = init.metadata.timestamp;
    this.#lender = init.lender;
  }

  /**
   * One buffer holding every plane, each row padded to `strideAlign` bytes (default 64) and each
   * plane starting at a multiple of it. `allocator` is a DmaHeap, `Udmabuf`, or an emulation's heap.
   */
  static allocate(allocator: FrameAllocator, options: FrameAllocateOptions): Frame {
    const opts = checkOptions(SYSCALL, options, ['width', 'height', 'format', 'strideAlign', 'name', 'modifier', 'colorSpace', 'visibleRect']);
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
    const metadata = checkMetadata(SYSCALL, { colorSpace: opts['colorSpace'], visibleRect: opts['visibleRect'] }, width, height);
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
    return new Frame(token, { width, height, format, modifier, planes, owned: [buffer], allocated: true, metadata });
  }

  /** @internal A pool's frame: the pool's planes, not owned (the pool closes them), lent through `lender`. */
  static _pooled(template: Frame, lender: FrameLender): Frame {
    return new Frame(token, {
      width: template.width,
      height: template.height,
      format: template.format,
      modifier: template.modifier,
      planes: template.#planes,
      owned: [],
      allocated: template.#allocated,
      metadata: { ...(template.#colorSpace && { colorSpace: template.#colorSpace }), ...(template.#visibleRect && { visibleRect: template.#visibleRect }) },
      lender,
    });
  }

  /**
   * A frame over planes a producer describes: each `{ buffer | fd, offset, stride, size? }`.
   * `fd` planes are imported (dup'd: the caller keeps its own fds, and may close them at once) and
   * closed with the frame; `buffer` planes are borrowed: the frame never closes a DmaBuf it was
   * given. Planes sharing one buffer (the same inode) share one holder.
   *
   * `modifier` absent means DRM_FORMAT_MOD_INVALID: "the layout the producer and its driver agreed
   * on", as in Wayland's linux-dmabuf and Chromium. Such a frame is described and passed on, but CPU
   * access needs the layout said: pass `modifier: 0n` (DRM_FORMAT_MOD_LINEAR) when the rows are
   * plain rows. A tiled or compressed modifier may bring extra planes (compression metadata) with
   * strides of its own; those frames are checked for bounds only, and never CPU-accessed.
   * Everything is checked before any buffer is imported.
   */
  static fromPlanes(description: {
    width: number;
    height: number;
    format: string | number;
    modifier?: bigint | number | string;
    planes: readonly { buffer?: DmaBuf; fd?: number; offset: number; stride: number; size?: number }[];
    colorSpace?: FrameColorSpace;
    visibleRect?: FrameRect;
    timestamp?: number;
  }): Frame {
    const d = checkOptions(SYSCALL, description, ['width', 'height', 'format', 'formatName', 'modifier', 'planes', ...METADATA_KEYS], 'description');
    const width = checkDimension('width', d['width']);
    const height = checkDimension('height', d['height']);
    const format = drmFormat(SYSCALL, d['format']);
    const modifier = d['modifier'] === undefined ? DRM_FORMAT_MOD_INVALID : drmModifier(SYSCALL, d['modifier']);
    const metadata = checkMetadata(SYSCALL, d, width, height);
    const rowLayout = isLinearOrImplicit(modifier);
    const planes = d['planes'];
    if (!Array.isArray(planes)) throw invalidType(SYSCALL, 'planes', 'an array of { buffer | fd, offset, stride }', planes);
    const formatPlanes = format.cpp.length;
    if (rowLayout ? planes.length !== formatPlanes : planes.length < formatPlanes || planes.length > 4) {
      const wanted = rowLayout ? `${formatPlanes}` : `${formatPlanes} to 4 (a tiled or compressed modifier may add metadata planes)`;
      throw invalidArgument(SYSCALL, 'planes', `${format.name} with modifier 0x${modifier.toString(16)} has ${wanted} plane(s), got ${planes.length}`);
    }
    // Check the numbers first (no fd is touched), then import.
    const checked = planes.map((plane: unknown, i) => {
      if (typeof plane !== 'object' || plane === null) throw invalidType(SYSCALL, `planes[${i}]`, 'an object', plane);
      const p = checkOptions(SYSCALL, plane, ['buffer', 'fd', 'offset', 'stride', 'size'], `planes[${i}]`);
      const offset = checkInteger(SYSCALL, `planes[${i}].offset`, p['offset'], 0);
      const stride = checkInteger(SYSCALL, `planes[${i}].stride`, p['stride'], 1, 2 ** 31);
      let size: number | undefined;
      if (rowLayout) {
        const { rowBytes, rows } = planeGeometry(format, i, width, height);
        if (stride < rowBytes)
          throw invalidArgument(SYSCALL, `planes[${i}].stride`, `${stride} is less than a row of ${format.name} at width ${width} (${rowBytes} bytes)`);
        const needed = stride * (rows - 1) + rowBytes;
        size = p['size'] === undefined ? needed : checkInteger(SYSCALL, `planes[${i}].size`, p['size'], 1);
        if (size < needed) throw invalidArgument(SYSCALL, `planes[${i}].size`, `${size} bytes cannot hold ${rows} rows of stride ${stride} (${needed} bytes)`);
      } else if (p['size'] !== undefined) {
        // A tiled layout's size is the producer's to say; without it the plane runs to the buffer's end.
        size = checkInteger(SYSCALL, `planes[${i}].size`, p['size'], 1);
      }
      if (!Number.isSafeInteger(offset + (size ?? 0))) throw invalidArgument(SYSCALL, `planes[${i}].offset`, 'offset + size overflows');
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
        const size = p.size ?? buffer.size - p.offset;
        if (size <= 0 || p.offset + size > buffer.size) {
          throw invalidArgument(SYSCALL, `planes[${i}]`, `[${p.offset}, ${p.offset + size}) lies past the end of its ${buffer.size}-byte buffer`);
        }
        return Object.freeze({ buffer, offset: p.offset, stride: p.stride, size });
      });
      if (rowLayout) refuseOverlaps(format, width, height, framePlanes);
      return new Frame(token, { width, height, format, modifier, planes: framePlanes, owned, allocated: false, metadata });
    } catch (error) {
      for (const b of owned) b.close();
      throw error;
    }
  }

  /**
   * A frame from an Electron offscreen shared texture: pass `texture.textureInfo` of a 'paint'
   * event. Both shapes are read: Electron 34–38 put `planes` and `modifier` on textureInfo itself,
   * 39 and later under `handle.nativePixmap`. The fds are dup'd, so the frame outlives the
   * texture's fds; the pixels do not: Chromium reuses the buffer for later frames once
   * `texture.release()` is called, so read or copy them first.
   */
  static fromElectron(textureInfo: ElectronTextureInfo): Frame {
    return Frame.fromPlanes(electronTextureToDescription(textureInfo));
  }

  /**
   * The frame a peer sent with FdChannel#sendFrame, and the `extra` it sent along. The frame takes
   * over the message's buffers (close the frame, not them). A lent frame (one from the sender's
   * FramePool) is released to its producer when this frame closes.
   */
  static fromMessage(message: { text(): string; buffers: readonly DmaBuf[] }): { frame: Frame; extra: unknown } {
    const m = checkObject('Frame.fromMessage', 'message', message);
    if (typeof m['text'] !== 'function' || !Array.isArray(m['buffers'])) {
      throw invalidType('Frame.fromMessage', 'message', 'a message from FdChannel#receive', message);
    }
    const { body, planes, extra, loan } = decodeFrameMessage(message.text(), message.buffers.length);
    const frame = Frame.fromPlanes({
      ...(body as { width: number; height: number; format: number }),
      planes: planes.map((p) => ({ ...p, buffer: message.buffers[p.buffer] as DmaBuf })),
    });
    frame.#owned.push(...new Set(frame.#planes.map((p) => p.buffer)));
    const reply = (message as { _reply?: (text: string) => void })._reply;
    if (loan !== undefined && reply) frame.#onClose = () => reply(encodeRelease(loan));
    return { frame, extra };
  }

  /**
   * A frame shared by another worker thread (frame.share(), posted over postMessage): new holders
   * of its buffers, closed with this frame. Kernel buffers only; the sharing frame must stay open
   * until this returns.
   */
  static fromShared(handle: SharedFrame): Frame {
    const syscall = 'Frame.fromShared';
    const h = checkOptions(syscall, handle, ['kind', 'width', 'height', 'format', 'modifier', 'planes', 'buffers', ...METADATA_KEYS], 'handle');
    if (h['kind'] !== 'dmabuf.Frame') throw invalidArgument(syscall, 'handle', `is not a shared Frame (its kind is ${String(h['kind'])})`);
    const shared = h['buffers'];
    const planes = h['planes'];
    if (!Array.isArray(shared) || !Array.isArray(planes)) throw invalidArgument(syscall, 'handle', 'has no buffers or planes');
    const buffers: DmaBuf[] = [];
    try {
      for (const b of shared) buffers.push(DmaBuf.fromShared(b));
      const { kind: _kind, buffers: _buffers, planes: _planes, ...rest } = h;
      const frame = Frame.fromPlanes({
        ...(rest as { width: number; height: number; format: number }),
        planes: planes.map((p: unknown, i: number) => {
          const plane = checkOptions(syscall, p, ['buffer', 'offset', 'stride', 'size'], `planes[${i}]`);
          const index = checkInteger(syscall, `planes[${i}].buffer`, plane['buffer'], 0, buffers.length - 1);
          return { offset: plane['offset'] as number, stride: plane['stride'] as number, size: plane['size'] as number, buffer: buffers[index] as DmaBuf };
        }),
      });
      frame.#owned.push(...buffers);
      return frame;
    } catch (error) {
      for (const b of buffers) b.close();
      throw error;
    }
  }

  /** A plain object for postMessage that Frame.fromShared() turns into a frame in another worker. */
  share(): SharedFrame {
    const planes = this.#live('share');
    const buffers = [...new Set(planes.map((p) => p.buffer))];
    return Object.freeze({
      kind: 'dmabuf.Frame',
      ...this.#body(planes, buffers),
      buffers: Object.freeze(buffers.map((b) => b.share())),
    });
  }

  #live(operation: string): readonly FramePlane[] {
    if (this.#closed) {
      if (this.#lender) throw closedError('Frame', `${operation} (this frame was given back to its pool)`);
      throw closedError('Frame', operation);
    }
    return this.#planes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get planes(): readonly FramePlane[] {
    return this.#live('planes');
  }

  /** The producer's colour space (Electron's words), or undefined where it was not said. */
  get colorSpace(): FrameColorSpace | undefined {
    this.#live('colorSpace');
    return this.#colorSpace;
  }

  set colorSpace(value: FrameColorSpace | undefined) {
    this.#colorSpace = checkColorSpace(SYSCALL, 'colorSpace', value);
  }

  /** The part of the coded size that holds the picture, or undefined for all of it. */
  get visibleRect(): FrameRect | undefined {
    this.#live('visibleRect');
    return this.#visibleRect;
  }

  set visibleRect(value: FrameRect | undefined) {
    this.#visibleRect = checkRect(SYSCALL, 'visibleRect', value, this.width, this.height);
  }

  /** Capture time in microseconds, or undefined. A pooled frame starts each acquire without one. */
  get timestamp(): number | undefined {
    this.#live('timestamp');
    return this.#timestamp;
  }

  set timestamp(value: number | undefined) {
    this.#timestamp = checkTimestamp(SYSCALL, 'timestamp', value);
  }

  #metadata(): FrameMetadata {
    return {
      ...(this.#colorSpace === undefined ? {} : { colorSpace: this.#colorSpace }),
      ...(this.#visibleRect === undefined ? {} : { visibleRect: this.#visibleRect }),
      ...(this.#timestamp === undefined ? {} : { timestamp: this.#timestamp }),
    };
  }

  /** The description with planes naming their buffer by index into `buffers` (messages, sharing). */
  #body(planes: readonly FramePlane[], buffers: readonly DmaBuf[]) {
    return {
      width: this.width,
      height: this.height,
      format: this.format.code,
      modifier: this.modifier,
      planes: planes.map((p) => ({ buffer: buffers.indexOf(p.buffer), offset: p.offset, stride: p.stride, size: p.size })),
      ...this.#metadata(),
    };
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
      ...this.#metadata(),
    });
  }

  /**
   * @internal The frame as an FdChannel message: the JSON text and the buffers to send. A pooled
   * frame is lent for the message; `lent` ends the loan (when the peer releases it, or the send fails).
   */
  _toMessage(syscall: string, extra: unknown, lend: (end: () => void) => number): { text: string; buffers: DmaBuf[]; loan: number | undefined } {
    const planes = this.#live(syscall);
    this._refuseOpenWrite(syscall);
    const buffers = [...new Set(planes.map((p) => p.buffer))];
    const body = this.#body(planes, buffers);
    const loan = this.#lender ? lend(this.#lender.lend(this)) : undefined;
    return { text: encodeFrameMessage(body, extra, loan), buffers, loan };
  }

  /**
   * @internal A frame built over received buffers (GStreamer's unixfd): it closes `buffers` with
   * itself, and runs `onClose` once when it closes (the release its producer waits for).
   */
  _adoptReceived(buffers: readonly DmaBuf[], onClose: () => void): void {
    this.#owned.push(...buffers);
    this.#onClose = onClose;
  }

  /** @internal The frame's distinct buffers. */
  _buffers(): DmaBuf[] {
    return [...new Set(this.#live('buffers').map((p) => p.buffer))];
  }

  /** @internal A consumer's hold on a pooled frame (undefined when the frame has no pool). */
  _lend(): (() => void) | undefined {
    this.#live('lend');
    return this.#lender?.lend(this);
  }

  /** @internal Whether a CPU-access bracket is open on this frame. */
  get _inBracket(): boolean {
    return this.#open !== undefined && !this.#open.ended;
  }

  /** @internal Exporting a frame someone is writing hands out half-written pixels: refused. */
  _refuseOpenWrite(syscall: string): void {
    if (this.#open && !this.#open.ended && this.#open.mode !== 'read') {
      throw new DmaBufError(
        MisuseCode.BRACKET_ACTIVE,
        `${syscall}: a '${this.#open.mode}' bracket is open on this frame; end() it before handing the frame on`,
        {
          syscall,
        },
      );
    }
  }

  /**
   * The object Electron's `sharedTexture.importSharedTexture({ textureInfo, … })` takes, in the
   * shape of `electronVersion` (default: this process's Electron). A format that version cannot
   * import is refused, naming the version that can. A pooled frame is lent to Electron until it
   * calls the returned `allReferencesReleased`.
   */
  toElectron(options?: { electronVersion?: string }): ElectronImportInfo {
    const syscall = 'Frame.toElectron';
    const opts = checkOptions(syscall, options, ['electronVersion']);
    const planes = this.#live(syscall);
    this._refuseOpenWrite(syscall);
    // A frame this package allocated without a modifier is linear: say so rather than INVALID.
    const modifier = this.modifier === DRM_FORMAT_MOD_INVALID && this.#allocated ? DRM_FORMAT_MOD_LINEAR : this.modifier;
    return frameToElectron(
      {
        width: this.width,
        height: this.height,
        formatName: this.format.name,
        modifier,
        planes: planes.map((p) => ({ fd: p.buffer.fd, stride: p.stride, offset: p.offset, size: p.size })),
        ...this.#metadata(),
      },
      opts['electronVersion'],
      () => this.#lender?.lend(this),
    );
  }

  /** Refuse CPU access to layouts the CPU does not know, before any buffer is mapped. */
  #checkLinear(): void {
    if (this.modifier === DRM_FORMAT_MOD_LINEAR || (this.modifier === DRM_FORMAT_MOD_INVALID && this.#allocated)) return;
    const fix =
      this.modifier === DRM_FORMAT_MOD_INVALID
        ? "no modifier was given, so the layout is the producer's (DRM_FORMAT_MOD_INVALID); if its rows are plain rows, pass modifier: 0n (DRM_FORMAT_MOD_LINEAR) to Frame.fromPlanes"
        : `modifier 0x${this.modifier.toString(16)} is a device-specific (tiled or compressed) layout the CPU cannot read as rows; ask the producer for DRM_FORMAT_MOD_LINEAR, or pass the frame on to a device`;
    throw new DmaBufError(MisuseCode.UNSUPPORTED, `CPU access to this ${this.format.name} frame: ${fix}`, {
      syscall: 'DMA_BUF_IOCTL_SYNC',
      argument: 'modifier',
    });
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
    this.#open = FrameAccess._open(mode, accesses, planes);
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
    this.#live('withCpuAccess');
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

  /**
   * Close the buffers this frame opened (imports, allocations); DmaBufs passed in stay open. A
   * received lent frame sends its release; a pooled frame goes back to its pool (reused once every
   * loan has ended too).
   */
  close(): void {
    if (this.#closed) return;
    // Refused before anything changes, like DmaBuf.close(): the frame stays open and usable, and
    // closing it after end() releases its buffers.
    if (this.#open && !this.#open.ended) {
      throw new DmaBufError(MisuseCode.CLOSE_IN_BRACKET, 'close(): a CPU-access bracket is open on this Frame; end() it first', { syscall: 'close' });
    }
    this.#open = undefined;
    this.#closed = true;
    const onClose = this.#onClose;
    this.#onClose = undefined;
    try {
      for (const b of this.#owned) b.close();
    } finally {
      // A received lent frame tells its producer; a pooled one goes back to its pool.
      onClose?.();
      this.#lender?.returned(this);
    }
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

const accessToken = Symbol('FrameAccess');

/** An open bracket over a frame's buffers. */
export class FrameAccess {
  readonly mode: AccessMode;
  readonly #accesses: readonly CpuAccess[];
  readonly #planes: readonly { access: CpuAccess; start: number; length: number; stride: number; rowBytes: number; rows: number }[];

  /** @internal Made by Frame#beginCpuAccess, cpuAccess and withCpuAccess. */
  static _open(mode: AccessMode, accesses: readonly CpuAccess[], planes: FrameAccess['_planes']): FrameAccess {
    return new FrameAccess(accessToken, mode, accesses, planes);
  }

  /** Not public: brackets are opened by Frame#beginCpuAccess, cpuAccess and withCpuAccess. */
  private constructor(t: symbol, mode: AccessMode, accesses: readonly CpuAccess[], planes: FrameAccess['_planes']) {
    checkToken(t, accessToken, 'FrameAccess', 'frame.beginCpuAccess(), frame.cpuAccess() or frame.withCpuAccess()');
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
