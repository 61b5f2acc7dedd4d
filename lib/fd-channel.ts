/**
 * FdChannel: messages with fds between processes, over a Unix SOCK_SEQPACKET socket that the
 * addon owns (libuv would swallow SCM_RIGHTS on a `net` socket). Each message is a byte payload
 * plus up to 253 fds (SCM_MAX_FD); received fds arrive as owned objects typed by what they are: a
 * DmaBuf (fstatfs says dma-buf), a SyncFile (an anon inode named sync_file), or an OwnedFd.
 * Waits are PollWaiters (uv_poll on the env's own loop): a full socket or an empty one never
 * blocks the loop or spins.
 */
import { inspect } from 'node:util';
import { readlinkSync } from 'node:fs';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import { getKernelBackend } from './backend/kernel/index.js';
import { receiveMessage, receivedKind, socketOps, type SocketOps } from './backend/kernel/socket.js';
import { DmaBuf } from './dmabuf.js';
import { SyncFile } from './sync-file.js';
import { Memfd } from './memfd.js';
import { checkedByDefault } from './common/checked.js';
import { Frame } from './frame.js';
import { decodeRelease } from './frame-message.js';
import { checkToken, Owned } from './lifecycle.js';
import { checkFd, checkInteger, checkOptions, checkSignal, checkTimeout, WAIT_OPTIONS } from './validate.js';
import { abortErrorFor, untilPeerCloses } from './wait.js';

/** The kernel's SCM_MAX_FD: more fds in one message is EINVAL. */
export const MAX_FDS_PER_MESSAGE = 253;
/** Default receive limit for a message's payload; larger messages are refused (their fds closed). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** sockaddr_un.sun_path holds 108 bytes, a path's terminating NUL included. */
const MAX_PATH_BYTES = 107;

/** An fd received over a channel that is neither a dma-buf nor a sync_file. Close it, or take() it. */
/** An fd this package owns, as the lifecycle holds it. */
export interface FdHandle {
  readonly fd: number;
  close(): void;
}

export function fdHandle(addon: SocketOps, fd: number): FdHandle {
  return { fd, close: () => addon.close(fd) };
}

const ownedFdToken = Symbol('OwnedFd');

export class OwnedFd {
  readonly #owned: Owned<FdHandle>;
  #kind: string | undefined;
  readonly #addon: SocketOps;

  /** Not public: received fds arrive as OwnedFds in a ChannelMessage. */
  private constructor(token: symbol, addon: SocketOps, fd: number) {
    checkToken(token, ownedFdToken, 'OwnedFd', 'FdChannel#receive() (received fds arrive as OwnedFds)');
    this.#addon = addon;
    this.#owned = new Owned(this, 'OwnedFd', fdHandle(addon, fd));
  }

  /** @internal */
  static _wrap(addon: SocketOps, fd: number): OwnedFd {
    return new OwnedFd(ownedFdToken, addon, fd);
  }

  /** What /proc/self/fd says it is: a path, 'socket:[…]', 'pipe:[…]', 'anon_inode:…' (read on first use). */
  get kind(): string {
    this.#kind ??= describeFd(this.fd);
    return this.#kind;
  }

  get fd(): number {
    return this.#owned.live('fd').fd;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd }));
  }

  /** Take the fd over: this object forgets it, and closing it is now the caller's job. */
  take(): number {
    const { fd } = this.#owned.release('take');
    this.#addon.disown(fd);
    return fd;
  }

  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export type ChannelHandle = DmaBuf | SyncFile | OwnedFd;
/** What send() can carry: the package's objects, an OwnedFd, or a raw fd number (sent as is). */
export type Sendable = DmaBuf | SyncFile | Memfd | OwnedFd | number;

export interface ChannelMessage {
  /** The payload. */
  readonly data: Uint8Array;
  /** Every received fd, in the order it was sent, typed. */
  readonly handles: readonly ChannelHandle[];
  readonly buffers: readonly DmaBuf[];
  readonly syncFiles: readonly SyncFile[];
  readonly fds: readonly OwnedFd[];
  /** The payload as UTF-8 text. */
  text(): string;
  /** @internal Sends `text` back on the channel this came from (a lent frame's release); never throws. */
  readonly _reply?: (text: string) => void;
}

export interface ReceiveOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest payload accepted (default 64 KiB); a larger message is refused and its fds closed. */
  maxBytes?: number;
  /** Most fds accepted (default 253); a message with more is refused and the fds that came closed. */
  maxFds?: number;
}

