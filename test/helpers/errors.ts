/** Catching what a call throws or a promise rejects with, one meaning per name, for every suite. */
import { AbortError, DmaBufError } from '../../lib/common/errors.js';

/** The DmaBufError `fn` throws; anything else it throws is rethrown, and no throw fails the test. */
export function thrown(fn: () => unknown): DmaBufError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DmaBufError) return error;
    throw error;
  }
  throw new Error('expected a DmaBufError, but the call succeeded');
}

/** The DmaBufError or AbortError `promise` rejects with; anything else is rethrown, and no rejection fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<DmaBufError | AbortError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DmaBufError || error instanceof AbortError) return error;
    throw error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The code of the DmaBufError `fn` throws, or undefined if it returns. */
export function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof DmaBufError) return error.code;
    throw error;
  }
  return undefined;
}

/** A raw addon error: what native throws for a failed syscall. */
export interface ErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** Run fn, require an errno error with that code and syscall, and return it. */
export function expectErrno(fn: () => unknown, code: string, syscall: string): ErrnoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof Error)) throw new Error(`expected ${code} from ${syscall}, nothing was thrown`);
  const error = caught as Error & { code?: string; syscall?: string; errno?: number };
  if (error.code !== code || error.syscall !== syscall) {
    throw new Error(`expected ${code}/${syscall}, got ${error.code}/${error.syscall}: ${error.message}`);
  }
  return error as ErrnoError;
}
