/**
 * FramePool: a fixed set of frames a producer fills again and again. A frame handed to a consumer
 * is lent, not given: the consumer reads it after the producer has moved on, so the producer must
 * not write into it until the consumer says it is done (an FdChannel release, Electron's
 * allReferencesReleased, GStreamer's RELEASE_BUFFER). Holding a dup of the fd does not stop a
 * writer: nothing in the kernel does (dma-buf has no ownership, only fences for device work).
 *
 * Each acquire() hands out a new Frame object over a free slot's buffer; its close() (or
 * pool.release) ends the producer's hold, and the slot is free again once every loan taken while
 * it was held has ended too. The old Frame object stays closed, so a stale reference fails loudly
 * (ERR_DMABUF_CLOSED) instead of writing into a frame that is now someone else's.
 */
import { inspect } from 'node:util';
import { closedError, DmaBufError, invalidArgument, invalidType, MisuseCode } from './common/errors.js';
import { Frame, type FrameAllocateOptions, type FrameAllocator, type FrameLender } from './frame.js';
import { inspectObject } from './inspect.js';
import { checkToken } from './lifecycle.js';
import { checkInteger, checkOptions, checkSignal, checkTimeout, WAIT_OPTIONS, type WaitOptions } from './validate.js';
import { abortErrorFor } from './wait.js';

const SYSCALL = 'FramePool';

interface Slot {
  readonly template: Frame;
  /** The Frame object the producer holds now, if any. */
  holder: Frame | undefined;
  /** Loans not yet ended (consumers still reading). */
  loans: number;
}

interface Waiter {
  resolve(frame: Frame): void;
  reject(error: unknown): void;
}

const token = Symbol('FramePool');

export class FramePool {
  readonly #slots: Slot[];
  readonly #byFrame = new WeakMap<Frame, Slot>();
  readonly #waiters: Waiter[] = [];
  #closed = false;

  private constructor(t: symbol, templates: Frame[]) {
    checkToken(t, token, 'FramePool', 'FramePool.allocate()');
    this.#slots = templates.map((template) => ({ template, holder: undefined, loans: 0 }));
  }