function describeFd(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return 'unknown';
  }
}

/**
 * Wrap each received fd as what it is (`kinds`: recvMsg's answers, where the fds came in one
 * call); on any failure every fd not yet wrapped is closed too.
 */
export function typeReceived(addon: SocketOps, fds: readonly number[], kinds?: readonly number[]): ChannelHandle[] {
  const handles: ChannelHandle[] = [];
  const backend = getKernelBackend();
  // DMABUF_CHECK is read at the first dma-buf (a message without one does not depend on it); a
  // bad value refuses the message, closing what was wrapped so far and what was not.
  let checked: boolean | undefined;
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i] as number;
    let handedOver = false;
    try {
      const kind = receivedKind(fd, kinds?.[i]);
      if (kind === 'dmabuf') checked ??= checkedByDefault();
      // importFd/importSyncFileFd without dup take the fd over (and close it if they fail).
      handedOver = true;
      if (kind === 'dmabuf') handles.push(DmaBuf._adopt(fd, checked === true));
      else if (kind === 'syncFile') handles.push(SyncFile._wrap(backend.importSyncFileFd(fd, false)));
      else handles.push(OwnedFd._wrap(addon, fd));
    } catch (error) {
      if (!handedOver) addon.close(fd);
      for (const h of handles) h.close();
      closeAll(addon, fds.slice(i + 1));
      throw error;
    }
  }
  return handles;
}

export function closeAll(addon: SocketOps, fds: readonly number[]): void {
  for (const fd of fds) addon.close(fd);
}

function toBytes(syscall: string, data: unknown): Uint8Array {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidType(syscall, 'data', 'a Uint8Array, another ArrayBufferView or a string', data);
}

function fdOf(syscall: string, handle: unknown, index: number): number {
  const where = `handles[${index}]`;
  if (typeof handle === 'number') return checkFd(syscall, where, handle);
  if (handle instanceof DmaBuf) {
    if (!handle.supports.realFds) {
      throw new DmaBufError(MisuseCode.UNSUPPORTED, `${where}: an emulated buffer has no kernel fd to send; only kernel buffers cross a process boundary`, {
        syscall,
        argument: where,
      });
    }
    return handle.fd;
  }
  if (handle instanceof SyncFile) {
    if (!handle.supports.realFds) {
      throw new DmaBufError(MisuseCode.UNSUPPORTED, `${where}: an emulated sync file has no kernel fd to send`, { syscall, argument: where });
    }
    return handle.fd;
  }
  if (handle instanceof Memfd || handle instanceof OwnedFd) return handle.fd;
  throw invalidType(syscall, where, 'a DmaBuf, SyncFile, Memfd, OwnedFd or fd number', handle);
}

/** A socket name: a path, or an abstract name written with a leading NUL ('\0name'), as Node's net does. */
export function checkSocketName(syscall: string, name: unknown): { name: string; abstract: boolean } {
  if (typeof name !== 'string') throw invalidType(syscall, 'path', 'a socket path or "\\0abstract-name"', name);
  const abstract = name.startsWith('\0');
  const body = abstract ? name.slice(1) : name;
  if (body === '') throw invalidArgument(syscall, 'path', 'must not be empty');
  if (!abstract && body.includes('\0')) throw invalidArgument(syscall, 'path', 'must not contain NUL characters');
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_PATH_BYTES) throw invalidArgument(syscall, 'path', `must be at most ${MAX_PATH_BYTES} bytes (sockaddr_un), got ${bytes}`);
  return { name: body, abstract };
}

export type WaitResult = 'ready' | 'timeout' | 'cancelled';

/** One PollWaiter, cancellable by close() or an AbortSignal. */
export class Waits {
  readonly #pending = new Set<{ cancel(): void }>();

