/**
 * UnixFdSink: this process in unixfdsink's role. It listens; GStreamer pipelines connect with
 * `unixfdsrc socket-path=PATH` (socket-type=abstract for '\0name'), each gets the current caps
 * first and then every frame sent, as DMABUF memories (one per distinct buffer) with a GstVideoMeta for the
 * offsets and strides. A frame is lent to every client it went to until that client sends
 * RELEASE_BUFFER (or disconnects): a FramePool reuses it only then.
 */
import { inspect } from 'node:util';
import { DmaBufError, invalidArgument, invalidType, MisuseCode } from '../common/errors.js';
import { socketOps, type SocketOps } from '../backend/kernel/socket.js';
import type { DmaBuf } from '../dmabuf.js';
import { addressInUse, checkSocketName, fdHandle, type FdHandle, Waits } from '../fd-channel.js';
import { Frame } from '../frame.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkInteger, checkOptions } from '../validate.js';
import { Connection } from './connection.js';
import {
  capsFor,
  decodeRelease,
  defaultLayout,
  EOS,
  encodeCaps,
  encodeMessage,
  encodeNewBuffer,
  gstFormatOf,
  MEMORY_DMABUF,
  NEW_BUFFER,
  NONE,
  RELEASE_BUFFER,
  CAPS,
} from './protocol.js';

const CLASS = 'UnixFdSink';
const token = Symbol(CLASS);

export interface UnixFdSinkOptions {
  /** Mode of a path's socket file (default 0600). */
  mode?: number;
  backlog?: number;
  /** send() waits for a first client instead of dropping frames nobody receives (GStreamer's `wait-for-connection`). */
  waitForConnection?: boolean;
  /** The caps' framerate, 'N/D' (default '0/1': variable). */
  framerate?: string;
  /** Always describe frames with DMA_DRM caps (`drm-format=FOURCC:0xMODIFIER`); by default only non-linear ones. */
  drmCaps?: boolean;
  /**
   * The receiving pipelines read each frame's layout from its GstVideoMeta: GStreamer 1.28 or
   * newer (its meta factories), or a process that has registered GstVideoMeta. Default false:
   * send() refuses a frame whose layout is not GStreamer's default for its caps, because
   * 1.24–1.26's unixfdsrc skips a meta its process has not registered and would read the planes
   * at the default strides and offsets (docs/GSTREAMER.md, "Known limits").
   */
  trustVideoMeta?: boolean;
  /** Called with the error of a client that broke the protocol and was dropped. */
  onClientError?: (error: DmaBufError) => void;
}

export interface UnixFdSendOptions {
  /** Presentation time: CLOCK_MONOTONIC ns (process.hrtime.bigint()'s clock; unixfdsrc subtracts its base time). Default: the frame's timestamp × 1000, else now. */
  pts?: bigint;
  dts?: bigint;
  /** ns. */
  duration?: bigint;
  /** GST_BUFFER_OFFSET, the frame number for video. */
  offset?: bigint;
}

type Settings = Required<Pick<UnixFdSinkOptions, 'waitForConnection' | 'framerate' | 'drmCaps' | 'trustVideoMeta'>> & Pick<UnixFdSinkOptions, 'onClientError'>;

interface Client {
  readonly connection: Connection;
  /** Buffer id → the end of this client's loan. */
  readonly loans: Map<bigint, () => void>;
}

/**
 * A frame whose planes are not where GStreamer's default layout for its caps puts them (the row
 * bytes rounded up to 4, each plane after the last: video-info.c, fill_planes) reaches GStreamer
 * 1.24–1.26 wrong: its unixfdsrc drops the GstVideoMeta that says otherwise unless the process
 * registered GstVideoMeta before the first buffer (gst_meta_deserialize; meta factories that load
 * it on demand came in 1.28). So it is refused, saying how to send it.
 */