  /** `count` frames of one geometry, each in its own buffer from `allocator` (as Frame.allocate). */
  static allocate(allocator: FrameAllocator, options: FrameAllocateOptions & { count: number }): FramePool {
    const opts = checkOptions(SYSCALL, options, ['width', 'height', 'format', 'count', 'strideAlign', 'name', 'modifier', 'colorSpace', 'visibleRect']);
    const count = checkInteger(SYSCALL, 'count', opts['count'], 1, 1024);
    const { count: _count, ...frameOptions } = opts;
    const templates: Frame[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const name = frameOptions['name'] === undefined ? undefined : `${frameOptions['name'] as string}-${i}`;
        templates.push(Frame.allocate(allocator, { ...(frameOptions as unknown as FrameAllocateOptions), ...(name === undefined ? {} : { name }) }));
      }
    } catch (error) {
      for (const t of templates) t.close();
      throw error;
    }
    return new FramePool(token, templates);
  }

  /** Frames in the pool. */
  get size(): number {
    this.#live('size');
    return this.#slots.length;
  }

  /** Frames nobody holds or borrows now. */
  get available(): number {
    this.#live('available');
    return this.#slots.filter((s) => s.holder === undefined && s.loans === 0).length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A free frame now, or undefined when every frame is held or lent. */
  #live(operation: string): void {
    if (this.#closed) throw closedError('FramePool', operation);
  }

  tryAcquire(): Frame | undefined {
    this.#live('tryAcquire');
    const slot = this.#slots.find((s) => s.holder === undefined && s.loans === 0);
    return slot && this.#hand(slot);
  }

  /**
   * A frame nobody else holds, waiting (on the event loop) while all are held or lent. Rejects
   * ETIMEDOUT after `timeoutMs`, with an AbortError when `signal` aborts, ERR_DMABUF_CLOSED when the
   * pool closes. Waiters are served in call order.
   */
  acquire(options?: WaitOptions): Promise<Frame> {
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    try {
      this.#live('acquire');
      checkOptions('acquire', options, WAIT_OPTIONS);
      timeoutMs = checkTimeout('acquire', options);
      signal = checkSignal('acquire', options);
      if (signal?.aborted) throw abortErrorFor(signal);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#waiters.length === 0 ? this.tryAcquire() : undefined;
    if (now) return Promise.resolve(now);
    return new Promise<Frame>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        resolve: (frame) => {
          done();
          resolve(frame);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(abortErrorFor(signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs >= 0) {
        timer = setTimeout(
          () => waiter.reject(new DmaBufError('ETIMEDOUT', `no frame of the pool came free within ${timeoutMs} ms`, { syscall: 'acquire' })),
          timeoutMs,
        );
      }
      this.#waiters.push(waiter);
    });
  }

  /** Ends the producer's hold on `frame` (as frame.close()); the frame is reused once every loan has ended. */
  release(frame: Frame): void {
    this.#live('release');
    if (!(frame instanceof Frame)) throw invalidType('release', 'frame', 'a Frame of this pool', frame);
    const slot = this.#byFrame.get(frame);
    if (!slot) throw invalidArgument('release', 'frame', 'is not a frame of this pool');
    if (slot.holder !== frame) return; // released before: idempotent, like close()
    frame.close();
  }

  /**
   * Lend `frame` to a consumer this package does not know (your own transport): returns the
   * function that ends the loan (call it when the consumer is done; later calls do nothing).
   * FdChannel#sendFrame, toElectron and UnixFdSink take their loans themselves.
   */
  lend(frame: Frame): () => void {
    this.#live('lend');
    if (!(frame instanceof Frame) || !this.#byFrame.has(frame)) throw invalidArgument('lend', 'frame', 'is not a frame of this pool');
    const end = frame._lend();
    if (!end) throw invalidArgument('lend', 'frame', 'is not a frame of this pool');
    return end;
  }

  /**
   * Close every buffer of the pool. Waiting acquires reject ERR_DMABUF_CLOSED; frames still held
   * are closed. Consumers holding their own fds of lent frames keep reading what they have.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#slots.some((s) => s.holder?._inBracket)) {
      throw new DmaBufError(MisuseCode.CLOSE_IN_BRACKET, 'close(): a frame of the pool has a CPU-access bracket open; end() it first', { syscall: 'close' });
    }
    this.#closed = true;
    for (const slot of this.#slots) slot.holder?.close();
    for (const slot of this.#slots) slot.template.close();
    for (const w of [...this.#waiters]) w.reject(closedError('FramePool', 'acquire'));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [inspect.custom](depth: number, options: object): string {
    if (this.#closed) return inspectObject('FramePool', { closed: true }, depth, options);
    const t = this.#slots[0]?.template as Frame;
    return inspectObject(
      'FramePool',
      {
        format: t.format.name,
        width: t.width,
        height: t.height,
        size: this.size,
        available: this.available,
        lent: this.#slots.reduce((n, s) => n + s.loans, 0),
      },
      depth,
      options,
    );
  }

  #hand(slot: Slot): Frame {
    const frame = Frame._pooled(slot.template, this.#lender);
    slot.holder = frame;
    this.#byFrame.set(frame, slot);
    return frame;
  }

  /** A slot came free: the first waiter gets it. */
  #freed(slot: Slot): void {
    if (this.#closed || slot.holder !== undefined || slot.loans !== 0) return;
    const waiter = this.#waiters[0];
    if (waiter) waiter.resolve(this.#hand(slot));
  }

  readonly #lender: FrameLender = {
    returned: (frame) => {
      const slot = this.#byFrame.get(frame);
      if (!slot || slot.holder !== frame) return;
      slot.holder = undefined;
      this.#freed(slot);
    },
    lend: (frame) => {
      const slot = this.#byFrame.get(frame) as Slot;
      slot.loans++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        slot.loans--;
        this.#freed(slot);
      };
    },
  };
}
