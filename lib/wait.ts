/**
 * Turning a backend's PendingWait into the public promise: a timeout rejects with ETIMEDOUT, an
 * AbortSignal with an AbortError, and whichever way it settles, nothing stays registered (the
 * abort listener is removed and the native waiter has released its handles).
 */
import { AbortError, DmaBufError, MisuseCode } from './common/errors.js';
import type { PendingWait } from './backend/backend.js';

export function abortErrorFor(signal: AbortSignal): AbortError {
  return new AbortError('The wait was aborted', { cause: signal.reason });
}

export function timeoutError(syscall: string, what: string, timeoutMs: number): DmaBufError {
  return new DmaBufError('ETIMEDOUT', `${what} did not become ready within ${timeoutMs} ms; a device still holds a fence on it`, {
    syscall,
  });
}

export async function settleWait(start: () => PendingWait, timeoutMs: number, signal: AbortSignal | undefined, syscall: string, what: string): Promise<void> {
  if (signal?.aborted) throw abortErrorFor(signal);
  const pending = start();
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    pending.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const ready = await pending.promise;
    if (aborted && signal) throw abortErrorFor(signal);
    if (!ready) throw timeoutError(syscall, what, timeoutMs);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * `for await` over a connection: what `next()` gives until the peer closes it
 * (ERR_DMABUF_CHANNEL_CLOSED ends the loop); any other failure throws.
 */
export async function* untilPeerCloses<T>(next: () => Promise<T>): AsyncGenerator<T, void, undefined> {
  for (;;) {
    try {
      yield await next();
    } catch (error) {
      if (error instanceof DmaBufError && error.code === MisuseCode.CHANNEL_CLOSED) return;
      throw error;
    }
  }
}
