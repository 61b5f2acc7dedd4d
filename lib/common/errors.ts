import { constants as osConstants } from 'node:os';

/**
 * Codes of misuse that the kernel cannot see; every other code is an errno name ('EINVAL',
 * 'ETIMEDOUT', 'EBADFD', …) with `errno` set to its number.
 */
export const MisuseCode = {
  /** A method was called on a closed DmaBuf, DmaHeap or SyncFile. */
  CLOSED: 'ERR_DMABUF_CLOSED',
  /** beginCpuAccess while this DmaBuf already has an open bracket. */
  BRACKET_ACTIVE: 'ERR_DMABUF_BRACKET_ACTIVE',
  /** end() on a bracket that has already ended (an END without START). */
  NOT_IN_BRACKET: 'ERR_DMABUF_NOT_IN_BRACKET',
  /** close() while a bracket is open. */
  CLOSE_IN_BRACKET: 'ERR_DMABUF_CLOSE_IN_BRACKET',
  /** A write detected inside a read bracket. */
  WRITE_IN_READ_BRACKET: 'ERR_DMABUF_WRITE_IN_READ_BRACKET',
  /** A write detected inside the bracket's span but outside its region. */
  WRITE_OUTSIDE_REGION: 'ERR_DMABUF_WRITE_OUTSIDE_REGION',
  /** The native addon could not be loaded, or the kernel backend was forced where it cannot work. */
  BACKEND_UNAVAILABLE: 'ERR_DMABUF_BACKEND_UNAVAILABLE',
  /** A fence signalled with an error (sync_file status < 0); `errno` holds the fence's error. */
  FENCE_ERROR: 'ERR_DMABUF_FENCE_ERROR',
  /** A bracket's bytes were transferred away (postMessage/structuredClone) before its end (emulator). */
  BYTES_TRANSFERRED: 'ERR_DMABUF_BYTES_TRANSFERRED',
  /** FdChannel: the other end closed the channel. */
  CHANNEL_CLOSED: 'ERR_DMABUF_CHANNEL_CLOSED',
  /** FdChannel: a message carried more fds than receive()'s maxFds (MSG_CTRUNC); those that came were closed. */
  FDS_TRUNCATED: 'ERR_DMABUF_FDS_TRUNCATED',
  /** FdChannel: a message was larger than receive()'s maxBytes (MSG_TRUNC); it was dropped, its fds closed. */
  MESSAGE_TRUNCATED: 'ERR_DMABUF_MESSAGE_TRUNCATED',
  /** CPU access to a buffer whose memory the CPU cannot map (a protected heap's: secure video, trusted UI). */
  NOT_CPU_ACCESSIBLE: 'ERR_DMABUF_NOT_CPU_ACCESSIBLE',
  /** An operation this backend or exporter does not provide (see `supports`). */
  UNSUPPORTED: 'ERR_DMABUF_UNSUPPORTED',
  /** UnixFdSink/UnixFdSrc: the peer broke GStreamer's unixfd protocol (garbage, a lying size or fd count); the connection was dropped, its fds closed. */
  PROTOCOL: 'ERR_DMABUF_PROTOCOL',
} as const;
export type MisuseCode = (typeof MisuseCode)[keyof typeof MisuseCode];

export interface DmaBufErrorDetails {
  /** The errno number, for errno codes. */
  errno?: number;
  /** The syscall or ioctl that failed, or that validation stopped before. */
  syscall?: string;
  /** The argument that failed validation. */
  argument?: string;
  /** Buffer name and byte offset, for detected bracket violations. */
  bufferName?: string;
  offset?: number;
  cause?: unknown;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, value]) => [value, name] as [number, string]));

/** errno number for a name known to Node ('EINVAL' → 22); EBADFD and ENOTSUPP are Linux-specific. */
export function errnoOf(code: string): number | undefined {
  if (code === 'EBADFD') return 77;
  if (code === 'ENOTSUPP') return 524;
  return (osConstants.errno as Record<string, number>)[code];
}

export function errnoName(errno: number): string {
  if (errno === 77) return 'EBADFD';
  if (errno === 524) return 'ENOTSUPP';
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** Marks DmaBufErrors across copies of this module (see Symbol.hasInstance below). */
const brand = Symbol.for('dmabuf.DmaBufError');

/**
 * Every failure of this package. Shaped like Node's SystemError: a string `code` to branch on,
 * `errno` and `syscall` where a syscall is involved, and a message that says what to do next.
 * Never parse the message.
 */
export class DmaBufError extends Error {
  readonly code: string;
  declare readonly errno?: number;
  declare readonly syscall?: string;
  declare readonly argument?: string;
  declare readonly bufferName?: string;
  declare readonly offset?: number;

  /**
   * `instanceof DmaBufError` holds for errors made by any copy of this module: the addon keeps
   * the class of the first environment that loaded it, and a process may hold two copies of the
   * package (a bundled one and a dependency's, or a test runner re-evaluating modules per file).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  constructor(code: string, message: string, details: DmaBufErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    Object.defineProperty(this, brand, { value: true });
    this.name = 'DmaBufError';
    this.code = code;
    const errno = details.errno ?? (code.startsWith('E') ? errnoOf(code) : undefined);
    if (errno !== undefined) this.errno = errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
    if (details.argument !== undefined) this.argument = details.argument;
    if (details.bufferName !== undefined) this.bufferName = details.bufferName;
    if (details.offset !== undefined) this.offset = details.offset;
  }
}

/** A value out of range for an argument: code EINVAL, as the kernel would answer, but raised first. */
export function invalidArgument(syscall: string, argument: string, message: string): DmaBufError {
  return new DmaBufError('EINVAL', `${argument}: ${message}`, { syscall, argument });
}

/** A wrong JS type for an argument. */
export function invalidType(syscall: string, argument: string, expected: string, got: unknown): DmaBufError {
  const seen = got === null ? 'null' : Array.isArray(got) ? 'an array' : typeof got;
  return new DmaBufError('ERR_INVALID_ARG_TYPE', `${argument} must be ${expected}, got ${seen}`, {
    syscall,
    argument,
  });
}

/**
 * A failed Node fs call (or any other error with a `code`) as a DmaBufError: the package's fs
 * reads of /proc and /dev fail like syscalls (EMFILE at the fd limit, EACCES, ENOENT) and must
 * reach the caller as such. `what` says what was being read.
 */
export function fsError(error: unknown, syscall: string, what: string): DmaBufError {
  if (error instanceof DmaBufError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const name = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'EIO';
  return new DmaBufError(
    name,
    `${syscall} ${what} failed (${name})${name === 'EMFILE' || name === 'ENFILE' ? ': too many open files; close some or raise RLIMIT_NOFILE' : ''}`,
    {
      syscall,
      cause: error,
    },
  );
}

export function closedError(what: string, operation: string): DmaBufError {
  return new DmaBufError(MisuseCode.CLOSED, `${operation}: this ${what} is closed; open or allocate a new one`, {
    syscall: operation,
  });
}

/** The error a cancelled wait rejects with, like Node's own AbortError. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}
