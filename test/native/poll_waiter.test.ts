import { describe, expect, it } from 'vitest';
import { writeSync } from 'node:fs';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { closedAfterEach } from '../helpers/tracked-fds.js';
import { fdsPointingAt, statusFlags } from '../helpers/proc.js';
import { makeFifoPath } from '../helpers/fifo.js';
import { sleep } from '../helpers/loop.js';
import { collect } from '../helpers/gc.js';
import { expectErrno } from '../helpers/errors.js';

describe.runIf(isLinux)('native PollWaiter (Linux only: the addon builds only there)', () => {
  const track = closedAfterEach();

  /** A FIFO opened O_RDWR: one fd that is both ends of a pipe. */
  let lastFifo = '';
  function pipe(flags = 0): number {
    const a = addon();
    lastFifo = makeFifoPath();
    const fd = a.open(lastFifo, a.constants.O_RDWR | flags);
    track(fd);
    return fd;
  }

  it('resolves with POLLIN after a write, and the event loop keeps running meanwhile', async () => {
    const a = addon();
    const { POLLIN } = a.constants;
    const fd = pipe();
    const waiter = new a.PollWaiter(fd, POLLIN, -1);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    let settled = false;
    void waiter.promise.then(() => (settled = true));
    // At least 60 ms and 3 ticks (a software CPU may need longer for 3 ticks of a 5 ms interval).
    const t0 = performance.now();
    while (performance.now() - t0 < 60 || (ticks < 3 && performance.now() - t0 < 5000)) await sleep(10);
    expect(settled).toBe(false);
    expect(ticks).toBeGreaterThanOrEqual(3);
    writeSync(fd, new Uint8Array([1]));
    expect(await waiter.promise).toBe(POLLIN);
    clearInterval(interval);
  });

  it('resolves with 0 after the timeout', async () => {
    const a = addon();
    const fd = pipe();
    const start = performance.now();
    expect(await new a.PollWaiter(fd, a.constants.POLLIN, 80).promise).toBe(0);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(75);
    expect(elapsed).toBeLessThan(1000);
  });

  it('answers at once when the fd is already ready, or when the timeout is 0', async () => {
    const a = addon();
    const { POLLIN, POLLOUT } = a.constants;
    const fd = pipe();
    expect(await new a.PollWaiter(fd, POLLOUT, -1).promise).toBe(POLLOUT);
    expect(await new a.PollWaiter(fd, POLLIN, 0).promise).toBe(0);
    writeSync(fd, new Uint8Array([1]));
    expect(await new a.PollWaiter(fd, POLLIN | POLLOUT, 0).promise).toBe(POLLIN | POLLOUT);
  });

  it('resolves with -1 after cancel(); cancel is idempotent and harmless after settling', async () => {
    const a = addon();
    const fd = pipe();
    const waiter = new a.PollWaiter(fd, a.constants.POLLIN, 10_000);
    setTimeout(() => waiter.cancel(), 10);
    expect(await waiter.promise).toBe(-1);
    waiter.cancel();
    const done = new a.PollWaiter(fd, a.constants.POLLOUT, -1);
    expect(await done.promise).toBe(a.constants.POLLOUT);
    done.cancel();
    expect(await done.promise).toBe(a.constants.POLLOUT);
  });

  it('two waiters on the same fd both resolve', async () => {
    const a = addon();
    const { POLLIN } = a.constants;
    const fd = pipe();
    const first = new a.PollWaiter(fd, POLLIN, 5000);
    const second = new a.PollWaiter(fd, POLLIN, 5000);
    setTimeout(() => writeSync(fd, new Uint8Array([1])), 10);
    expect(await Promise.all([first.promise, second.promise])).toEqual([POLLIN, POLLIN]);
  });

  it('reports POLLHUP when the writer goes away', async () => {
    const a = addon();
    const { POLLIN, POLLHUP, O_RDONLY, O_WRONLY, O_NONBLOCK } = a.constants;
    const path = makeFifoPath();
    const reader = a.open(path, O_RDONLY | O_NONBLOCK);
    track(reader);
    const writer = a.open(path, O_WRONLY);
    const waiter = new a.PollWaiter(reader, POLLIN, 5000);
    setTimeout(() => a.close(writer), 10);
    expect((await waiter.promise) & POLLHUP).toBe(POLLHUP);
  });

  it('releases its dup and handles when it settles (no fd leak)', async () => {
    const a = addon();
    const { POLLIN } = a.constants;
    const fd = pipe();
    expect(fdsPointingAt(lastFifo)).toBe(1);
    const waiters = Array.from({ length: 20 }, (_, i) => new a.PollWaiter(fd, POLLIN, i % 2 ? 5 : -1));
    expect(fdsPointingAt(lastFifo)).toBe(21);
    // Half time out, and each releases its dup as it does; then the rest are cancelled. (Not a
    // cancel on a 20 ms timer: a loop stalled past it, as a software CPU can be, may run that
    // timer before the waiters' own 5 ms ones, and then none would have timed out.)
    const timed = waiters.filter((_, i) => i % 2);
    const waiting = waiters.filter((_, i) => i % 2 === 0);
    expect(new Set(await Promise.all(timed.map((w) => w.promise)))).toEqual(new Set([0]));
    expect(fdsPointingAt(lastFifo)).toBe(11);
    for (const w of waiting) w.cancel();
    expect(new Set(await Promise.all(waiting.map((w) => w.promise)))).toEqual(new Set([-1]));
    expect(fdsPointingAt(lastFifo)).toBe(1);
  });

  it("keeps working when the caller closes its fd, and leaves the caller's O_NONBLOCK alone", async () => {
    const a = addon();
    const { POLLIN, O_NONBLOCK } = a.constants;
    const fd = pipe();
    const waiter = new a.PollWaiter(fd, POLLIN, -1);
    expect(statusFlags(fd) & O_NONBLOCK).toBe(0);
    a.close(fd);
    await sleep(10);
    waiter.cancel();
    expect(await waiter.promise).toBe(-1);
  });

  it('rejects with the errno error when the poll cannot start', async () => {
    const a = addon();
    const memfd = a.memfdCreate('poll-regular-file', 0);
    track(memfd);
    // epoll refuses regular files (no poll operation): libuv reports EPERM.
    await expect(new a.PollWaiter(memfd, a.constants.POLLIN, 100).promise).rejects.toMatchObject({
      code: 'EPERM',
      errno: 1,
      syscall: 'uv_poll_init',
    });
    await expect(new a.PollWaiter(-1, a.constants.POLLIN, 100).promise).rejects.toMatchObject({
      code: 'EBADF',
      syscall: 'fcntl',
    });
  });

  it('still settles when the PollWaiter object itself is unreachable (and is collectable after)', async () => {
    const a = addon();
    const { POLLIN } = a.constants;
    const fd = pipe();
    let registry = 0;
    const finalization = new FinalizationRegistry(() => registry++);
    const promise = (() => {
      const waiter = new a.PollWaiter(fd, POLLIN, -1);
      finalization.register(waiter, 'waiter');
      return waiter.promise;
    })();
    await collect();
    expect(registry).toBe(0); // held while pending
    writeSync(fd, new Uint8Array([1]));
    expect(await promise).toBe(POLLIN);
    await collect();
    await collect();
    expect(registry).toBe(1); // released once settled
    expect(fdsPointingAt(lastFifo)).toBe(1);
  });

  it('validates argument types', () => {
    const a = addon();
    expect(() => new a.PollWaiter('1' as never, 1, 0)).toThrow(TypeError);
    expectErrno(() => a.close(-1), 'EBADF', 'close');
  });
});
