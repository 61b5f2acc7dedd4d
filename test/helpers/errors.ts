/** Catching what a call throws or a promise rejects with, one meaning per name, for every suite. */
import { AbortError, DmaBufError } from '../../lib/errors.js';

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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
