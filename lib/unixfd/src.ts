/**
 * UnixFdSrc: this process in unixfdsrc's role. It connects to a pipeline's
 * `unixfdsink socket-path=PATH` and receives its buffers: each a UnixFdBuffer with the caps in
 * force, the timestamps, the memories (their fds typed: dma-bufs as DmaBuf, memfds as OwnedFd)
 * and, when the caps are raw video in a format we know and every memory is a dma-buf, a Frame
 * built from the caps and the GstVideoMeta. Closing the frame (or release()) sends
 * RELEASE_BUFFER: GStreamer's pool reuses the buffer only then.
 */
import { untilPeerCloses } from '../wait.js';
import { inspect } from 'node:util';
import { DmaBufError, MisuseCode } from '../common/errors.js';
import { socketOps, type SocketOps } from '../backend/kernel/socket.js';
import { DmaBuf } from '../dmabuf.js';
import { checkSocketName, closeAll, type OwnedFd, typeReceived } from '../fd-channel.js';
import { Frame } from '../frame.js';
import { SyncFile } from '../sync-file.js';
import { checkToken, Owned } from '../lifecycle.js';
import { checkOptions, checkSignal, checkTimeout, WAIT_OPTIONS } from '../validate.js';
import { Connection } from './connection.js';
import {
  CAPS,
  decodeCaps,
  decodeNewBuffer,
  defaultLayout,
  encodeRelease,
  EOS,
  NEW_BUFFER,
  NONE,
  type NewBuffer,
  parseVideoCaps,
  RELEASE_BUFFER,
} from './protocol.js';

const CLASS = 'UnixFdSrc';
const token = Symbol(CLASS);

export interface UnixFdMemory {
  /** The memory's fd: a DmaBuf for a dma-buf (memory type DMABUF), else an OwnedFd (a memfd GStreamer copied into). */
  readonly handle: DmaBuf | OwnedFd;
  /** The memory is the fd's bytes [offset, offset + size). */
  readonly offset: number;
  readonly size: number;
}

export interface UnixFdBuffer {
  /** The caps in force (the last CAPS message). */
  readonly caps: string;
  /** The frame, when the caps are raw video in a known format and every memory is a dma-buf; else null. */
  readonly frame: Frame | null;
  readonly memories: readonly UnixFdMemory[];
  /** CLOCK_MONOTONIC ns, as unixfdsink sends it; undefined for GST_CLOCK_TIME_NONE. */
  readonly pts: bigint | undefined;
  readonly dts: bigint | undefined;
  readonly duration: bigint | undefined;
  readonly offset: bigint | undefined;
  readonly offsetEnd: bigint | undefined;
  /** GstBufferFlags. */
  readonly flags: number;
  /** Close the frame (or the memories' fds) and send RELEASE_BUFFER; later calls do nothing. */
  release(): void;
}

const none = (v: bigint): bigint | undefined => (v === NONE ? undefined : v);

interface Handle {
  readonly connection: Connection;
  close(): void;
}

export class UnixFdSrc {
  readonly #owned: Owned<Handle>;
  readonly #addon: SocketOps;
  #caps: string | undefined;
  #ended = false;
  /** Buffers handed out and not yet released. */
  #held = 0;

  private constructor(t: symbol, addon: SocketOps, fd: number) {
    checkToken(t, token, CLASS, 'UnixFdSrc.connect()');
    this.#addon = addon;
    const connection = new Connection(addon, fd);
    this.#owned = new Owned(this, CLASS, { connection, close: () => connection.close() });
  }