  async wait(addon: SocketOps, fd: number, events: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<WaitResult> {
    if (signal?.aborted) throw abortErrorFor(signal);
    const waiter = new addon.PollWaiter(fd, events, timeoutMs);
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      waiter.cancel();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#pending.add(waiter);
    try {
      const revents = await waiter.promise;
      if (aborted && signal) throw abortErrorFor(signal);
      return revents > 0 ? 'ready' : revents === 0 ? 'timeout' : 'cancelled';
    } finally {
      this.#pending.delete(waiter);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  cancelAll(): void {
    for (const w of this.#pending) w.cancel();
  }
}

const pairToken = Symbol('FdChannel');

export class FdChannel {
  readonly #owned: Owned<FdHandle>;
  readonly #addon: SocketOps;
  readonly #waits = new Waits();
  /** Sends and receives each run one at a time, in call order. */
  #sending: Promise<unknown> = Promise.resolve();
  /** Sends waiting in #sending: while there are any, a new send queues behind them. */
  #sendsQueued = 0;
  #receiving: Promise<unknown> = Promise.resolve();
  /**
   * Frames lent to the peer (sendFrame of a pooled frame), by loan number, each with the function
   * that ends it. While any is out the channel reads ahead (#readAhead) so releases arrive even
   * when the program is not calling receive(); what else it reads waits in #inbox.
   */
  readonly #loans = new Map<number, () => void>();
  #nextLoan = 1;
  readonly #inbox: ({ message: ChannelMessage } | { error: unknown })[] = [];
  #readingAhead: AbortController | undefined;
  #userReceives = 0;

  /** Not public: use FdChannel.pair(), connect(), fromFd() or a server's accept(). */
  private constructor(token: symbol, addon: SocketOps, fd: number) {
    checkToken(token, pairToken, 'FdChannel', 'FdChannel.pair() or FdChannel.connect()');
    this.#addon = addon;
    this.#owned = new Owned(this, 'FdChannel', fdHandle(addon, fd));
  }

  /** @internal */
  static _wrap(addon: SocketOps, fd: number): FdChannel {
    return new FdChannel(pairToken, addon, fd);
  }

  /** Two connected ends (socketpair). Pass one end's fd to a child through stdio and FdChannel.fromFd() it there. */
  static pair(): [FdChannel, FdChannel] {
    const addon = socketOps();
    const [a, b] = addon.socketPair();
    return [FdChannel._wrap(addon, a), FdChannel._wrap(addon, b)];
  }

  /** Connect to a listening FdChannelServer at `path` (or '\0abstract-name'). */
  static async connect(path: string): Promise<FdChannel> {
    const { name, abstract } = checkSocketName('connect', path);
    const addon = socketOps();
    return FdChannel._wrap(addon, addon.socketConnect(name, abstract));
  }

  /**
   * A channel over an fd this process inherited or received (a SOCK_SEQPACKET socket, for example
   * fd 3 of a child spawned with an end of FdChannel.pair() in its stdio). `dup: false` takes it over.
   */
  static fromFd(fd: number, options?: { dup?: boolean }): FdChannel {
    checkFd('FdChannel.fromFd', 'fd', fd);
    const dup = checkOptions('FdChannel.fromFd', options, ['dup'])['dup'] ?? true;
    if (typeof dup !== 'boolean') throw invalidType('FdChannel.fromFd', 'dup', 'a boolean', dup);
    const addon = socketOps();
    const S_IFMT = 0o170000;
    const S_IFSOCK = 0o140000;
    if ((addon.fstat(fd).mode & S_IFMT) !== S_IFSOCK) {
      throw new DmaBufError('ENOTSOCK', `FdChannel.fromFd: fd ${fd} is not a socket`, { syscall: 'fstat', argument: 'fd' });
    }
    if (dup) return FdChannel._wrap(addon, addon.dup(fd));
    addon.adopt(fd);
    return FdChannel._wrap(addon, fd);
  }

  /** Listen on `path` (a new socket file, mode 0600 unless told) or '\0abstract-name'. */
  static listen(path: string, options?: { mode?: number; backlog?: number }): FdChannelServer {
    const { name, abstract } = checkSocketName('bind', path);
    const opts = checkOptions('listen', options, ['mode', 'backlog']);
    const mode = opts['mode'] === undefined ? 0o600 : checkInteger('bind', 'mode', opts['mode'], 0, 0o777);
    const backlog = opts['backlog'] === undefined ? 16 : checkInteger('listen', 'backlog', opts['backlog'], 1, 4096);
    const addon = socketOps();
    let fd: number;
    try {
      fd = addon.socketListen(name, abstract, mode, backlog);
    } catch (error) {
      throw (error as DmaBufError).code === 'EADDRINUSE' ? addressInUse(error as DmaBufError, path, abstract) : error;
    }
    return FdChannelServer._wrap(addon, fd, abstract ? undefined : name);
  }

  #live(operation: string): number {
    return this.#owned.live(operation).fd;
  }

  get fd(): number {
    return this.#live('fd');
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** SO_PEERCRED: the process at the other end (the one that connected, or made the pair). */
  get peer(): { pid: number; uid: number; gid: number } {
    return this.#addon.peerCredentials(this.#live('getsockopt'));
  }

  /**
   * Send `data` (bytes or a string, sent as UTF-8) with `handles` as one message. Resolves once the
   * kernel has queued it; while the peer's queue is full it waits for room on the event loop. The
   * fds are duplicated into the message: the caller keeps its objects.
   */
  send(data: Uint8Array | ArrayBufferView | string, handles: readonly Sendable[] = []): Promise<void> {
    const syscall = 'sendmsg';
    let bytes: Uint8Array;
    let fds: number[];
    try {
      this.#live(syscall);
      bytes = toBytes(syscall, data);
      if (!Array.isArray(handles)) throw invalidType(syscall, 'handles', 'an array', handles);
      if (handles.length > MAX_FDS_PER_MESSAGE) {
        throw invalidArgument(syscall, 'handles', `at most ${MAX_FDS_PER_MESSAGE} fds fit in one message (SCM_MAX_FD), got ${handles.length}`);
      }
      fds = handles.map((h, i) => fdOf(syscall, h, i));
    } catch (error) {
      return Promise.reject(error);
    }
    // Nothing queued before it: try at once (most sends find room), saving the promise chain.
    if (this.#sendsQueued === 0) {
      try {
        if (this.#addon.sendMsg(this.#live('sendmsg'), bytes, fds) >= 0) return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.#sendsQueued++;
    const run = this.#sending.then(() => this.#sendNow(bytes, fds)).finally(() => this.#sendsQueued--);
    this.#sending = run.catch(() => undefined);
    return run;
  }

  async #sendNow(bytes: Uint8Array, fds: number[]): Promise<void> {
    const a = this.#addon;
    for (;;) {
      const fd = this.#live('sendmsg');
      if (a.sendMsg(fd, bytes, fds) >= 0) return;
      // Full (EAGAIN): wait for room, never spin.
      const result = await this.#waits.wait(a, fd, a.constants.POLLOUT, -1, undefined);
      if (result === 'cancelled') throw closedError('FdChannel', 'sendmsg');
    }
  }

  /**
   * Send a frame: its description and metadata as JSON (lib/frame-message.ts) and one fd per
   * distinct buffer, plus `extra` (any JSON) for the receiver; Frame.fromMessage() rebuilds it. A
   * frame of a FramePool is lent to the peer until it answers with a release (the receiving Frame's
   * close() sends it) or the channel closes; refused while a write bracket is open on the frame.
   */
  sendFrame(frame: Frame, extra?: unknown): Promise<void> {
    let encoded: { text: string; buffers: DmaBuf[]; loan: number | undefined };
    try {
      this.#live('sendmsg');
      if (!(frame instanceof Frame)) throw invalidType('sendmsg', 'frame', 'a Frame', frame);
      encoded = frame._toMessage('sendmsg', extra, (end) => this.#lend(end));
    } catch (error) {
      return Promise.reject(error);
    }
    const { text, buffers, loan } = encoded;
    return this.send(text, buffers).catch((error: unknown) => {
      if (loan !== undefined) this.#endLoan(loan);
      throw error;
    });
  }

  #lend(end: () => void): number {
    const loan = this.#nextLoan++;
    this.#loans.set(loan, end);
    this.#readAhead();
    return loan;
  }

  #endLoan(loan: number): void {
    const end = this.#loans.get(loan);
    this.#loans.delete(loan);
    end?.();
    // Nothing lent any more: stop reading ahead, so no wait keeps the process alive for releases
    // that will not come (the abort lands only while waiting, so no message is lost).
    if (this.#loans.size === 0) this.#readingAhead?.abort();
  }

  /** The channel is gone (closed here or by the peer): nothing lent on it can be released any more. */
  #endAllLoans(): void {
    for (const loan of [...this.#loans.keys()]) this.#endLoan(loan);
  }

  /**
   * While frames are lent and nobody is receiving, read one message at a time so releases are
   * seen; other messages wait in the inbox for receive(). A receive() call stops the read-ahead
   * (an abort that lands only while waiting, so no message is lost) and reads itself.
   */
  #readAhead(): void {
    if (this.#readingAhead || this.#loans.size === 0 || this.#userReceives > 0 || this.#owned.closed || this.#inbox.length >= 64) return;
    const controller = new AbortController();
    this.#readingAhead = controller;
    const run = this.#receiving.then(async () => {
      if (controller.signal.aborted) return;
      try {
        this.#inbox.push({ message: await this.#next(-1, controller.signal, DEFAULT_MAX_MESSAGE_BYTES, MAX_FDS_PER_MESSAGE) });
      } catch (error) {
        if (controller.signal.aborted && (error as Error).name === 'AbortError') return;
        if (!(error instanceof DmaBufError && error.code === MisuseCode.CLOSED)) this.#inbox.push({ error });
      }
    });
    this.#receiving = run.catch(() => undefined);
    void run.finally(() => {
      if (this.#readingAhead === controller) this.#readingAhead = undefined;
      this.#readAhead();
    });
  }

  /** The next message that is not a release; releases end their loans on the way. */
  async #next(timeoutMs: number, signal: AbortSignal | undefined, maxBytes: number, maxFds: number): Promise<ChannelMessage> {
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const remaining = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
      let m: ChannelMessage;
      try {
        m = await this.#receiveNow(remaining, signal, maxBytes, maxFds, timeoutMs);
      } catch (error) {
        if (error instanceof DmaBufError && error.code === MisuseCode.CHANNEL_CLOSED) this.#endAllLoans();
        throw error;
      }
      if (this.#nextLoan > 1) {
        const loan = decodeRelease(m.data, m.handles.length);
        if (loan !== undefined) {
          this.#endLoan(loan);
          continue;
        }
      }
      return m;
    }
  }

  /** The next message. Rejects ERR_DMABUF_CHANNEL_CLOSED once the peer has closed and nothing is left. */
  receive(options?: ReceiveOptions): Promise<ChannelMessage> {
    const syscall = 'recvmsg';
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    let maxBytes: number;
    let maxFds: number;
    try {
      this.#live(syscall);
      const opts = checkOptions(syscall, options, [...WAIT_OPTIONS, 'maxBytes', 'maxFds']);
      timeoutMs = checkTimeout(syscall, options);
      signal = checkSignal(syscall, options);
      maxBytes = opts['maxBytes'] === undefined ? DEFAULT_MAX_MESSAGE_BYTES : checkInteger(syscall, 'maxBytes', opts['maxBytes'], 0, 2 ** 30);
      maxFds = opts['maxFds'] === undefined ? MAX_FDS_PER_MESSAGE : checkInteger(syscall, 'maxFds', opts['maxFds'], 0, MAX_FDS_PER_MESSAGE);
    } catch (error) {
      return Promise.reject(error);
    }
    // Nothing before it (no receive queued, nothing read ahead, no frame ever lent, so no release
    // to filter out): take a queued message at once, saving the promise chain.
    if (this.#userReceives === 0 && this.#nextLoan === 1 && this.#inbox.length === 0 && this.#readingAhead === undefined && !signal?.aborted) {
      try {
        const m = this.#tryReceive(this.#live(syscall), maxBytes, maxFds);
        if (m) return Promise.resolve(m);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.#userReceives++;
    this.#readingAhead?.abort();
    const run = this.#receiving.then(() => {
      const early = this.#inbox.shift();
      if (early) {
        if ('error' in early) throw early.error;
        return early.message;
      }
      return this.#next(timeoutMs, signal, maxBytes, maxFds);
    });
    this.#receiving = run.catch(() => undefined);
    return run.finally(() => {
      this.#userReceives--;
      this.#readAhead();
    });
  }

  /** One recvmsg without waiting: the message, undefined when none is queued, or why it was refused (its fds closed). */
  #tryReceive(fd: number, maxBytes: number, maxFds: number): ChannelMessage | undefined {
    const a = this.#addon;
    const c = a.constants;
    const got = receiveMessage(a, fd, maxBytes, maxFds);
    if (!got) return undefined;
    if (got.flags & c.MSG_CTRUNC) {
      closeAll(a, got.fds);
      throw new DmaBufError(
        MisuseCode.FDS_TRUNCATED,
        `a message carried more fds than the ${maxFds} allowed (maxFds); the ${got.fds.length} that arrived were closed`,
        {
          syscall: 'recvmsg',
        },
      );
    }
    if (got.flags & c.MSG_TRUNC) {
      closeAll(a, got.fds);
      throw new DmaBufError(
        MisuseCode.MESSAGE_TRUNCATED,
        `a message of ${got.length} bytes exceeds maxBytes (${maxBytes}); it was dropped and its fds closed`,
        {
          syscall: 'recvmsg',
        },
      );
    }
    // Zero bytes and no fds: the peer hung up, or sent an empty message; the socket tells which.
    if (got.length === 0 && got.fds.length === 0 && (a.poll(fd, c.POLLIN | c.POLLRDHUP, 0) & (c.POLLHUP | c.POLLRDHUP)) !== 0) {
      throw new DmaBufError(MisuseCode.CHANNEL_CLOSED, 'the other end closed the channel', { syscall: 'recvmsg' });
    }
    return message(got.data, typeReceived(a, got.fds, got.kinds), this.#reply);
  }

  async #receiveNow(timeoutMs: number, signal: AbortSignal | undefined, maxBytes: number, maxFds: number, asked = timeoutMs): Promise<ChannelMessage> {
    const a = this.#addon;
    const c = a.constants;
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw abortErrorFor(signal);
      const fd = this.#live('recvmsg');
      const got = this.#tryReceive(fd, maxBytes, maxFds);
      if (got) return got;
      const remaining = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
      const result = await this.#waits.wait(a, fd, c.POLLIN | c.POLLRDHUP, remaining, signal);
      if (result === 'timeout') {
        throw new DmaBufError('ETIMEDOUT', `no message arrived within ${asked} ms`, { syscall: 'recvmsg' });
      }
      if (result === 'cancelled') throw closedError('FdChannel', 'recvmsg');
    }
  }

  /** Messages until the peer closes the channel (then the loop ends); other failures throw. */
  [Symbol.asyncIterator](): AsyncGenerator<ChannelMessage, void, undefined> {
    return untilPeerCloses(() => this.receive());
  }

  /** Close this end: pending sends and receives reject with ERR_DMABUF_CLOSED; the peer sees the channel closed. */
  close(): void {
    if (this.#owned.closed) return;
    try {
      this.#owned.close(() => this.#waits.cancelAll());
    } finally {
      // Also when closing the fd fails (EBADF: closed behind the channel's back): the channel is
      // gone either way, so its loans end, and messages read ahead and never received have fds
      // that are ours to close.
      this.#endAllLoans();
      for (const early of this.#inbox.splice(0)) if ('message' in early) for (const h of early.message.handles) h.close();
    }
  }

  /** Sends a reply (a lent frame's release) after whatever is queued; a closed channel drops it. */
  readonly #reply = (text: string): void => {
    if (this.#owned.closed) return;
    this.send(text).catch(() => undefined);
  };

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd }));
  }
}