function refuseUnlessDefaultLayout(syscall: string, frame: Frame, offsets: number[], strides: number[]): void {
  const format = frame.format;
  let why: string | undefined;
  if (frame.modifier !== 0n) why = `its modifier 0x${frame.modifier.toString(16)} has no default layout`;
  else {
    const expected = defaultLayout({ format, modifier: 0n, width: frame.width, height: frame.height });
    const same = expected.strides.every((stride, i) => stride === strides[i] && expected.offsets[i] === offsets[i]);
    if (!same) {
      why = `its strides [${strides.join(', ')}] and plane offsets [${offsets.join(', ')}] are not GStreamer's default [${expected.strides.join(', ')}] and [${expected.offsets.join(', ')}]`;
    }
  }
  if (why === undefined) return;
  throw new DmaBufError(
    MisuseCode.UNSUPPORTED,
    `the frame's layout would reach GStreamer only through its GstVideoMeta: ${why}. GStreamer 1.24–1.26's unixfdsrc skips that meta (its process has not registered it) and would read the planes wrong; allocate frames with strideAlign: 4 and a linear modifier, or listen with { trustVideoMeta: true } when every receiving pipeline runs GStreamer 1.28 or newer`,
    { syscall, argument: 'frame' },
  );
}

/**
 * The frame as a GStreamer buffer's memories: one DMABUF memory per distinct buffer, spanning the
 * planes in it, as GStreamer's own buffers of a multi-plane format are one memory. With a memory
 * per plane, an element that maps the whole buffer (filesink, appsink: gst_buffer_map) gets the
 * memories merged by a copy into new system memory (gstbuffer.c, _actual_merged_memory: two
 * dma-buf memories are no span of one parent), and every hop passes, types and closes one fd per
 * plane. `offsets` are the planes' offsets in the memories one after the other
 * (gst_buffer_find_memory's view), for the GstVideoMeta and the default-layout check.
 */
function memoriesOf(planes: readonly { fd: number; offset: number; size: number }[]): {
  memories: { fd: number; offset: number; size: number }[];
  offsets: number[];
} {
  const spans = new Map<number, { start: number; end: number }>();
  for (const p of planes) {
    const span = spans.get(p.fd);
    if (span) {
      span.start = Math.min(span.start, p.offset);
      span.end = Math.max(span.end, p.offset + p.size);
    } else spans.set(p.fd, { start: p.offset, end: p.offset + p.size });
  }
  const memories: { fd: number; offset: number; size: number }[] = [];
  const at = new Map<number, number>();
  let total = 0;
  for (const [fd, { start, end }] of spans) {
    memories.push({ fd, offset: start, size: end - start });
    at.set(fd, total - start);
    total += end - start;
  }
  return { memories, offsets: planes.map((p) => (at.get(p.fd) as number) + p.offset) };
}

function u64(syscall: string, name: string, value: unknown): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'bigint' || value < 0n || value >= NONE) throw invalidType(syscall, name, 'a bigint of nanoseconds in [0, 2^64 - 1)', value);
  return value;
}

export class UnixFdSink {
  readonly #owned: Owned<FdHandle>;
  readonly #addon: SocketOps;
  readonly #path: string | undefined;
  readonly #waits = new Waits();
  readonly #clients = new Set<Client>();
  readonly #options: Settings;
  #caps: string | undefined;
  #nextId = 1n;
  #connected: { promise: Promise<void>; resolve: () => void } | undefined;

  private constructor(t: symbol, addon: SocketOps, fd: number, path: string | undefined, options: Settings) {
    checkToken(t, token, CLASS, 'UnixFdSink.listen()');
    this.#addon = addon;
    this.#owned = new Owned(this, CLASS, fdHandle(addon, fd));
    this.#path = path;
    this.#options = options;
    void this.#acceptLoop();
  }

