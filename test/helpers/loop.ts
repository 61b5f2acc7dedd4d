/** The event loop: waiting on it, and checking that it stayed free while something waited. */

/** One turn of the loop (setImmediate). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with how often a 10 ms interval fired while `work` ran: the event loop stayed free. */
export async function ticksDuring<T>(work: Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 10);
  try {
    return { value: await work, ticks };
  } finally {
    clearInterval(interval);
  }
}
