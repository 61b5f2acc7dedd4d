/**
 * Shared lifecycle pieces of the public classes. Explicit close() is the mechanism; closing what
 * a program forgot when it is garbage collected is only the safety net: a program that relies on it holds fds until the next collection.
 */
import type { BufferHandle } from './backend/backend.js';
import { checkedOption } from './common/checked.js';
import { debug } from './common/debug.js';
import { checkName, checkOptions } from './validate.js';
import { closedError } from './common/errors.js';
import { inspectObject } from './inspect.js';

interface Closable {
  close(): void;
}

interface Held {
  readonly handle: Closable;
  /** The owner's class, for NODE_DEBUG=dmabuf: which objects programs drop without close(). */
  readonly owner: string;
  /** Where the owner was made (NODE_DEBUG=dmabuf only: a stack costs microseconds). */
  readonly made: string | undefined;
}

const registry = new FinalizationRegistry<Held>(({ handle, owner, made }) => {
  const { fd, backend } = handle as { fd?: unknown; backend?: { name?: unknown } };
  debug('a %s (%s, fd %s) was dropped without close(): its finalizer closes it; made at %s', owner, backend?.name ?? '?', fd ?? '?', made ?? '?');
  try {
    handle.close();
  } catch {
    // Its environment may already have closed the fd, or its fd was closed behind its back (the
    // addon then leaves the number alone): nothing is left to report to.
  }
});

/** Close `handle` when `owner` is collected without having been closed. */
export function closeOnCollect(owner: object, handle: Closable): void {
  // The first frames outside the package say which line of the program made it.
  const made = debug.enabled
    ? new Error().stack
        ?.split('\n')
        .slice(1)
        .filter((line) => !/[/\\](lib|dist)[/\\]/.test(line))
        .slice(0, 2)
        .map((line) => line.trim().replace(/^at /, ''))
        .join(' < ')
    : undefined;
  registry.register(owner, { handle, owner: owner.constructor.name, made }, owner);
}

/** `owner` was closed explicitly: the safety net is no longer needed. */
export function closedExplicitly(owner: object): void {
  registry.unregister(owner);
}

/** The constructor guard: a public class is made by its factories only, never by `new`. */
export function checkToken(given: unknown, expected: symbol, className: string, factories: string): void {
  if (given !== expected) throw new TypeError(`${className} cannot be constructed directly; use ${factories}`);
}

/**
 * The lifecycle every handle-owning public class shares (DmaHeap, DmaBuf, SyncFile, Memfd,
 * OwnedFd, FdChannel, FdChannelServer, VgemFenceSource): the handle until close(), the safety net
 * while it is open, ERR_DMABUF_CLOSED naming the class after, and `{ closed: true }` in inspect.
 */
export class Owned<H extends Closable> {
  #handle: H | undefined;
  readonly #owner: object;
  readonly #className: string;

  constructor(owner: object, className: string, handle: H) {
    this.#owner = owner;
    this.#className = className;
    this.#handle = handle;
    closeOnCollect(owner, handle);
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** The handle, or undefined once closed (for paths that must not throw). */
  get current(): H | undefined {
    return this.#handle;
  }

  /** The handle, or ERR_DMABUF_CLOSED naming the class and `operation`. */
  live(operation: string): H {
    if (this.#handle === undefined) throw closedError(this.#className, operation);
    return this.#handle;
  }

  /** Close once. `before` runs first, with the handle still open: it may throw to refuse (a bracket is open). Later calls do nothing. */
  close(before?: (handle: H) => void): void {
    const handle = this.#handle;
    if (handle === undefined) return;
    before?.(handle);
    this.#handle = undefined;
    closedExplicitly(this.#owner);
    handle.close();
  }

  /** Give the handle up without closing it (the caller owns it now). */
  release(operation: string): H {
    const handle = this.live(operation);
    this.#handle = undefined;
    closedExplicitly(this.#owner);
    return handle;
  }

  /** How the owner prints: `fields` of the open handle, or `{ closed: true }`. */
  inspect(depth: number, options: object, fields: (handle: H) => Record<string, unknown>): string {
    const handle = this.#handle;
    return inspectObject(this.#className, handle === undefined ? { closed: true } : fields(handle), depth, options);
  }
}

/** How a new buffer is set up once made: its name, and checked mode. */
export interface SetUp {
  readonly name?: string | undefined;
  readonly checked: boolean;
}

/** The `name` and `checked` options of a call that makes a buffer, checked before any syscall. */
export function setUpOptions(syscall: string, options: unknown): SetUp {
  const opts = checkOptions(syscall, options, ['name', 'checked']);
  const name = opts['name'];
  if (name !== undefined) checkName('DMA_BUF_SET_NAME', name);
  return { name: name as string | undefined, checked: checkedOption(syscall, opts) };
}

/** Set a new buffer up: checked mode if asked, and its name (DMA_BUF_SET_NAME); if naming fails, close it so nothing is left behind. */
export function setUpOrClose(handle: BufferHandle, { name, checked }: SetUp): BufferHandle {
  if (checked) handle.setChecked(true);
  if (name !== undefined) {
    try {
      handle.setName(name);
    } catch (error) {
      handle.close();
      throw error;
    }
  }
  return handle;
}
