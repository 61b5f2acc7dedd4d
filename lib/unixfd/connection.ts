/**
 * One SOCK_STREAM connection speaking unixfd's framing (protocol.ts): an 8-byte header and a
 * payload per message, the fds with the header. A stream has no boundaries, so the reader asks
 * the kernel for exactly the bytes of the current message part (the header, then the payload):
 * a unix stream read stops where a sendmsg that carried fds begins (unix_stream_read_generic),
 * so reading no further than a message's end keeps each message's fds with it. Writes go whole,
 * in call order, one sendmsg each (GStreamer 1.26.2 reads a payload with one recv: a split message
 * would fail it); the rest of a partial write follows once the socket has room. Waits are
 * PollWaiters on the loop, as in FdChannel; the socket itself stays blocking (MSG_DONTWAIT per call).
 */
import { closedError, DmaBufError, MisuseCode } from '../common/errors.js';
import { receiveMessage, type SocketOps } from '../backend/kernel/socket.js';
import { closeAll, fdHandle, type FdHandle, Waits } from '../fd-channel.js';
import { decodeHeader, HEADER_BYTES, MAX_PAYLOAD_BYTES } from './protocol.js';
import { abortErrorFor } from '../wait.js';

/** The most fds one message may bring: a buffer has at most 255 memories; the kernel passes 253 (SCM_MAX_FD). */
const MAX_FDS = 253;

export interface RawMessage {
  type: number;
  payload: Uint8Array;
  /** Received fds, owned by the caller (close or wrap each). */
  fds: number[];
}

/** A message being read: its header, then its payload once the header is whole; the fds that came. */
interface PartRead {
  header: Uint8Array;
  payload: Uint8Array | undefined;
  type: number;
  have: number;
  fds: number[];
}

function protocolError(message: string): DmaBufError {
  return new DmaBufError(MisuseCode.PROTOCOL, `unixfd: ${message}`, { syscall: 'recvmsg' });
}

export class Connection {
  readonly #addon: SocketOps;
  readonly #handle: FdHandle;
  #closed = false;
  readonly #waits = new Waits();
  #writing: Promise<unknown> = Promise.resolve();
  #reading: Promise<unknown> = Promise.resolve();
  /** What came of a message whose read timed out or was aborted: the next read goes on with it. */
  #partial: PartRead | undefined;

  constructor(addon: SocketOps, fd: number) {
    this.#addon = addon;
    this.#handle = fdHandle(addon, fd);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get fd(): number {
    return this.#handle.fd;
  }

  #live(syscall: string, className: string): number {
    if (this.#closed) throw closedError(className, syscall);
    return this.#handle.fd;
  }

  /** Queue a whole message; resolves once the kernel holds all of it. The fds go with its first byte. */
  write(bytes: Uint8Array, fds: readonly number[], className: string): Promise<void> {
    const run = this.#writing.then(() => this.#writeNow(bytes, fds, className));
    this.#writing = run.catch(() => undefined);
    return run;
  }

