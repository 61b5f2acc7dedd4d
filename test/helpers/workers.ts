/** Worker threads, for the tests that count fds around one. */
import { Worker } from 'node:worker_threads';

/**
 * Runs one empty worker thread, once per process. The first worker a process starts opens
 * process-wide fds that outlive it (seen with the official Node.js 20 arm64 build: /dev/null and
 * one more); tests that count fds around a worker start from after that, so they see only what
 * their own worker leaves.
 */
let workersWarm: Promise<void> | undefined;
export function warmUpWorkers(): Promise<void> {
  workersWarm ??= new Promise<void>((resolve, reject) => {
    const worker = new Worker('', { eval: true });
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  return workersWarm;
}
