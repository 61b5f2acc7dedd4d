// FramePool on the emulated backend: frames are handed out once, return when the producer's hold
// and every loan have ended, waiters are served in order and honour timeouts, aborts and close.
// Channel loans (a real consumer over an FdChannel) are in test/kernel/frame-pool.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emulation, type Frame, FramePool } from '../../lib/index.js';
import { thrown } from '../helpers/errors.js';

const emu = () => emulation.create({ coherency: 'coherent', seed: 3 });
const options = { width: 16, height: 8, format: 'NV12', count: 2 } as const;

describe('FramePool', () => {
  it('hands out each frame once; close() gives it back; the old Frame object stays closed', async () => {
    using heap = emu().heap();
    using pool = FramePool.allocate(heap, options);
    expect(pool.size).toBe(2);
    const a = await pool.acquire();
    const b = pool.tryAcquire() as Frame;
    expect(a.planes[0]?.buffer).not.toBe(b.planes[0]?.buffer);
    expect(pool.tryAcquire()).toBeUndefined();
    expect(pool.available).toBe(0);
    a.timestamp = 33_366;
    const aBuffer = a.planes[0]?.buffer;
    a.close();
    expect(pool.available).toBe(1);
    const again = await pool.acquire();
    expect(again).not.toBe(a);
    expect(again.planes[0]?.buffer).toBe(aBuffer); // the one free frame
    expect(again.timestamp).toBeUndefined(); // each acquire starts without the last frame's time
    const stale = thrown(() => a.beginCpuAccess('write'));
    expect(stale).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    expect(stale.message).toMatch(/given back to its pool/);
    pool.release(b);
    pool.release(b); // idempotent, like close()
    again.close();
    expect(pool.available).toBe(2);
  });

  it('a lent frame is not handed out again until the loan ends, however the producer lets go', async () => {
    using heap = emu().heap();
    using pool = FramePool.allocate(heap, { ...options, count: 1 });
    const frame = await pool.acquire();
    const endLoan = pool.lend(frame);
    const second = pool.lend(frame);
    frame.close();
    expect(pool.tryAcquire()).toBeUndefined();
    endLoan();
    endLoan(); // a second call changes nothing
    expect(pool.available).toBe(0);
    const waiting = pool.acquire({ timeoutMs: 5000 });
    second();
    const next = await waiting;
    expect(next.closed).toBe(false);
    next.close();
  });

  it('acquire waits in call order, and rejects on timeout (ETIMEDOUT), abort (AbortError) and close (ERR_DMABUF_CLOSED)', async () => {
    const heap = emu().heap();
    const pool = FramePool.allocate(heap, { ...options, count: 1 });
    const held = await pool.acquire();
    const order: number[] = [];
    const first = pool.acquire().then((f) => {
      order.push(1);
      return f;
    });
    const second = pool.acquire().then((f) => {
      order.push(2);
      return f;
    });
    held.close();
    (await first).close();
    (await second).close();
    expect(order).toEqual([1, 2]);

    const h = await pool.acquire();
    await expect(pool.acquire({ timeoutMs: 20 })).rejects.toMatchObject({ code: 'ETIMEDOUT', syscall: 'acquire' });
    const controller = new AbortController();
    const aborted = pool.acquire({ signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await expect(pool.acquire({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const pending = pool.acquire();
    const writing = h.beginCpuAccess('write');
    expect(thrown(() => pool.close())).toMatchObject({ code: 'ERR_DMABUF_CLOSE_IN_BRACKET' });
    writing.end();
    pool.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    expect(h.closed).toBe(true);
    expect(thrown(() => h.planes)).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
  });

  it('bad arguments are refused before anything is allocated', async () => {
    using heap = emu().heap();
    expect(thrown(() => FramePool.allocate(heap, { ...options, count: 0 }))).toMatchObject({ code: 'EINVAL', argument: 'count' });
    expect(thrown(() => FramePool.allocate(heap, { ...options, cuont: 2 } as unknown as typeof options))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => FramePool.allocate(heap, { ...options, format: 'NOPE' }))).toMatchObject({ code: 'EINVAL' });
    using other = FramePool.allocate(heap, options);
    using pool = FramePool.allocate(heap, options);
    const foreign = other.tryAcquire() as Frame;
    expect(thrown(() => pool.release(foreign))).toMatchObject({ code: 'EINVAL', argument: 'frame' });
    expect(thrown(() => pool.lend(foreign))).toMatchObject({ code: 'EINVAL', argument: 'frame' });
    expect(thrown(() => pool.release({} as Frame))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(pool.acquire({ timeoutMs: -5 })).rejects.toMatchObject({ code: 'EINVAL', argument: 'timeoutMs' }); // a rejection, never a throw
    foreign.close();
  });

  it('property: a frame is never handed out while its producer holds it or a loan is open (model: per-slot counts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.constant({ op: 'acquire' as const }),
            fc.record({ op: fc.constantFrom('close' as const, 'lend' as const, 'end' as const), pick: fc.nat() }),
          ),
          {
            maxLength: 60,
          },
        ),
        async (ops) => {
          const heap = emu().heap();
          const pool = FramePool.allocate(heap, { width: 8, height: 8, format: 'R8', count: 3 });
          const held: Frame[] = [];
          const loans: { buffer: unknown; end: () => void }[] = [];
          const busy = new Map<unknown, number>(); // buffer → holds + loans (the model)
          const bump = (buffer: unknown, by: number) => busy.set(buffer, (busy.get(buffer) ?? 0) + by);
          for (const step of ops) {
            if (step.op === 'acquire') {
              const f = pool.tryAcquire();
              const freeInModel = 3 - [...busy.values()].filter((n) => n > 0).length;
              expect(f !== undefined).toBe(freeInModel > 0);
              if (!f) continue;
              const buffer = f.planes[0]?.buffer;
              expect(busy.get(buffer) ?? 0).toBe(0); // never a busy one
              bump(buffer, 1);
              held.push(f);
            } else if (step.op === 'close' && held.length) {
              const f = held.splice(step.pick % held.length, 1)[0] as Frame;
              bump(f.planes[0]?.buffer, -1);
              f.close();
            } else if (step.op === 'lend' && held.length) {
              const f = held[step.pick % held.length] as Frame;
              const buffer = f.planes[0]?.buffer;
              bump(buffer, 1);
              loans.push({ buffer, end: pool.lend(f) });
            } else if (step.op === 'end' && loans.length) {
              const loan = loans.splice(step.pick % loans.length, 1)[0] as (typeof loans)[number];
              bump(loan.buffer, -1);
              loan.end();
            }
            expect(pool.available).toBe(3 - [...busy.values()].filter((n) => n > 0).length);
          }
          pool.close();
        },
      ),
      { numRuns: 200, seed: 19 },
    );
  });
});
