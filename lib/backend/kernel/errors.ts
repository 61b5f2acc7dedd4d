/** Turning native errno errors into messages that say what to do next. */
import { DmaBufError } from '../../common/errors.js';

/** Re-throw `error` with a hint appended when it is a DmaBufError with one of `hints`' codes. */
export function withHint(error: unknown, hints: Record<string, string>): never {
  if (error instanceof DmaBufError) {
    const hint = hints[error.code];
    if (hint) {
      const details: Record<string, unknown> = { cause: error };
      if (error.errno !== undefined) details['errno'] = error.errno;
      if (error.syscall !== undefined) details['syscall'] = error.syscall;
      throw new DmaBufError(error.code, `${error.message}: ${hint}`, details);
    }
  }
  throw error;
}