  /** Listen on `path` (a new socket file) or '\0abstract-name' (GStreamer: socket-type=abstract). */
  static listen(path: string, options?: UnixFdSinkOptions): UnixFdSink {
    const { name, abstract } = checkSocketName('bind', path);
    const opts = checkOptions('listen', options, ['mode', 'backlog', 'waitForConnection', 'framerate', 'drmCaps', 'trustVideoMeta', 'onClientError']);
    const mode = opts['mode'] === undefined ? 0o600 : checkInteger('bind', 'mode', opts['mode'], 0, 0o777);
    const backlog = opts['backlog'] === undefined ? 16 : checkInteger('listen', 'backlog', opts['backlog'], 1, 4096);
    const framerate = opts['framerate'] ?? '0/1';
    if (typeof framerate !== 'string' || !/^\d+\/[1-9]\d*$/.test(framerate)) throw invalidType('listen', 'framerate', "'N/D', e.g. '30/1'", framerate);
    for (const key of ['waitForConnection', 'drmCaps', 'trustVideoMeta'])
      if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw invalidType('listen', key, 'a boolean', opts[key]);
    const onClientError = opts['onClientError'];
    if (onClientError !== undefined && typeof onClientError !== 'function') throw invalidType('listen', 'onClientError', 'a function', onClientError);
    const addon = socketOps();
    let fd: number;
    try {
      fd = addon.socketListen(name, abstract, mode, backlog, true);
    } catch (error) {
      throw (error as DmaBufError).code === 'EADDRINUSE' ? addressInUse(error as DmaBufError, path, abstract) : error;
    }
    return new UnixFdSink(token, addon, fd, abstract ? undefined : name, {
      waitForConnection: (opts['waitForConnection'] as boolean | undefined) ?? false,
      framerate,
      drmCaps: (opts['drmCaps'] as boolean | undefined) ?? false,
      trustVideoMeta: (opts['trustVideoMeta'] as boolean | undefined) ?? false,
      ...(onClientError ? { onClientError: onClientError as (e: DmaBufError) => void } : {}),
    });
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Connected clients (unixfdsrc elements). */
  get clients(): number {
    this.#owned.live('clients');
    return this.#clients.size;
  }

  /** The caps last sent (undefined before the first frame). */
  get caps(): string | undefined {
    this.#owned.live('caps');
    return this.#caps;
  }

  async #acceptLoop(): Promise<void> {
    const a = this.#addon;
    for (;;) {
      const handle = this.#owned.current;
      if (!handle) return;
      let fd: number;
      try {
        fd = a.socketAccept(handle.fd);
      } catch {
        fd = -1; // ECONNABORTED and kin: the next connection may do better
      }
      if (fd >= 0) {
        this.#addClient(fd);
        continue;
      }
      let result: string;
      try {
        result = await this.#waits.wait(a, handle.fd, a.constants.POLLIN, -1, undefined);
      } catch {
        return;
      }
      if (result === 'cancelled') return;
    }
  }

  #addClient(fd: number): void {
    const client: Client = { connection: new Connection(this.#addon, fd), loans: new Map() };
    this.#clients.add(client);
    // The current caps before anything else, as unixfdsink does (new_client_cb).
    if (this.#caps !== undefined) client.connection.write(encodeCaps(this.#caps), [], CLASS).catch((e: unknown) => this.#drop(client, e));
    this.#connected?.resolve();
    this.#connected = undefined;
    void this.#readLoop(client);
  }

  async #readLoop(client: Client): Promise<void> {
    for (;;) {
      let message: Awaited<ReturnType<Connection['read']>>;
      try {
        message = await client.connection.read(CLASS);
      } catch (error) {
        this.#drop(client, error);
        return;
      }
      for (const fd of message.fds) this.#addon.close(fd);
      try {
        if (message.fds.length > 0) throw protocolError(`a client sent ${message.fds.length} fds (clients send none)`);
        if (message.type === RELEASE_BUFFER) {
          const id = decodeRelease(message.payload);
          const end = client.loans.get(id);
          if (!end) throw protocolError(`a client released buffer ${id}, which it does not hold`);
          client.loans.delete(id);
          end();
        } else if (message.type === NEW_BUFFER || message.type === CAPS || message.type === EOS) {
          throw protocolError(`a client sent message type ${message.type}, which only a sink sends`);
        }
        // Other types: a newer protocol's; ignored, as unixfdsink does.
      } catch (error) {
        this.#drop(client, error);
        return;
      }
    }
  }

  /** A client is gone (hung up, broke the protocol, or the sink closed): its loans end. */
  #drop(client: Client, error: unknown): void {
    if (!this.#clients.delete(client)) return;
    client.connection.close();
    for (const end of client.loans.values()) end();
    client.loans.clear();
    const quiet = error === undefined || (error instanceof DmaBufError && (error.code === MisuseCode.CHANNEL_CLOSED || error.code === MisuseCode.CLOSED));
    if (!quiet && this.#options.onClientError) {
      try {
        this.#options.onClientError(
          error instanceof DmaBufError ? error : new DmaBufError(MisuseCode.PROTOCOL, String(error), { syscall: 'recvmsg', cause: error }),
        );
      } catch {
        // the callback's own failure is not the sink's
      }
    }
  }

