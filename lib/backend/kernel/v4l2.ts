/**
 * A V4L2 video node as the kernel backend sees it: the addon's V4L2 calls (native/v4l2.cc) on one
 * fd, with the videodev2.h numbers kept here. No policy: which node, which format, when to stream
 * and what to refuse is dmabuf/testing's VividCamera (lib/testing/vivid.ts). The one module of
 * lib/testing's camera that reaches the addon.
 */
import { readdirSync } from 'node:fs';
import type {
  NativeAddon,
  NativeV4l2Capability,
  NativeV4l2Connector,
  NativeV4l2Control,
  NativeV4l2DoneBuffer,
  NativeV4l2PixFormat,
} from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';
import { fsError } from '../../common/errors.js';

export type V4l2Queue = 'capture' | 'output';
export type V4l2Memory = 'mmap' | 'dmabuf';
export type V4l2PixFormat = NativeV4l2PixFormat;
export type V4l2Capability = NativeV4l2Capability;
export type V4l2Control = NativeV4l2Control;
export type V4l2DoneBuffer = NativeV4l2DoneBuffer;
/** A connector of a node (VIDIOC_ENUMINPUT / ENUMOUTPUT), with whether it is a digital (DV timings, HDMI-like) one. */
export type V4l2Connector = NativeV4l2Connector & { readonly dvTimings: boolean };

/** The /dev/video* nodes, in number order (video2 before video10). */
export function videoNodes(): string[] {
  let names: string[];
  try {
    names = readdirSync('/dev').filter((n) => /^video\d+$/.test(n));
  } catch (error) {
    throw fsError(error, 'opendir', '/dev');
  }
  return names.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))).map((n) => `/dev/${n}`);
}

export class V4l2Device {
  readonly path: string;
  readonly #addon: NativeAddon;
  #fd: number;
  /** The file the fd named at open (fstat's dev and ino): see ownsFd(). */
  readonly #file: { dev: number; ino: number };

  private constructor(addon: NativeAddon, path: string, fd: number) {
    this.#addon = addon;
    this.path = path;
    this.#fd = fd;
    const { dev, ino } = addon.fstat(fd);
    this.#file = { dev, ino };
  }

  /**
   * Whether the fd still names the node this device opened. A user's fs.closeSync(fd) frees the
   * number, and the next open() takes it: an ioctl on it would reach a stranger's file.
   */
  ownsFd(): boolean {
    if (this.#fd === -1) return false;
    try {
      const { dev, ino } = this.#addon.fstat(this.#fd);
      return dev === this.#file.dev && ino === this.#file.ino;
    } catch {
      return false;
    }
  }

  /**
   * Open a video node O_RDWR | O_NONBLOCK: VIDIOC_DQBUF then answers EAGAIN instead of sleeping in
   * the driver, and waits are polls on the event loop (waitDone).
   */
  static open(path: string): V4l2Device {
    const addon = requireAddon();
    const c = addon.constants;
    return new V4l2Device(addon, path, addon.open(path, c.O_RDWR | c.O_NONBLOCK));
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd === -1;
  }

  #type(queue: V4l2Queue): number {
    const c = this.#addon.v4l2Constants;
    return queue === 'capture' ? c.V4L2_BUF_TYPE_VIDEO_CAPTURE : c.V4L2_BUF_TYPE_VIDEO_OUTPUT;
  }

