/**
 * A loop through a real driver for tests: vivid's HDMI output wired to its HDMI input. A frame of
 * ours goes out through the output node (V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_DMABUF: the driver
 * imports our dma-buf and reads it) and comes back through the capture node into another of our
 * buffers (the driver writes it), byte for byte: vivid copies each output row into the capture
 * buffer when input and output are connected and agree on size, format and field
 * (vivid-kthread-cap.c, vivid_copy_buffer; Documentation/admin-guide/media/vivid.rst, "Video, Sliced
 * VBI and HDMI CEC Looping"). What a pipeline's code meets when it hands frames to a display or an
 * encoder and reads them back from a capture device.
 *
 * The wiring: the capture node selects an HDMI input and the output node an HDMI output (VIDIOC_S_INPUT
 * / S_OUTPUT; vivid's default instance has one of each); the capture node's menu control
 * "HDMI NNN-I Is Connected To" selects that output (kernels from 6.11 on; before, the boolean
 * "Loop Video" control turns looping on). close() puts every one of these back as it found it, so
 * the next user of the instance meets the webcam input and the test pattern again.
 */
import { inspect } from 'node:util';
import { withHint } from '../backend/kernel/errors.js';
import { openCaptureNode, openOutputNode, type V4l2Connector, type V4l2Device, type V4l2PixFormat } from '../backend/kernel/v4l2.js';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from '../common/errors.js';
import { DmaBuf } from '../dmabuf.js';
import { DRM_FORMATS, type DrmFormat } from '../drm-format.js';
import { Frame } from '../frame.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkInteger, checkOptions, checkTimeout } from '../validate.js';
import type { VividCapture, VividFormat } from './vivid.js';

const openToken = Symbol('VividLoop.open');
/** As VividCamera: an emulated VM's first frame after STREAMON can take seconds. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** The loop runs in YUYV: vivid copies rows only between equal formats, and every vivid output offers it. */
const YUYV = DRM_FORMATS['YUYV'] as DrmFormat;

interface Nodes {
  readonly capture: V4l2Device;
  readonly output: V4l2Device;
  close(): void;
}

/** What open() changed, to put back at close(). */
interface Saved {
  input: number;
  output: number;
  captureFormat: V4l2PixFormat;
  /** The connection control and its value before open(), where there is one. */
  control?: { id: number; value: number };
}

/**
 * Run every undo step even when one fails; the first failure becomes `error`'s cause (the error
 * the caller is about to see), or is thrown when there is none.
 */
function undoAll(steps: (() => unknown)[], error: unknown): void {
  let first: unknown;
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      first ??= e;
    }
  }
  if (first === undefined) return;
  if (error === undefined) throw first;
  if (error instanceof Error && error.cause === undefined) Object.defineProperty(error, 'cause', { value: first, configurable: true });
}

function hdmi(list: V4l2Connector[], what: string, device: V4l2Device): V4l2Connector {
  const found = list.find((c) => c.dvTimings);
  if (!found) {
    throw new DmaBufError(
      MisuseCode.UNSUPPORTED,
      `${device.path} has no HDMI ${what} (a connector with V4L2_${what === 'input' ? 'IN' : 'OUT'}_CAP_DV_TIMINGS; it has ${list.map((c) => c.name).join(', ') || 'none'}): load vivid with its default ${what}_types, which include one`,
      { syscall: what === 'input' ? 'VIDIOC_ENUMINPUT' : 'VIDIOC_ENUMOUTPUT' },
    );
  }
  return found;
}

export class VividLoop {
  readonly #owned: Owned<Nodes>;
  readonly #saved: Saved;
  #format: VividFormat;
  #busy = false;

  private constructor(token: symbol, nodes: Nodes, saved: Saved, format: VividFormat) {
    checkToken(token, openToken, 'VividLoop', 'VividLoop.open()');
    this.#owned = new Owned(this, 'VividLoop', nodes);
    this.#saved = saved;
    this.#format = format;
  }

