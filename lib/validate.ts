/**
 * Argument checks shared by every public class, with one message format (sharp style). They run
 * before any syscall: wrong types reaching C++ are hard to diagnose, and some kernel paths
 * misbehave on bad input instead of refusing it.
 */
import type { AccessMode, FenceMode } from './common/vocabulary.js';
import { DmaBufError, invalidArgument, invalidType } from './common/errors.js';

export type { AccessMode, FenceMode } from './common/vocabulary.js';

export function checkInteger(syscall: string, argument: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidType(syscall, argument, 'an integer', value);
  if (!Number.isSafeInteger(value)) throw invalidArgument(syscall, argument, `must be a safe integer, got ${value}`);
  if (value < min || value > max) throw invalidArgument(syscall, argument, `must be in [${min}, ${max}], got ${value}`);
  return value;
}

export function checkFd(syscall: string, argument: string, value: unknown): number {
  return checkInteger(syscall, argument, value, 0, 0x7fffffff);
}

export function checkAccessMode(syscall: string, value: unknown): AccessMode {
  if (value === 'read' || value === 'write' || value === 'readwrite') return value;
  if (typeof value !== 'string') throw invalidType(syscall, 'mode', "'read', 'write' or 'readwrite'", value);
  throw invalidArgument(syscall, 'mode', `must be 'read', 'write' or 'readwrite', got '${value}'`);
}

export function checkFenceMode(syscall: string, value: unknown): FenceMode {
  if (value === 'read' || value === 'write') return value;
  if (typeof value !== 'string') throw invalidType(syscall, 'mode', "'read' or 'write'", value);
  throw invalidArgument(syscall, 'mode', `must be 'read' or 'write', got '${value}'`);
}

/** DMA_BUF_NAME_LEN is 32 including the NUL: the kernel's strndup_user refuses longer names. */
export const MAX_NAME_BYTES = 31;

export function checkName(syscall: string, value: unknown, maxBytes = MAX_NAME_BYTES): string {
  if (typeof value !== 'string') throw invalidType(syscall, 'name', 'a string', value);
  if (value.includes('\0')) throw invalidArgument(syscall, 'name', 'must not contain NUL characters');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    throw invalidArgument(syscall, 'name', `must be at most ${maxBytes} bytes of UTF-8, got ${bytes}`);
  }
  return value;
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** -1 means no timeout. */
export function checkTimeout(syscall: string, options: { timeoutMs?: number } | undefined): number {
  const timeout = options?.timeoutMs;
  if (timeout === undefined || timeout === Infinity) return -1;
  if (typeof timeout !== 'number') throw invalidType(syscall, 'timeoutMs', 'a number of milliseconds', timeout);
  if (!(timeout >= 0) || !Number.isFinite(timeout)) throw invalidArgument(syscall, 'timeoutMs', `must be ≥ 0, got ${timeout}`);
  return Math.ceil(timeout);
}

export function checkSignal(syscall: string, options: { signal?: AbortSignal } | undefined): AbortSignal | undefined {
  const signal = options?.signal;
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).aborted !== 'boolean') {
    throw invalidType(syscall, 'signal', 'an AbortSignal', signal);
  }
  return signal;
}

/**
 * An options object (undefined is none), refusing a key it does not know: a typo such as
 * `{ nmae: 'x' }` would otherwise be ignored silently.
 */
export function checkOptions(syscall: string, options: unknown, allowed: readonly string[], what = 'options'): Record<string, unknown> {
  if (options === undefined) return {};
  const opts = checkObject(syscall, what, options);
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      const known = allowed.length ? `the known ones are ${allowed.join(', ')}` : 'it takes none';
      throw new DmaBufError('ERR_INVALID_ARG_VALUE', `${what}.${key} is not an option of ${syscall}: ${known}`, { syscall, argument: `${what}.${key}` });
    }
  }
  return opts;
}

/** An object given as data (another API's description of a frame), whose other keys are ignored. */
export function checkObject(syscall: string, what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw invalidType(syscall, what, 'an object', value);
  return value as Record<string, unknown>;
}

/** The keys of WaitOptions, for checkOptions. */
export const WAIT_OPTIONS = ['timeoutMs', 'signal'] as const;
