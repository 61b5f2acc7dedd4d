/** Raw fds a native test opens, closed after each test whatever it asserted. */
import { afterEach } from 'vitest';
import { addon } from './addon.js';

/**
 * For a describe block that opens raw fds: returns `track(fd)`, which hands the fd back and closes
 * it after the test. A test may close a tracked fd itself: EBADF then is expected and ignored.
 */
export function closedAfterEach(): (fd: number) => number {
  const opened: number[] = [];
  afterEach(() => {
    const a = addon();
    for (const fd of opened.splice(0)) {
      try {
        a.close(fd);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EBADF') throw error;
      }
    }
  });
  return (fd) => {
    opened.push(fd);
    return fd;
  };
}
