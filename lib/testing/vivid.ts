/**
 * A virtual camera for tests: vivid, the kernel's virtual V4L2 driver (drivers/media/test-drivers/
 * vivid), a real videobuf2 driver that Debian's kernels build as a module. It writes a test pattern
 * into OUR dma-bufs (V4L2_MEMORY_DMABUF: the driver imports the buffer and vmaps it, as a camera's
 * DMA would write it), and exports its own buffers (V4L2_MEMORY_MMAP + VIDIOC_EXPBUF), so a
 * pipeline's code meets a real importer and a real exporter in CI.
 *
 * Policy lives here; the ioctls are lib/backend/kernel/v4l2.ts over native/v4l2.cc. Every failure
 * leaves nothing behind: the queue is stopped (STREAMOFF returns every queued buffer) and freed
 * (REQBUFS 0 drops the driver's attachment to our dma-buf), and the buffers made are closed.
 */
import { inspect } from 'node:util';
import { withHint } from '../backend/kernel/errors.js';
import { openCaptureNode, type V4l2Device, type V4l2PixFormat } from '../backend/kernel/v4l2.js';
import { DmaBuf } from '../dmabuf.js';
import { DRM_FORMATS, drmFormat, type DrmFormat } from '../drm-format.js';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from '../common/errors.js';
import { Frame } from '../frame.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkInteger, checkOptions, checkTimeout } from '../validate.js';

/** The patterns setPattern() takes, and the item of vivid's "Test Pattern" menu each selects (v4l2-tpg's tpg_pattern_strings). */
export const VIVID_PATTERNS = Object.freeze({
  colorbars: '100% Colorbar',
  'colorbars-75': '75% Colorbar',
  'solid-black': '100% Black',
  'solid-white': '100% White',
  'solid-red': '100% Red',
  'solid-green': '100% Green',
  'solid-blue': '100% Blue',
  checkers: '16x16 Checkers',
  'gray-ramp': 'Gray Ramp',
  noise: 'Noise',
} as const);
export type VividPattern = keyof typeof VIVID_PATTERNS;

/**
 * The DRM formats whose V4L2 twin has the same memory layout and the same fourcc: YUYV, NV12, NV21,
 * NV16, YU12 (V4L2_PIX_FMT_YUV420) by name; DRM's XRGB8888/ARGB8888 ('XR24'/'AR24', bytes B G R X/A)
 * are V4L2's XBGR32/ABGR32, which videodev2.h gives the same fourcc for the same byte order.
 */
const FORMATS: readonly string[] = ['YUYV', 'NV12', 'NV21', 'NV16', 'YUV420', 'XRGB8888', 'ARGB8888'];

/** What setFormat() answers: the format the driver took. `stride` is bytesperline, `size` sizeimage. */
export interface VividFormat {
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly stride: number;
  readonly size: number;
}

/** What a capture brought: the driver's frame counter, bytes written, and its timestamp (CLOCK_MONOTONIC, µs). */
export interface VividCapture {
  readonly sequence: number;
  readonly bytesused: number;
  readonly timestampUs: number;
}

const openToken = Symbol('VividCamera.open');
/** How long a capture waits by default: vivid makes a frame every 1/30 s or so, but an emulated VM's first frame after STREAMON can take seconds. */
const DEFAULT_TIMEOUT_MS = 30_000;

function timeoutOf(operation: string, options: { timeoutMs?: number } | undefined): number {
  return options?.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : checkTimeout(operation, options);
}

function toVividFormat(pix: V4l2PixFormat, format: DrmFormat): VividFormat {
  return Object.freeze({ width: pix.width, height: pix.height, format: format.name, stride: pix.bytesperline, size: pix.sizeimage });
}

/**
 * Where a single-planar V4L2 buffer of this format keeps its planes: one after the other from
 * offset 0, each chroma plane's bytesperline derived from the first's (the V4L2 single-planar
 * convention, videodev2.h / "Single-planar format structure": planar formats in one buffer put
 * the chroma planes right after the luma plane, with strides following from its bytesperline).
 */
export function v4l2PlaneLayout(format: DrmFormat, height: number, stride: number): { offset: number; stride: number }[] {
  const cpp0 = format.cpp[0] as number;
  const planes: { offset: number; stride: number }[] = [];
  let offset = 0;
  for (let p = 0; p < format.cpp.length; p++) {
    const planeStride = p === 0 || format.packed ? stride : (stride * (format.cpp[p] as number)) / (cpp0 * format.hsub);
    planes.push({ offset, stride: planeStride });
    offset += planeStride * (p === 0 ? height : Math.ceil(height / format.vsub));
  }
  return planes;
}