/**
 * EADDRINUSE from bind(2) with what to do: a socket file outlives the process that made it (the
 * kernel never removes it), so the path may be a stale leftover of a crashed process or a live
 * server's; only a connect tells them apart (ECONNREFUSED: nobody listens).
 */
export function addressInUse(error: DmaBufError, path: string, abstract: boolean): DmaBufError {
  const hint = abstract
    ? `the abstract name '${path.slice(1)}' is held by another socket (abstract names vanish with their last fd; see \`ss -xlp\`)`
    : `${path} already exists. If a crashed process left it, nothing listens there: FdChannel.connect(path) fails with ECONNREFUSED (or \`ss -xlp | grep ${path}\` shows no owner) and you can remove it (fs.unlinkSync) before listening; if it connects, another server is live`;
  return new DmaBufError('EADDRINUSE', `bind failed: ${hint}`, { syscall: 'bind', cause: error });
}

const UTF8 = new TextDecoder();

/**
 * A received message. The typed lists are made when first asked for, not per message: most
 * receivers read `handles` or one list, and P8 measured the four frozen arrays per message.
 */
class Received implements ChannelMessage {
  readonly #handles: readonly ChannelHandle[];
  readonly _reply: (text: string) => void;
  readonly data: Uint8Array;

  constructor(data: Uint8Array, handles: ChannelHandle[], reply: (text: string) => void) {
    this.data = data;
    this.#handles = Object.freeze(handles);
    this._reply = reply;
    Object.freeze(this);
  }