  /** Connect to a unixfdsink at `path` (or '\0abstract-name': socket-type=abstract on GStreamer's side). */
  static async connect(path: string): Promise<UnixFdSrc> {
    const { name, abstract } = checkSocketName('connect', path);
    const addon = socketOps();
    return new UnixFdSrc(token, addon, addon.socketConnect(name, abstract, true));
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The caps last received (undefined before the first CAPS message). */
  get caps(): string | undefined {
    this.#owned.live('caps');
    return this.#caps;
  }

  /** Buffers received and not yet released. */
  get held(): number {
    this.#owned.live('held');
    return this.#held;
  }

  /**
   * The next buffer. Rejects ERR_DMABUF_CHANNEL_CLOSED at EOS or when the sink hung up;
   * ERR_DMABUF_PROTOCOL when it broke the protocol (the connection is closed then, every fd that
   * came closed); a buffer whose memories cannot hold what its caps and GstVideoMeta say is
   * released and refused with the reason, and the connection goes on.
   */
  async receive(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<UnixFdBuffer> {
    const syscall = 'recvmsg';
    const { connection } = this.#owned.live(syscall);
    checkOptions(syscall, options, WAIT_OPTIONS);
    const timeoutMs = checkTimeout(syscall, options);
    const signal = checkSignal(syscall, options);
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      if (this.#ended) throw new DmaBufError(MisuseCode.CHANNEL_CLOSED, 'the sink sent EOS', { syscall });
      const remaining = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
      let message: Awaited<ReturnType<Connection['read']>>;
      try {
        message = await connection.read(CLASS, remaining, signal);
      } catch (error) {
        if (error instanceof DmaBufError && error.code === MisuseCode.PROTOCOL) this.close();
        throw error;
      }
      try {
        if (message.type === NEW_BUFFER) {
          const b = decodeNewBuffer(message.payload, message.fds.length);
          if (b.memories.length === 0) {
            this.#send(encodeRelease(b.id));
            continue;
          }
          const fds = message.fds;
          message.fds = [];
          return this.#buffer(b, fds);
        }
        if (message.fds.length > 0) throw protocolError(`a message of type ${message.type} came with ${message.fds.length} fds`);
        if (message.type === CAPS) this.#caps = decodeCaps(message.payload);
        else if (message.type === EOS) this.#ended = true;
        else if (message.type === RELEASE_BUFFER) throw protocolError('the sink sent RELEASE_BUFFER, which only a client sends');
        // Other types: a newer protocol's; ignored, as unixfdsrc does.
      } catch (error) {
        closeAll(this.#addon, message.fds);
        if (error instanceof DmaBufError && error.code === MisuseCode.PROTOCOL) this.close();
        throw error;
      }
    }
  }

  #send(bytes: Uint8Array): void {
    const handle = this.#owned.current;
    handle?.connection.write(bytes, [], CLASS).catch(() => undefined);
  }

  #buffer(b: NewBuffer, fds: number[]): UnixFdBuffer {
    // Typing takes the fds over (and closes them all if it fails).
    const handles = typeReceived(this.#addon, fds);
    const memories = handles.map((handle, i) => Object.freeze({ handle: handle as DmaBuf | OwnedFd, ...(b.memories[i] as { size: number; offset: number }) }));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#held--;
      this.#send(encodeRelease(b.id));
    };
    this.#held++;
    let frame: Frame | null = null;
    try {
      if (handles.some((h) => h instanceof SyncFile)) throw protocolError('a memory fd is a sync_file');
      frame = this.#frame(b, memories);
    } catch (error) {
      for (const h of handles) h.close();
      release();
      throw error;
    }
    const releaseAll = (): void => {
      if (frame) frame.close();
      else for (const m of memories) m.handle.close();
      release();
    };
    if (frame) frame._adoptReceived([...new Set(memories.map((m) => m.handle as DmaBuf))], release);
    return Object.freeze({
      caps: this.#caps ?? '',
      frame,
      memories: Object.freeze(memories),
      pts: none(b.pts),
      dts: none(b.dts),
      duration: none(b.duration),
      offset: none(b.offset),
      offsetEnd: none(b.offsetEnd),
      flags: b.flags,
      release: releaseAll,
    });
  }

  /** The frame the caps and GstVideoMeta describe over these memories, or null when they describe none. */
  #frame(b: NewBuffer, memories: readonly UnixFdMemory[]): Frame | null {
    const caps = this.#caps === undefined ? undefined : parseVideoCaps(this.#caps);
    if (!caps || !memories.every((m) => m.handle instanceof DmaBuf)) return null;
    const meta = b.videoMeta;
    const layout = meta ?? defaultLayout(caps);
    if (layout.offsets.length !== caps.format.cpp.length) {
      throw protocolError(`the GstVideoMeta has ${layout.offsets.length} planes; ${caps.format.name} has ${caps.format.cpp.length}`);
    }
    // Plane offsets count through the memories one after the other (gst_buffer_find_memory).
    const planes = layout.offsets.map((at, i) => {
      let start = 0;
      for (const m of memories) {
        if (at < start + m.size) return { buffer: m.handle as DmaBuf, offset: m.offset + (at - start), stride: layout.strides[i] as number };
        start += m.size;
      }
      throw protocolError(`plane ${i} starts at ${at}, past the buffer's ${start} bytes`);
    });
    return Frame.fromPlanes({
      width: caps.width,
      height: caps.height,
      format: caps.format.code,
      modifier: caps.modifier,
      planes,
      ...(b.pts === NONE ? {} : { timestamp: Number(b.pts / 1000n) }),
    });
  }

  /** Buffers until EOS or the sink hangs up; other failures throw. */
  [Symbol.asyncIterator](): AsyncGenerator<UnixFdBuffer, void, undefined> {
    return untilPeerCloses(() => this.receive());
  }

  /** Close the connection: unixfdsink drops this client and its holds; buffers still held here stay valid until closed. */
  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.connection.fd, caps: this.#caps ?? null, held: this.#held }));
  }
}

function protocolError(message: string): DmaBufError {
  return new DmaBufError(MisuseCode.PROTOCOL, `unixfd: ${message}`, { syscall: 'recvmsg' });
}
