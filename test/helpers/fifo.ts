/** FIFOs: node has no pipe(2), and the native tests need a pollable fd whose ends they control. */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { addon } from './addon.js';

let fifoCount = 0;
/** A new FIFO's path, removed when the test that made it ends; opened O_RDWR it is a pipe whose both ends are one fd. */
export function makeFifoPath(): string {
  // The random part: a module instance per test file restarts the count.
  const path = join(tmpdir(), `dmabuf-test-fifo-${process.pid}-${fifoCount++}-${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [path]);
  onTestFinished(() => rmSync(path, { force: true }));
  return path;
}

/** Both ends of a new FIFO, [read end (non-blocking), write end]; the caller closes them with addon().close. */
export function openFifo(): [number, number] {
  const a = addon();
  const path = makeFifoPath();
  try {
    const readEnd = a.open(path, a.constants.O_RDONLY | a.constants.O_NONBLOCK);
    return [readEnd, a.open(path, a.constants.O_WRONLY)];
  } finally {
    rmSync(path, { force: true });
  }
}