  get handles(): readonly ChannelHandle[] {
    return this.#handles;
  }

  // Private fields stay writable in a frozen object: each list is made once, when first asked for.
  #buffers: readonly DmaBuf[] | undefined;
  #syncFiles: readonly SyncFile[] | undefined;
  #fds: readonly OwnedFd[] | undefined;

  get buffers(): readonly DmaBuf[] {
    this.#buffers ??= Object.freeze(this.#handles.filter((h): h is DmaBuf => h instanceof DmaBuf));
    return this.#buffers;
  }

  get syncFiles(): readonly SyncFile[] {
    this.#syncFiles ??= Object.freeze(this.#handles.filter((h): h is SyncFile => h instanceof SyncFile));
    return this.#syncFiles;
  }

  get fds(): readonly OwnedFd[] {
    this.#fds ??= Object.freeze(this.#handles.filter((h): h is OwnedFd => h instanceof OwnedFd));
    return this.#fds;
  }

  text(): string {
    return UTF8.decode(this.data);
  }
}

function message(data: Uint8Array, handles: ChannelHandle[], reply: (text: string) => void): ChannelMessage {
  return new Received(data, handles, reply);
}

const serverToken = Symbol('FdChannelServer');

/** A listening socket. accept() gives one FdChannel per connecting process. */
export class FdChannelServer {
  readonly #owned: Owned<FdHandle>;
  readonly #addon: SocketOps;
  readonly #path: string | undefined;
  readonly #waits = new Waits();