  /**
   * Open the capture and the output node of one vivid instance (by default the first capture node's)
   * and wire the output's HDMI connector to the input's. ERR_DMABUF_UNSUPPORTED where vivid, its
   * output node or an HDMI connector is missing; EBUSY (with what to do) where another program
   * streams on the instance.
   */
  static open(options?: { instance?: number }): VividLoop {
    const o = checkOptions('open', options, ['instance']);
    const instance = o['instance'] === undefined ? undefined : checkInteger('open', 'instance', o['instance'], 0, 63);
    const busInfo = instance === undefined ? undefined : `platform:vivid-${String(instance).padStart(3, '0')}`;
    const capture = openCaptureNode('vivid', busInfo);
    if (!capture) {
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `no vivid capture node${busInfo ? ` of ${busInfo}` : ''}: load the driver with \`sudo modprobe vivid\` (CONFIG_VIDEO_VIVID)`,
        { syscall: 'VIDIOC_QUERYCAP' },
      );
    }
    // The output node of the same instance: vivid gives every node of an instance its bus_info.
    const output = openOutputNode('vivid', capture.cap.busInfo);
    if (!output) {
      capture.device.close();
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `vivid instance ${capture.cap.busInfo} has no video output node: load vivid with node_types including 0x100 (the default does)`,
        { syscall: 'VIDIOC_QUERYCAP' },
      );
    }
    const nodes: Nodes = {
      capture: capture.device,
      output: output.device,
      close: () => {
        // Both, even when the first fails (EBADF: closed behind our back); the first error is thrown.
        try {
          capture.device.close();
        } finally {
          output.device.close();
        }
      },
    };
    let saved: Saved | undefined;
    try {
      const inst = /vivid-(\d+)$/.exec(capture.cap.busInfo)?.[1] ?? '000';
      saved = { input: capture.device.connector('capture'), output: output.device.connector('output'), captureFormat: capture.device.getFormat('capture') };
      const format = VividLoop.#wire(nodes, inst, saved);
      return new VividLoop(openToken, nodes, saved, format);
    } catch (error) {
      if (saved) VividLoop.#unwire(nodes, saved, error);
      nodes.close();
      throw error;
    }
  }

  static #wire(nodes: Nodes, inst: string, saved: Saved): VividFormat {
    const { capture, output } = nodes;
    const inputs = capture.connectors('capture');
    const input = hdmi(inputs, 'input', capture);
    const out = hdmi(output.connectors('output'), 'output', output);
    try {
      capture.selectConnector('capture', input.index);
      output.selectConnector('output', out.index);
    } catch (error) {
      // vb2_is_busy: S_INPUT / S_OUTPUT are refused while the queue holds buffers.
      withHint(error, { EBUSY: 'another program holds buffers on this vivid instance (a camera or player still streaming); stop it first' });
    }
    // Which HDMI input this is among the instance's HDMI inputs names its connection control.
    const ordinal = inputs.filter((c) => c.dvTimings && c.index < input.index).length;
    const connect = capture.findControl(`HDMI ${inst}-${ordinal} Is Connected To`);
    if (connect) {
      const items = capture.menu(connect);
      // The menu names each output as "Output HDMI NNN-I" (6.12), the output's own name with a prefix.
      const item = [...items].find(([, name]) => name === out.name || name === `Output ${out.name}`)?.[0];
      if (item === undefined) {
        throw new DmaBufError(
          MisuseCode.UNSUPPORTED,
          `${capture.path}'s '${connect.name}' control does not offer ${output.path}'s output '${out.name}' (it offers ${[...items.values()].join(', ')}): is that output connected to another input?`,
          { syscall: 'VIDIOC_QUERYMENU' },
        );
      }
      saved.control = { id: connect.id, value: capture.getControl(connect.id) };
      capture.setControl(connect.id, item);
    } else {
      const loop = capture.findControl('Loop Video');
      if (!loop) {
        throw new DmaBufError(
          MisuseCode.UNSUPPORTED,
          `${capture.path} has neither an 'HDMI ${inst}-${ordinal} Is Connected To' nor a 'Loop Video' control: is it vivid?`,
          {
            syscall: 'VIDIOC_QUERYCTRL',
          },
        );
      }
      saved.control = { id: loop.id, value: capture.getControl(loop.id) };
      capture.setControl(loop.id, 1);
    }
    // The counters and text vivid draws over captured frames (its OSD) would overwrite looped rows.
    const osd = capture.findControl('OSD Text Mode');
    const none = osd && [...capture.menu(osd)].find(([, name]) => name === 'None')?.[0];
    if (osd && none !== undefined) capture.setControl(osd.id, none);
    // Both sides in YUYV at the size the HDMI connectors' DV timings give (S_FMT keeps it); the
    // driver loops only when the two agree (vivid_vid_can_loop).
    const sizeIn = capture.getFormat('capture');
    const want = { width: sizeIn.width, height: sizeIn.height, pixelformat: YUYV.code, bytesperline: 0 };
    const taken = capture.setFormat('capture', want, false);
    const sent = output.setFormat('output', want, false);
    if (taken.width !== sent.width || taken.height !== sent.height || taken.pixelformat !== sent.pixelformat || taken.bytesperline !== sent.bytesperline) {
      throw new DmaBufError(
        MisuseCode.UNSUPPORTED,
        `vivid's HDMI input takes ${taken.width}×${taken.height} (stride ${taken.bytesperline}) and its HDMI output ${sent.width}×${sent.height} (stride ${sent.bytesperline}): the driver loops only equal formats; set equal DV timings on both`,
        { syscall: 'VIDIOC_S_FMT' },
      );
    }
    return Object.freeze({ width: taken.width, height: taken.height, format: YUYV.name, stride: taken.bytesperline, size: taken.sizeimage });
  }

  /** Put back what open() changed; errors on the way are attached to `error` (the one the caller sees), or thrown when there is none. */
  static #unwire(nodes: Nodes, saved: Saved, error?: unknown): void {
    const steps = [
      () => saved.control && nodes.capture.setControl(saved.control.id, saved.control.value),
      () => nodes.output.selectConnector('output', saved.output),
      () => nodes.capture.selectConnector('capture', saved.input),
      () => {
        const f = saved.captureFormat;
        nodes.capture.setFormat('capture', { width: f.width, height: f.height, pixelformat: f.pixelformat, bytesperline: f.bytesperline }, false);
      },
    ];
    undoAll(steps, error);
  }

  #live(operation: string): Nodes {
    return this.#owned.live(operation);
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The format both ends run in: YUYV at the HDMI connectors' size (1280×720 with vivid's defaults). */
  get format(): VividFormat {
    this.#live('format');
    return this.#format;
  }

  /** The buffer a Frame or DmaBuf argument stands for, checked against the loop's format before any syscall. */
  #bufferOf(operation: string, argument: string, value: unknown): DmaBuf {
    const f = this.#format;
    let buffer: DmaBuf;
    if (value instanceof Frame) {
      if (value.closed) throw closedError('Frame', operation);
      if (value._inBracket) {
        throw new DmaBufError(
          MisuseCode.BRACKET_ACTIVE,
          `${operation}: a CPU-access bracket is open on ${argument}; end() it before the driver touches the frame`,
          {
            syscall: operation,
          },
        );
      }
      const plane = value.planes[0];
      if (
        value.format.name !== f.format ||
        value.width !== f.width ||
        value.height !== f.height ||
        value.modifier !== 0n ||
        !plane ||
        plane.offset !== 0 ||
        plane.stride !== f.stride
      ) {
        throw invalidArgument(
          operation,
          argument,
          `the loop runs ${f.width}×${f.height} ${f.format} with stride ${f.stride} from offset 0 (linear); this frame is ${value.width}×${value.height} ${value.format.name} with stride ${plane?.stride} from offset ${plane?.offset}`,
        );
      }
      buffer = plane.buffer;
    } else if (value instanceof DmaBuf) {
      if (value.closed) throw closedError('DmaBuf', operation);
      buffer = value;
    } else {
      throw invalidType(operation, argument, 'a Frame or a DmaBuf', value);
    }
    if (!buffer.supports.realFds) throw invalidArgument(operation, argument, 'the loop is a kernel driver: it needs a kernel DmaBuf, not an emulated one');
    if (buffer.size < f.size) {
      throw invalidArgument(
        operation,
        argument,
        `buffer '${buffer.name}' has ${buffer.size} bytes, and the loop's ${f.width}×${f.height} ${f.format} frames need ${f.size} (sizeimage): videobuf2 would refuse it`,
      );
    }
    return buffer;
  }

  /**
   * Send `source` out through the HDMI output and capture what comes back through the HDMI input
   * into `target`. The source must be written (its write bracket ended) before the call: the driver
   * reads it from then on, as a display's DMA would. Each call runs a whole cycle (QBUF, STREAMON
   * on both queues, DQBUF on the capture node polled on the event loop, STREAMOFF and REQBUFS 0), so
   * nothing stays queued in the driver after it, on success or failure.
   */
  async send(source: Frame | DmaBuf, target: Frame | DmaBuf, options?: { timeoutMs?: number }): Promise<VividCapture> {
    const operation = 'VIDIOC_QBUF';
    this.#live(operation);
    const timeoutMs = options?.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : checkTimeout(operation, options);
    const out = this.#bufferOf(operation, 'source', source);
    const into = this.#bufferOf(operation, 'target', target);
    if (out === into) throw invalidArgument(operation, 'target', 'the source and the target are the same buffer: the driver would read and write it at once');
    if (this.#busy) throw new DmaBufError('EBUSY', `${operation}: a frame is in the loop already; await it first`, { syscall: operation });
    const nodes = this.#live(operation);
    const { capture, output } = nodes;
    this.#busy = true;
    let result: VividCapture;
    try {
      output.requestBuffers('output', 'dmabuf', 1);
      // bytesused: vivid refuses an output buffer whose payload is short of the format's size (vid_out_buf_prepare).
      output.queueDmaBuf('output', 0, out.fd, out.size, this.#format.size);
      output.streamOn('output');
      capture.requestBuffers('capture', 'dmabuf', 1);
      try {
        capture.queueDmaBuf('capture', 0, into.fd, into.size);
      } catch (error) {
        withHint(error, {
          EFAULT: `the driver could not map buffer '${into.name}' as one contiguous range (vivid allocators=1, videobuf2-dma-contig, refuses scattered pages): allocate from a CMA heap`,
        });
      }
      capture.streamOn('capture');
      result = await this.#dequeue(capture, timeoutMs);
    } catch (error) {
      this.#busy = false;
      // close() during the wait stopped the queues already.
      if (this.#owned.current === nodes) VividLoop.#stop(nodes, error);
      throw error;
    }
    this.#busy = false;
    VividLoop.#stop(nodes);
    return result;
  }

  /**
   * STREAMOFF both queues (it returns every buffer a queue holds: the output keeps its last one
   * while streaming, since vivid's output thread completes a buffer only when another is pending,
   * vivid-kthread-out.c) and REQBUFS 0 (the driver drops its attachments to our dma-bufs). Both are
   * harmless on a queue that is not streaming or holds nothing. Errors go to `error`'s cause, or
   * are thrown when there is none.
   */
  static #stop(nodes: Nodes, error?: unknown): void {
    const steps = [
      () => nodes.capture.streamOff('capture'),
      () => nodes.capture.requestBuffers('capture', 'dmabuf', 0),
      () => nodes.output.streamOff('output'),
      () => nodes.output.requestBuffers('output', 'dmabuf', 0),
    ];
    undoAll(steps, error);
  }

  async #dequeue(capture: V4l2Device, timeoutMs: number): Promise<VividCapture> {
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const done = capture.dequeue('capture', 'dmabuf');
      if (done) {
        if (capture.failed(done)) throw new DmaBufError('EIO', 'the looped frame came back with V4L2_BUF_FLAG_ERROR', { syscall: 'VIDIOC_DQBUF' });
        return Object.freeze({ sequence: done.sequence, bytesused: done.bytesused, timestampUs: done.timestampUs });
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new DmaBufError('ETIMEDOUT', `the loop brought no frame back within ${timeoutMs} ms`, { syscall: 'VIDIOC_DQBUF' });
      const revents = await capture.waitDone('capture', left === Infinity ? -1 : Math.ceil(left));
      if (this.#owned.current?.capture !== capture) throw closedError('VividLoop', 'VIDIOC_DQBUF');
      if (revents & capture.POLLERR)
        throw new DmaBufError('EIO', 'the capture node reports POLLERR (the queue stopped or holds no buffer)', { syscall: 'poll' });
    }
  }

  /** Unwire (connection, connectors, capture format back as open() found them) and close both nodes. Idempotent. */
  close(): void {
    let first: unknown;
    this.#owned.close((nodes) => {
      // An fd closed behind our back (its number perhaps reused) gets no ioctl: closing it below
      // reports EBADF, and the driver dropped that node's queue when its file was released
      // (vb2_fop_release), though the wiring stays as open() left it.
      if (!nodes.capture.ownsFd() || !nodes.output.ownsFd()) return;
      // A send() still waiting sees the loop closed when its poll ends (POLLERR once stopped).
      for (const step of [() => VividLoop.#stop(nodes), () => VividLoop.#unwire(nodes, this.#saved)]) {
        try {
          step();
        } catch (error) {
          first ??= error;
        }
      }
    });
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (nodes) => ({
      capture: nodes.capture.path,
      output: nodes.output.path,
      format: `${this.#format.format} ${this.#format.width}×${this.#format.height}`,
      stride: this.#format.stride,
    }));
  }
}