  #memory(memory: V4l2Memory): number {
    const c = this.#addon.v4l2Constants;
    return memory === 'mmap' ? c.V4L2_MEMORY_MMAP : c.V4L2_MEMORY_DMABUF;
  }

  queryCap(): V4l2Capability {
    return this.#addon.v4l2QueryCap(this.#fd);
  }

  /** Whether the node is a single-planar capture node that streams (what VividCamera drives). */
  isStreamingCapture(cap: V4l2Capability): boolean {
    const c = this.#addon.v4l2Constants;
    return (cap.deviceCaps & c.V4L2_CAP_VIDEO_CAPTURE) !== 0 && (cap.deviceCaps & c.V4L2_CAP_STREAMING) !== 0;
  }

  /** Whether the node is a single-planar output node that streams (where VividLoop sends our frames). */
  isStreamingOutput(cap: V4l2Capability): boolean {
    const c = this.#addon.v4l2Constants;
    return (cap.deviceCaps & c.V4L2_CAP_VIDEO_OUTPUT) !== 0 && (cap.deviceCaps & c.V4L2_CAP_STREAMING) !== 0;
  }

  /** The node's connectors (VIDIOC_ENUMINPUT or ENUMOUTPUT to the end of the list). */
  connectors(queue: V4l2Queue): V4l2Connector[] {
    const a = this.#addon;
    const c = a.v4l2Constants;
    const list: V4l2Connector[] = [];
    for (let i = 0; ; i++) {
      const found = queue === 'capture' ? a.v4l2EnumInput(this.#fd, i) : a.v4l2EnumOutput(this.#fd, i);
      if (!found) return list;
      const dv = queue === 'capture' ? c.V4L2_IN_CAP_DV_TIMINGS : c.V4L2_OUT_CAP_DV_TIMINGS;
      list.push({ ...found, dvTimings: (found.capabilities & dv) !== 0 });
    }
  }

  /** The selected connector's index (VIDIOC_G_INPUT or G_OUTPUT). */
  connector(queue: V4l2Queue): number {
    return queue === 'capture' ? this.#addon.v4l2GetInput(this.#fd) : this.#addon.v4l2GetOutput(this.#fd);
  }

  /** Select a connector (VIDIOC_S_INPUT or S_OUTPUT). */
  selectConnector(queue: V4l2Queue, index: number): void {
    if (queue === 'capture') this.#addon.v4l2SetInput(this.#fd, index);
    else this.#addon.v4l2SetOutput(this.#fd, index);
  }

  /** VIDIOC_ENUM_FMT to the end of the list: the fourcc codes the queue offers. */
  formats(queue: V4l2Queue): number[] {
    const codes: number[] = [];
    for (let i = 0; ; i++) {
      const desc = this.#addon.v4l2EnumFormat(this.#fd, this.#type(queue), i);
      if (!desc) return codes;
      codes.push(desc.pixelformat >>> 0);
    }
  }

  getFormat(queue: V4l2Queue): V4l2PixFormat {
    return this.#addon.v4l2GetFormat(this.#fd, this.#type(queue));
  }

  /** VIDIOC_TRY_FMT (tryOnly) or VIDIOC_S_FMT, progressive frames: what the driver takes. */
  setFormat(queue: V4l2Queue, format: { width: number; height: number; pixelformat: number; bytesperline: number }, tryOnly: boolean): V4l2PixFormat {
    const field = this.#addon.v4l2Constants.V4L2_FIELD_NONE;
    return this.#addon.v4l2SetFormat(this.#fd, this.#type(queue), { ...format, field }, tryOnly);
  }

  /** The control whose name is `name` (VIDIOC_QUERYCTRL with V4L2_CTRL_FLAG_NEXT_CTRL over them all). */
  findControl(name: string): V4l2Control | undefined {
    const next = this.#addon.v4l2Constants.V4L2_CTRL_FLAG_NEXT_CTRL;
    for (let id = 0; ; ) {
      const control = this.#addon.v4l2QueryControl(this.#fd, (id | next) >>> 0);
      if (!control) return undefined;
      if (control.name === name) return control;
      id = control.id;
    }
  }

  /** The menu items of a menu control, by index (VIDIOC_QUERYMENU from minimum to maximum; holes skipped). */
  menu(control: V4l2Control): Map<number, string> {
    const items = new Map<number, string>();
    for (let i = control.minimum; i <= control.maximum; i++) {
      const name = this.#addon.v4l2QueryMenu(this.#fd, control.id, i);
      if (name !== null) items.set(i, name);
    }
    return items;
  }

  get testPatternControlId(): number {
    return this.#addon.v4l2Constants.V4L2_CID_TEST_PATTERN;
  }

  queryControl(id: number): V4l2Control | undefined {
    return this.#addon.v4l2QueryControl(this.#fd, id) ?? undefined;
  }

  setControl(id: number, value: number): void {
    this.#addon.v4l2SetControl(this.#fd, id, value);
  }

  getControl(id: number): number {
    return this.#addon.v4l2GetControl(this.#fd, id);
  }

  requestBuffers(queue: V4l2Queue, memory: V4l2Memory, count: number): number {
    return this.#addon.v4l2RequestBuffers(this.#fd, this.#type(queue), this.#memory(memory), count);
  }

  queryBuffer(queue: V4l2Queue, memory: V4l2Memory, index: number): { length: number; flags: number } {
    return this.#addon.v4l2QueryBuffer(this.#fd, this.#type(queue), this.#memory(memory), index);
  }

  /** QBUF a dma-buf of ours (V4L2_MEMORY_DMABUF): the driver uses `length` bytes of it from offset 0. */
  queueDmaBuf(queue: V4l2Queue, index: number, dmaBufFd: number, length: number, bytesused = 0): void {
    this.#addon.v4l2QueueBuffer(this.#fd, this.#type(queue), this.#memory('dmabuf'), index, dmaBufFd, length, bytesused);
  }

  /** QBUF one of the driver's own buffers (V4L2_MEMORY_MMAP). */
  queueMmap(queue: V4l2Queue, index: number, bytesused = 0): void {
    this.#addon.v4l2QueueBuffer(this.#fd, this.#type(queue), this.#memory('mmap'), index, -1, 0, bytesused);
  }

  /** DQBUF without sleeping: undefined when no buffer is done yet. */
  dequeue(queue: V4l2Queue, memory: V4l2Memory): V4l2DoneBuffer | undefined {
    return this.#addon.v4l2DequeueBuffer(this.#fd, this.#type(queue), this.#memory(memory)) ?? undefined;
  }

  /** Whether a dequeued buffer carries V4L2_BUF_FLAG_ERROR (the driver could not fill it). */
  failed(done: V4l2DoneBuffer): boolean {
    return (done.flags & this.#addon.v4l2Constants.V4L2_BUF_FLAG_ERROR) !== 0;
  }

  /** VIDIOC_EXPBUF, O_RDWR: the dma-buf fd of the driver's buffer `index` (owned by the caller). */
  exportBuffer(queue: V4l2Queue, index: number): number {
    return this.#addon.v4l2ExportBuffer(this.#fd, this.#type(queue), index, this.#addon.constants.O_RDWR);
  }

  /** Close an fd exportBuffer() made that no DmaBuf took over. */
  closeFd(fd: number): void {
    this.#addon.close(fd);
  }

  streamOn(queue: V4l2Queue): void {
    this.#addon.v4l2StreamOn(this.#fd, this.#type(queue));
  }

  streamOff(queue: V4l2Queue): void {
    this.#addon.v4l2StreamOff(this.#fd, this.#type(queue));
  }

  /**
   * Wait on the event loop until a buffer is done: vb2_poll reports POLLIN (capture) or POLLOUT
   * (output) then, and POLLERR when nothing is queued or the queue is not streaming (a wait that
   * could never end). Resolves with the revents mask, 0 after `timeoutMs`.
   */
  waitDone(queue: V4l2Queue, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const c = this.#addon.constants;
    const waiter = new this.#addon.PollWaiter(this.#fd, queue === 'capture' ? c.POLLIN : c.POLLOUT, timeoutMs);
    if (signal) {
      const onAbort = (): void => waiter.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      return waiter.promise.finally(() => signal.removeEventListener('abort', onAbort));
    }
    return waiter.promise;
  }

  get POLLERR(): number {
    return this.#addon.constants.POLLERR;
  }

  close(): void {
    if (this.#fd === -1) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#addon.close(fd);
  }
}

/**
 * Open every video node in turn and keep the first whose QUERYCAP driver is `driver` (and bus_info
 * `busInfo`, when given) and that is a streaming single-planar capture node; undefined when there
 * is none. (vivid makes its capture and output nodes separate: a node is one or the other.)
 */
export function openCaptureNode(driver: string, busInfo?: string): { device: V4l2Device; cap: V4l2Capability } | undefined {
  return openNode(driver, busInfo, 'capture');
}

/** Like openCaptureNode(), for a streaming single-planar output node. */
export function openOutputNode(driver: string, busInfo?: string): { device: V4l2Device; cap: V4l2Capability } | undefined {
  return openNode(driver, busInfo, 'output');
}

function openNode(driver: string, busInfo: string | undefined, queue: V4l2Queue): { device: V4l2Device; cap: V4l2Capability } | undefined {
  for (const path of videoNodes()) {
    let device: V4l2Device;
    try {
      device = V4l2Device.open(path);
    } catch {
      // EACCES, or a node whose driver is going away: not ours to use.
      continue;
    }
    try {
      const cap = device.queryCap();
      const streams = queue === 'capture' ? device.isStreamingCapture(cap) : device.isStreamingOutput(cap);
      if (cap.driver === driver && (busInfo === undefined || cap.busInfo === busInfo) && streams) return { device, cap };
    } catch {
      // Not a V4L2 node we can query: try the next one.
    }
    device.close();
  }
  return undefined;
}