  async #writeNow(bytes: Uint8Array, fds: readonly number[], className: string): Promise<void> {
    const a = this.#addon;
    let rest = bytes;
    let withFds = fds;
    for (;;) {
      const fd = this.#live('sendmsg', className);
      const sent = a.sendMsg(fd, rest, withFds);
      if (sent >= 0) {
        withFds = [];
        rest = rest.subarray(sent);
        if (rest.length === 0) return;
      }
      const result = await this.#waits.wait(a, fd, a.constants.POLLOUT, -1, undefined);
      if (result === 'cancelled') throw closedError(className, 'sendmsg');
    }
  }

  /** One attempt, never waiting (EOS as the sink closes): whether it went. */
  tryWrite(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    try {
      return this.#addon.sendMsg(this.#handle.fd, bytes, []) === bytes.length;
    } catch {
      return false;
    }
  }

  /**
   * The next message. ERR_DMABUF_CHANNEL_CLOSED when the peer hung up between messages;
   * ERR_DMABUF_PROTOCOL when it hung up inside one, announced a payload over 1 MiB, or sent more
   * fds than fit (the fds that came are closed). After a protocol error the stream is out of step:
   * close the connection. A timeout or an abort in the middle of a message keeps what came of it
   * (fds included) for the next read, so that a peer that stalls mid-message cannot hold a read
   * past its time, and the stream stays in step.
   */
  read(className: string, timeoutMs = -1, signal?: AbortSignal): Promise<RawMessage> {
    const run = this.#reading.then(() => this.#readNow(className, timeoutMs, signal));
    this.#reading = run.catch(() => undefined);
    return run;
  }

  async #readNow(className: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<RawMessage> {
    const a = this.#addon;
    const c = a.constants;
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    // A message part-read by an earlier call that timed out or was aborted goes on where it stopped.
    const m = this.#partial ?? { header: new Uint8Array(HEADER_BYTES), payload: undefined, type: 0, have: 0, fds: [] };
    this.#partial = m;
    try {
      for (;;) {
        if (signal?.aborted) throw abortErrorFor(signal);
        const fd = this.#live('recvmsg', className);
        const want = m.payload === undefined ? HEADER_BYTES - m.have : m.payload.length - m.have;
        const got = want === 0 ? { data: new Uint8Array(0), length: 0, fds: [], kinds: [], flags: 0 } : receiveMessage(a, fd, want, MAX_FDS, true);
        if (got) {
          m.fds.push(...got.fds);
          if (got.flags & c.MSG_CTRUNC) throw protocolError(`a message carried more than ${MAX_FDS} fds; those that came were closed`);
          if (want > 0 && got.length === 0 && got.fds.length === 0) {
            if (m.payload === undefined && m.have === 0 && m.fds.length === 0)
              throw new DmaBufError(MisuseCode.CHANNEL_CLOSED, 'the other end closed the connection', { syscall: 'recvmsg' });
            throw protocolError('the other end closed the connection inside a message');
          }
          if (m.payload === undefined) {
            m.header.set(got.data, m.have);
            m.have += got.data.length;
            if (m.have === HEADER_BYTES) {
              const h = decodeHeader(m.header);
              if (h.size > MAX_PAYLOAD_BYTES) throw protocolError(`a message announces a payload of ${h.size} bytes (at most ${MAX_PAYLOAD_BYTES})`);
              m.type = h.type;
              m.payload = new Uint8Array(h.size);
              m.have = 0;
            }
          } else {
            m.payload.set(got.data, m.have);
            m.have += got.data.length;
          }
          if (m.payload !== undefined && m.have === m.payload.length) {
            this.#partial = undefined;
            return { type: m.type, payload: m.payload, fds: m.fds };
          }
          continue;
        }
        const remaining = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
        const result = await this.#waits.wait(a, fd, c.POLLIN | c.POLLRDHUP, remaining, signal);
        if (result === 'timeout') {
          const what = m.payload === undefined && m.have === 0 ? 'no message arrived' : 'a message began but its rest did not arrive';
          throw new DmaBufError('ETIMEDOUT', `${what} within ${timeoutMs} ms`, { syscall: 'recvmsg' });
        }
        if (result === 'cancelled') throw closedError(className, 'recvmsg');
      }
    } catch (error) {
      // A timeout or an abort keeps what came of the message (its fds too) for the next read: the
      // stream stays in step. Anything else ends the message, and the fds that came are closed.
      // (close() closes a kept message's fds itself, and clears it.)
      const waiting = error instanceof DmaBufError ? error.code === 'ETIMEDOUT' : (error as Error).name === 'AbortError';
      if (this.#partial === m && !waiting) {
        this.#partial = undefined;
        closeAll(a, m.fds);
      }
      throw error;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waits.cancelAll();
    if (this.#partial) closeAll(this.#addon, this.#partial.fds);
    this.#partial = undefined;
    this.#handle.close();
  }
}
