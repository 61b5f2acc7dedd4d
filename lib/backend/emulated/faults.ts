/**
 * Fault injection: make the next N calls of an operation fail with an errno, so error paths can
 * be tested without a misbehaving kernel. A failing operation fails before it changes anything,
 * so it leaves nothing behind.
 */
import { DmaBufError } from '../../common/errors.js';

/**
 * - allocate: heap allocate and udmabuf create (DMA_HEAP_IOCTL_ALLOC / UDMABUF_CREATE)
 * - sync: every DMA_BUF_IOCTL_SYNC, START and END (EINTR/EAGAIN are restarted inside the backend,
 *   as the uapi says; ENOMEM/EBUSY surface: a failed START opens no bracket, a failed END has
 *   still detached the bytes but did not write the CPU's data back, as a failed kernel END would)
 * - export / import: DMA_BUF_IOCTL_EXPORT_SYNC_FILE / DMA_BUF_IOCTL_IMPORT_SYNC_FILE
 * - importFd: DmaBuf.fromFd on an emulated buffer's number
 * - setName: DMA_BUF_SET_NAME
 * - merge: SYNC_IOC_MERGE
 */
export const FAULT_OPERATIONS = ['allocate', 'sync', 'export', 'import', 'importFd', 'setName', 'merge'] as const;
export type FaultOperation = (typeof FAULT_OPERATIONS)[number];

export const FAULT_CODES = ['EINTR', 'EAGAIN', 'ENOMEM', 'EBUSY'] as const;
export type FaultCode = (typeof FAULT_CODES)[number];

/** The codes the kernel says must be restarted: the backend retries them itself. */
export function isRestartable(code: FaultCode): boolean {
  return code === 'EINTR' || code === 'EAGAIN';
}

export class Faults {
  readonly #queues = new Map<FaultOperation, FaultCode[]>();
  /** How many restartable failures the backend retried, per operation. */
  readonly retries = new Map<FaultOperation, number>();

  /** Queue `count` failures of `operation` (arguments checked by emulation.failNext). */
  failNext(operation: FaultOperation, code: FaultCode, count: number): void {
    const queue = this.#queues.get(operation) ?? [];
    for (let i = 0; i < count; i++) queue.push(code);
    this.#queues.set(operation, queue);
  }

  /** The code the next call of `operation` fails with, consuming it; undefined if none is queued. */
  take(operation: FaultOperation): FaultCode | undefined {
    const queue = this.#queues.get(operation);
    const code = queue?.shift();
    if (queue?.length === 0) this.#queues.delete(operation);
    return code;
  }

  /** Throw the queued fault for `operation`, if any (for operations the backend does not restart). */
  check(operation: FaultOperation, syscall: string): void {
    const code = this.take(operation);
    if (code !== undefined) throw injected(code, syscall);
  }

  /**
   * Run `fn` once no restartable fault is pending, counting each restart; a queued ENOMEM/EBUSY
   * throws instead. This is the "must be restarted" loop of DMA_BUF_IOCTL_SYNC.
   */
  restarting(operation: FaultOperation, syscall: string): void {
    for (;;) {
      const code = this.take(operation);
      if (code === undefined) return;
      if (!isRestartable(code)) throw injected(code, syscall);
      this.retries.set(operation, (this.retries.get(operation) ?? 0) + 1);
    }
  }
}

function injected(code: FaultCode, syscall: string): DmaBufError {
  return new DmaBufError(code, `${syscall} failed with ${code} (injected by the emulation's failNext)`, { syscall });
}