export class VividCamera {
  readonly #owned: Owned<V4l2Device>;
  #format: VividFormat;
  /** Which memory the capture queue holds buffers of (REQBUFS), if any. */
  #memory: 'dmabuf' | 'mmap' | undefined;
  #streaming = false;
  #busy = false;
  /** exportFrames()' frames by buffer index, and which of them are dequeued (out with the caller). */
  #exported: Frame[] = [];
  #exportedBuffers: DmaBuf[] = [];
  readonly #out = new Set<number>();

  private constructor(token: symbol, device: V4l2Device) {
    checkToken(token, openToken, 'VividCamera', 'VividCamera.open()');
    this.#owned = new Owned(this, 'VividCamera', device);
    this.#format = this.#read(device.getFormat('capture'));
  }

  /**
   * Open the first vivid capture node (QUERYCAP driver "vivid", a single-planar streaming capture
   * node), with the on-screen text off so captures are pixel-exact. `instance` picks one of the
   * instances `modprobe vivid n_devs=N` made (their bus_info is "platform:vivid-NNN", vivid-core.c);
   * by default the first node of any. ERR_DMABUF_UNSUPPORTED where there is none.
   */
  static open(options?: { instance?: number }): VividCamera {
    const o = checkOptions('open', options, ['instance']);
    const instance = o['instance'] === undefined ? undefined : checkInteger('open', 'instance', o['instance'], 0, 63);
    const busInfo = instance === undefined ? undefined : `platform:vivid-${String(instance).padStart(3, '0')}`;
    const found = openCaptureNode('vivid', busInfo);
    if (!found) {
      const which = instance === undefined ? 'no vivid capture node' : `no capture node of vivid instance ${instance} (${busInfo})`;
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `${which} (/dev/video* whose QUERYCAP driver is "vivid"): load the driver with \`sudo modprobe vivid${instance ? ` n_devs=${instance + 1}` : ''}\` (CONFIG_VIDEO_VIVID); it needs read-write access to the node (group video)`,
        { syscall: 'VIDIOC_QUERYCAP' },
      );
    }
    const { device } = found;
    try {
      const camera = new VividCamera(openToken, device);
      camera.#selectMenu('OSD Text Mode', 'None');
      return camera;
    } catch (error) {
      device.close();
      throw error;
    }
  }

  #live(operation: string): V4l2Device {
    return this.#owned.live(operation);
  }

  #read(pix: V4l2PixFormat): VividFormat {
    const format = FORMATS.map((n) => DRM_FORMATS[n] as DrmFormat).find((f) => f.code === pix.pixelformat >>> 0);
    // A format set by someone else (v4l2-ctl) that frames cannot describe: named by its fourcc.
    if (!format) {
      const fourcc = String.fromCharCode(
        pix.pixelformat & 0xff,
        (pix.pixelformat >> 8) & 0xff,
        (pix.pixelformat >> 16) & 0xff,
        (pix.pixelformat >>> 24) & 0xff,
      );
      return Object.freeze({ width: pix.width, height: pix.height, format: fourcc, stride: pix.bytesperline, size: pix.sizeimage });
    }
    return toVividFormat(pix, format);
  }

  /** The node's path (/dev/videoN). */
  get path(): string {
    return this.#live('path').path;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The format the driver holds now. */
  get format(): VividFormat {
    this.#live('format');
    return this.#format;
  }

  /** The DRM formats this camera can capture frames in (vivid's list, less what frames cannot describe). */
  formats(): string[] {
    const offered = new Set(this.#live('formats').formats('capture'));
    return FORMATS.filter((n) => offered.has((DRM_FORMATS[n] as DrmFormat).code));
  }

  #checkFormat(operation: string, value: unknown): DrmFormat {
    const format = drmFormat(operation, value);
    if (!this.formats().includes(format.name)) {
      throw invalidArgument(operation, 'format', `vivid offers ${this.formats().join(', ')} as frames here, not ${format.name}`);
    }
    return format;
  }

  /**
   * Set the capture format (VIDIOC_S_FMT). vivid's webcam input snaps the size to the nearest it
   * has (320×180, 640×360, 640×480, 1280×720, 1920×1080, …) and takes any bytesperline from the
   * row's bytes up ("This driver supports custom bytesperline values", vivid-vid-cap.c): the
   * answer is what the driver took. The queue is stopped and freed first (S_FMT is EBUSY while
   * buffers are allocated, vb2_is_busy).
   */
  setFormat(options: { width: number; height: number; format: string; stride?: number }): VividFormat {
    const operation = 'VIDIOC_S_FMT';
    this.#live(operation);
    const o = checkOptions(operation, options, ['width', 'height', 'format', 'stride']);
    const width = checkInteger(operation, 'width', o['width'], 1, 1 << 16);
    const height = checkInteger(operation, 'height', o['height'], 1, 1 << 16);
    const stride = o['stride'] === undefined ? 0 : checkInteger(operation, 'stride', o['stride'], 1, 1 << 20);
    const format = this.#checkFormat(operation, o['format']);
    this.#refuseExported(operation);
    return this.#apply(format, width, height, stride, false);
  }

  #apply(format: DrmFormat, width: number, height: number, stride: number, tryOnly: boolean): VividFormat {
    const device = this.#live('VIDIOC_S_FMT');
    if (!tryOnly) this.#release();
    const pix = device.setFormat('capture', { width, height, pixelformat: format.code, bytesperline: stride }, tryOnly);
    const taken = toVividFormat(pix, format);
    if (!tryOnly) this.#format = taken;
    return taken;
  }

  #selectMenu(controlName: string, item: string, id?: number): void {
    const device = this.#live('VIDIOC_S_CTRL');
    const control = id === undefined ? device.findControl(controlName) : device.queryControl(id);
    if (!control)
      throw new DmaBufError(MisuseCode.UNSUPPORTED, `${device.path} has no '${controlName}' control: is it vivid?`, { syscall: 'VIDIOC_QUERYCTRL' });
    for (const [index, name] of device.menu(control)) {
      if (name === item) {
        device.setControl(control.id, index);
        return;
      }
    }
    throw new DmaBufError(MisuseCode.UNSUPPORTED, `${device.path}'s '${controlName}' control has no item '${item}'`, { syscall: 'VIDIOC_QUERYMENU' });
  }

  /**
   * Select the test pattern, by the name of its item in the pattern menu (the numbering of
   * v4l2-tpg's menu is not uapi). The standard V4L2_CID_TEST_PATTERN where the driver has it;
   * vivid has its own "Test Pattern" control instead (VIVID_CID_TEST_PATTERN, a vivid-private id,
   * vivid-ctrls.c), found by its name. Applies from the next frame the driver generates.
   */
  setPattern(pattern: VividPattern): void {
    const operation = 'VIDIOC_S_CTRL';
    const device = this.#live(operation);
    if (typeof pattern !== 'string') throw invalidType(operation, 'pattern', `one of ${Object.keys(VIVID_PATTERNS).join(', ')}`, pattern);
    if (!Object.hasOwn(VIVID_PATTERNS, pattern)) {
      throw invalidArgument(operation, 'pattern', `unknown pattern '${pattern}'; known: ${Object.keys(VIVID_PATTERNS).join(', ')}`);
    }
    const item = VIVID_PATTERNS[pattern];
    const standard = device.queryControl(device.testPatternControlId);
    this.#selectMenu('Test Pattern', item, standard?.id);
  }

  /**
   * Make the driver fail the next time it reaches a step, with vivid's error-injection buttons
   * (vivid-ctrls.c, the "Streaming" controls): 'qbuf' (the next VIDIOC_QBUF fails in buf_prepare),
   * 'streamon' (start_streaming fails), 'buffer' (the next filled buffer comes back with
   * V4L2_BUF_FLAG_ERROR), 'fatal' (vb2_queue_error: DQBUF fails and poll reports POLLERR until the
   * queue is stopped). What a pipeline's error handling meets with a real camera that fails.
   */
  injectError(kind: 'qbuf' | 'streamon' | 'buffer' | 'fatal'): void {
    const operation = 'VIDIOC_S_CTRL';
    const device = this.#live(operation);
    const names = {
      qbuf: 'Inject VIDIOC_QBUF Error',
      streamon: 'Inject VIDIOC_STREAMON Error',
      buffer: 'Inject V4L2_BUF_FLAG_ERROR',
      fatal: 'Inject Fatal Streaming Error',
    };
    if (typeof kind !== 'string' || !Object.hasOwn(names, kind))
      throw invalidArgument(operation, 'kind', `one of ${Object.keys(names).join(', ')}, got ${String(kind)}`);
    const name = names[kind];
    const control = device.findControl(name);
    if (!control) throw new DmaBufError(MisuseCode.UNSUPPORTED, `${device.path} has no '${name}' control: is it vivid?`, { syscall: 'VIDIOC_QUERYCTRL' });
    // A button control: writing any value presses it.
    device.setControl(control.id, 1);
  }

  #refuseExported(operation: string): void {
    if (this.#exported.length > 0) {
      throw new DmaBufError('EBUSY', `${operation}: the camera streams into the frames exportFrames() made; close() the camera to use it otherwise`, {
        syscall: operation,
      });
    }
  }

  #refuseBusy(operation: string): void {
    if (this.#busy) throw new DmaBufError('EBUSY', `${operation}: a capture is in progress on this camera; await it first`, { syscall: operation });
  }

  /** What a frame needs from the driver: its format, size and stride; and its planes where V4L2 puts them. */
  #formatFor(frame: Frame, operation: string): { format: DrmFormat; buffer: DmaBuf } {
    if (frame.closed) throw closedError('Frame', operation);
    if (frame._inBracket) {
      throw new DmaBufError(MisuseCode.BRACKET_ACTIVE, `${operation}: a CPU-access bracket is open on this frame; end() it before the camera writes into it`, {
        syscall: operation,
      });
    }
    if (frame.modifier !== 0n)
      throw invalidArgument(
        operation,
        'frame',
        `the camera writes plain rows (DRM_FORMAT_MOD_LINEAR); this frame's modifier is 0x${frame.modifier.toString(16)}`,
      );
    const format = this.#checkFormat(operation, frame.format.name);
    const planes = frame.planes;
    const buffer = (planes[0] as (typeof planes)[number]).buffer;
    if (planes.some((p) => p.buffer !== buffer)) {
      throw invalidArgument(operation, 'frame', 'a single-planar V4L2 capture fills one buffer: every plane must be in the same DmaBuf');
    }
    const stride = (planes[0] as (typeof planes)[number]).stride;
    // TRY_FMT changes nothing: what the driver would take for this size and stride.
    const taken = this.#apply(format, frame.width, frame.height, stride, true);
    if (taken.width !== frame.width || taken.height !== frame.height || taken.stride !== stride) {
      throw invalidArgument(
        operation,
        'frame',
        `vivid takes ${taken.width}×${taken.height} with stride ${taken.stride} for a ${frame.width}×${frame.height} ${format.name} frame with stride ${stride}; ` +
          'its webcam input has fixed sizes (320×180, 640×360, 640×480, 1280×720, 1920×1080) and needs a stride of at least the row bytes',
      );
    }
    const layout = v4l2PlaneLayout(format, frame.height, stride);
    planes.forEach((p, i) => {
      const want = layout[i] as { offset: number; stride: number };
      if (p.offset !== want.offset || p.stride !== want.stride) {
        throw invalidArgument(
          operation,
          `frame.planes[${i}]`,
          `at offset ${p.offset} with stride ${p.stride}, but a single-planar ${format.name} capture with stride ${stride} writes plane ${i} at offset ${want.offset} with stride ${want.stride}`,
        );
      }
    });
    if (
      taken.stride !== this.#format.stride ||
      taken.width !== this.#format.width ||
      taken.height !== this.#format.height ||
      format.name !== this.#format.format
    ) {
      this.#apply(format, frame.width, frame.height, stride, false);
    }
    return { format, buffer };
  }

  /**
   * The driver writes the next frame into `target` (V4L2_MEMORY_DMABUF): a Frame (the camera's
   * format follows the frame's size, format and stride; its planes must be where V4L2 puts them)
   * or a DmaBuf (the current format). QBUF our fd, STREAMON, and DQBUF once the fd polls readable,
   * on the event loop. The driver keeps its attachment to the last buffer until the next capture
   * or close() (videobuf2 reuses it when the same dma-buf is queued again).
   */
  async captureInto(target: Frame | DmaBuf, options?: { timeoutMs?: number }): Promise<VividCapture> {
    const operation = 'VIDIOC_QBUF';
    this.#live(operation);
    const timeoutMs = timeoutOf(operation, options);
    this.#refuseBusy(operation);
    this.#refuseExported(operation);
    let buffer: DmaBuf;
    if (target instanceof Frame) {
      buffer = this.#formatFor(target, operation).buffer;
    } else if (target instanceof DmaBuf) {
      if (target.closed) throw closedError('DmaBuf', operation);
      buffer = target;
    } else {
      throw invalidType(operation, 'target', 'a Frame or a DmaBuf', target);
    }
    if (!buffer.supports.realFds) throw invalidArgument(operation, 'target', 'the camera is a kernel driver: it needs a kernel DmaBuf, not an emulated one');
    const need = this.#format.size;
    if (buffer.size < need) {
      throw invalidArgument(
        operation,
        'target',
        `buffer '${buffer.name}' has ${buffer.size} bytes, and the ${this.#format.width}×${this.#format.height} ${this.#format.format} format with stride ${this.#format.stride} needs ${need} (sizeimage): videobuf2 would refuse it`,
      );
    }
    const device = this.#live(operation);
    this.#busy = true;
    try {
      if (this.#memory !== 'dmabuf') {
        this.#memory = 'dmabuf';
        device.requestBuffers('capture', 'dmabuf', 1);
      }
      try {
        device.queueDmaBuf('capture', 0, buffer.fd, buffer.size);
      } catch (error) {
        // videobuf2-dma-contig maps an import at QBUF and refuses it with EFAULT when its pages
        // are not one contiguous DMA range (vb2_dc_map_dmabuf, "contiguous chunk is too small").
        withHint(error, {
          EFAULT: `the driver could not map buffer '${buffer.name}' (exporter ${buffer.exporter}) as one contiguous range: a device without an IOMMU that needs contiguous memory (videobuf2-dma-contig, vivid allocators=1) refuses scattered pages such as udmabuf's or the system heap's; allocate from a CMA heap instead`,
        });
      }
      if (!this.#streaming) {
        device.streamOn('capture');
        this.#streaming = true;
      }
      const done = await this.#dequeue(device, 'dmabuf', timeoutMs, 'the capture into your buffer');
      return Object.freeze({ sequence: done.sequence, bytesused: done.bytesused, timestampUs: done.timestampUs });
    } catch (error) {
      this.#releaseAfter(error);
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  async #dequeue(
    device: V4l2Device,
    memory: 'dmabuf' | 'mmap',
    timeoutMs: number,
    what: string,
  ): Promise<{ index: number; sequence: number; bytesused: number; timestampUs: number }> {
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const done = device.dequeue('capture', memory);
      if (done) {
        if (device.failed(done)) {
          // V4L2_BUF_FLAG_ERROR: the driver dequeued the buffer without valid data in it.
          throw new DmaBufError('EIO', `${what} failed: the driver returned the buffer with V4L2_BUF_FLAG_ERROR`, { syscall: 'VIDIOC_DQBUF' });
        }
        return done;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new DmaBufError('ETIMEDOUT', `${what} brought no frame within ${timeoutMs} ms`, { syscall: 'VIDIOC_DQBUF' });
      const revents = await device.waitDone('capture', left === Infinity ? -1 : Math.ceil(left));
      if (this.#owned.current !== device) throw closedError('VividCamera', 'VIDIOC_DQBUF');
      if (revents & device.POLLERR) {
        // vb2_poll: POLLERR when the queue is not streaming or has nothing queued (nothing will come).
        throw new DmaBufError('EIO', `${what}: the driver reports POLLERR (the queue stopped or holds no buffer)`, { syscall: 'poll' });
      }
    }
  }

  /**
   * Let the driver allocate `count` buffers of the current format (V4L2_MEMORY_MMAP), export each
   * as a dma-buf (VIDIOC_EXPBUF) and start streaming into them: Frames whose buffers' exporter is
   * vivid's videobuf2 allocator (videobuf2_vmalloc by default). The camera owns them: capture()
   * hands out the next filled one, release(frame) gives it back, close() closes them all. The
   * driver may allocate more than `count` (its minimum); every buffer it made is returned.
   */
  exportFrames(count: number): readonly Frame[] {
    const operation = 'VIDIOC_EXPBUF';
    const device = this.#live(operation);
    checkInteger(operation, 'count', count, 1, 32);
    this.#refuseBusy(operation);
    this.#refuseExported(operation);
    const fmt = this.#format;
    const format = DRM_FORMATS[fmt.format];
    if (!format || !FORMATS.includes(format.name))
      throw invalidArgument(operation, 'format', `the camera's format ${fmt.format} cannot be described as a Frame; setFormat() first`);
    this.#release();
    const frames: Frame[] = [];
    const buffers: DmaBuf[] = [];
    try {
      this.#memory = 'mmap';
      const n = device.requestBuffers('capture', 'mmap', count);
      const layout = v4l2PlaneLayout(format, fmt.height, fmt.stride);
      for (let i = 0; i < n; i++) {
        const fd = device.exportBuffer('capture', i);
        let buffer: DmaBuf;
        try {
          buffer = DmaBuf.fromFd(fd, { dup: false });
        } catch (error) {
          device.closeFd(fd);
          throw error;
        }
        buffers.push(buffer);
        // The frame borrows the buffer: the camera closes both (close()).
        frames.push(
          Frame.fromPlanes({
            width: fmt.width,
            height: fmt.height,
            format: format.name,
            modifier: 0n,
            planes: layout.map((p) => ({ buffer, offset: p.offset, stride: p.stride })),
          }),
        );
        device.queueMmap('capture', i);
      }
      device.streamOn('capture');
      this.#streaming = true;
    } catch (error) {
      for (const frame of frames) frame.close();
      for (const buffer of buffers) buffer.close();
      this.#releaseAfter(error);
      throw error;
    }
    this.#exported = frames;
    this.#exportedBuffers = buffers;
    this.#out.clear();
    return Object.freeze([...frames]);
  }

  /** The next frame the driver filled, of those exportFrames() made; release(frame) requeues it. */
  async capture(options?: { timeoutMs?: number }): Promise<Frame> {
    const operation = 'VIDIOC_DQBUF';
    const device = this.#live(operation);
    const timeoutMs = timeoutOf(operation, options);
    if (this.#exported.length === 0)
      throw new DmaBufError(MisuseCode.UNSUPPORTED, `${operation}: no exported frames to capture into; call exportFrames(count) first`, { syscall: operation });
    this.#refuseBusy(operation);
    if (this.#out.size === this.#exported.length) {
      throw new DmaBufError('EBUSY', `${operation}: all ${this.#exported.length} exported frames are out; release(frame) one so the driver can fill it`, {
        syscall: operation,
      });
    }
    this.#busy = true;
    try {
      const done = await this.#dequeue(device, 'mmap', timeoutMs, 'the capture');
      this.#out.add(done.index);
      return this.#exported[done.index] as Frame;
    } finally {
      this.#busy = false;
    }
  }

  /** Give a frame capture() handed out back to the driver (VIDIOC_QBUF), to be filled again. */
  release(frame: Frame): void {
    const operation = 'VIDIOC_QBUF';
    const device = this.#live(operation);
    const index = this.#exported.indexOf(frame);
    if (index < 0) throw invalidArgument(operation, 'frame', 'not one of the frames this camera exported');
    if (!this.#out.has(index)) throw invalidArgument(operation, 'frame', 'this frame is queued in the driver already (capture() did not hand it out)');
    if (frame._inBracket) {
      throw new DmaBufError(
        MisuseCode.BRACKET_ACTIVE,
        `${operation}: a CPU-access bracket is open on this frame; end() it before the driver writes into it again`,
        {
          syscall: operation,
        },
      );
    }
    device.queueMmap('capture', index);
    this.#out.delete(index);
  }

  /** STREAMOFF (every queued buffer comes back) and REQBUFS 0 (the driver lets go of our dma-bufs). */
  #release(): void {
    const device = this.#owned.current;
    if (!device) return;
    if (this.#streaming) {
      this.#streaming = false;
      device.streamOff('capture');
    }
    if (this.#memory) {
      const memory = this.#memory;
      this.#memory = undefined;
      device.requestBuffers('capture', memory, 0);
    }
  }

  /** #release() on a failure path: the first error is the one the caller sees. */
  #releaseAfter(error: unknown): void {
    try {
      this.#release();
    } catch (second) {
      if (error instanceof Error && error.cause === undefined) Object.defineProperty(error, 'cause', { value: second, configurable: true });
    }
  }

  /** Stop streaming, free the driver's buffers, close the exported frames and the node. Idempotent. */
  close(): void {
    let first: unknown;
    this.#owned.close(() => {
      try {
        this.#release();
      } catch (error) {
        first = error;
      }
      for (const frame of this.#exported) frame.close();
      for (const buffer of this.#exportedBuffers) buffer.close();
      this.#exported = [];
      this.#exportedBuffers = [];
      this.#out.clear();
    });
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (device) => {
      const f = this.#format;
      return {
        path: device.path,
        fd: device.fd,
        format: `${f.format} ${f.width}×${f.height}`,
        stride: f.stride,
        streaming: this.#streaming,
        exported: this.#exported.length,
      };
    });
  }
}