  private constructor(token: symbol, addon: SocketOps, fd: number, path: string | undefined) {
    checkToken(token, serverToken, 'FdChannelServer', 'FdChannel.listen()');
    this.#addon = addon;
    this.#owned = new Owned(this, 'FdChannelServer', fdHandle(addon, fd));
    this.#path = path;
  }

  /** @internal */
  static _wrap(addon: SocketOps, fd: number, path: string | undefined): FdChannelServer {
    return new FdChannelServer(serverToken, addon, fd, path);
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** The next connection. */
  async accept(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<FdChannel> {
    this.#owned.live('accept4');
    checkOptions('accept4', options, WAIT_OPTIONS);
    const timeoutMs = checkTimeout('accept4', options);
    const signal = checkSignal('accept4', options);
    const a = this.#addon;
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    for (;;) {
      const listening = this.#owned.live('accept4').fd;
      const fd = a.socketAccept(listening);
      if (fd >= 0) return FdChannel._wrap(a, fd);
      const remaining = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
      const result = await this.#waits.wait(a, listening, a.constants.POLLIN, remaining, signal);
      if (result === 'timeout') throw new DmaBufError('ETIMEDOUT', `no connection arrived within ${timeoutMs} ms`, { syscall: 'accept4' });
      if (result === 'cancelled') throw closedError('FdChannelServer', 'accept4');
    }
  }

  /** Stop listening and remove the socket file; pending accepts reject with ERR_DMABUF_CLOSED. */
  close(): void {
    if (this.#owned.closed) return;
    this.#owned.close(() => this.#waits.cancelAll());
    if (this.#path !== undefined) this.#addon.unlinkPath(this.#path);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    return this.#owned.inspect(depth, options, (h) => ({ fd: h.fd, path: this.#path ?? null }));
  }
}