  /**
   * Send `frame` to every connected client: CAPS first when they changed, then NEW_BUFFER with one
   * DMABUF memory per distinct buffer and a GstVideoMeta. Resolves with the number of clients it went to
   * (0 when none is connected and `waitForConnection` is off: the frame is dropped, as unixfdsink
   * drops it). A frame of a FramePool stays lent until each of those clients releases it. Keep
   * any other frame open until then too: GStreamer reads it after this resolves.
   */
  async send(frame: Frame, options?: UnixFdSendOptions): Promise<number> {
    const syscall = 'sendmsg';
    this.#owned.live(syscall);
    if (!(frame instanceof Frame)) throw invalidType(syscall, 'frame', 'a Frame', frame);
    const opts = checkOptions(syscall, options, ['pts', 'dts', 'duration', 'offset']);
    const pts = u64(syscall, 'pts', opts['pts']);
    const dts = u64(syscall, 'dts', opts['dts']);
    const duration = u64(syscall, 'duration', opts['duration']);
    const offset = u64(syscall, 'offset', opts['offset']);
    frame._refuseOpenWrite(syscall);
    const d = frame.describe();
    if (!frameIsKernel(frame)) {
      throw new DmaBufError(MisuseCode.UNSUPPORTED, 'an emulated frame has no kernel fds to send; only kernel dma-bufs cross to GStreamer', {
        syscall,
        argument: 'frame',
      });
    }
    if (d.planes.length > 4) throw invalidArgument(syscall, 'frame', `has ${d.planes.length} planes; GstVideoMeta holds at most 4`);
    const gst = gstFormatOf(frame.format);
    const caps = capsFor(frame, this.#options.framerate, this.#options.drmCaps || frame.modifier !== 0n || !gst);
    const { memories, offsets } = memoriesOf(d.planes);
    const strides = d.planes.map((p) => p.stride);
    if (!this.#options.trustVideoMeta) refuseUnlessDefaultLayout(syscall, frame, offsets, strides);
    if (this.#options.waitForConnection && this.#clients.size === 0) {
      this.#connected ??= withResolvers();
      await this.#connected.promise;
      this.#owned.live(syscall);
    }
    if (caps !== this.#caps) {
      this.#caps = caps;
      const message = encodeCaps(caps);
      for (const client of this.#clients) client.connection.write(message, [], CLASS).catch((e: unknown) => this.#drop(client, e));
    }
    const id = this.#nextId++;
    const message = encodeNewBuffer({
      id,
      pts: pts ?? (frame.timestamp !== undefined ? BigInt(Math.round(frame.timestamp * 1000)) : process.hrtime.bigint()),
      dts: dts ?? NONE,
      duration: duration ?? NONE,
      offset: offset ?? NONE,
      offsetEnd: NONE,
      flags: 0,
      memoryType: MEMORY_DMABUF,
      memories: memories.map((m) => ({ size: m.size, offset: m.offset })),
      videoMeta: {
        flags: 0,
        format: gst?.number ?? 0,
        width: frame.width,
        height: frame.height,
        offsets,
        strides,
      },
    });
    const fds = memories.map((m) => m.fd);
    const writes: Promise<boolean>[] = [];
    for (const client of this.#clients) {
      client.loans.set(id, frame._lend() ?? (() => undefined));
      writes.push(
        client.connection.write(message, fds, CLASS).then(
          () => true,
          (error: unknown) => {
            this.#drop(client, error);
            return false;
          },
        ),
      );
    }
    return (await Promise.all(writes)).filter(Boolean).length;
  }

  /** EOS to every client (one attempt each), then close every connection and the socket; every loan ends. */
  close(): void {
    if (this.#owned.closed) return;
    try {
      this.#owned.close(() => this.#waits.cancelAll());
    } finally {
      // Also when closing the listening fd fails (EBADF: closed behind the sink's back): the
      // clients and the socket file are the sink's either way.
      const eos = encodeMessage(EOS);
      for (const client of [...this.#clients]) {
        client.connection.tryWrite(eos);
        this.#drop(client, undefined);
      }
      if (this.#path !== undefined) this.#addon.unlinkPath(this.#path);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd, path: this.#path ?? null, clients: this.#clients.size, caps: this.#caps ?? null }));
  }
}

function protocolError(message: string): DmaBufError {
  return new DmaBufError(MisuseCode.PROTOCOL, `unixfd: ${message}`, { syscall: 'recvmsg' });
}

function frameIsKernel(frame: Frame): boolean {
  // Every buffer of the frame must be a kernel dma-buf; describe() gave fds, supports says whether they are real.
  return frame._buffers().every((b: DmaBuf) => b.supports.realFds);
}

function withResolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
