/** Fences, implicit sync and waits on the emulated backend: the kernel's rules, with timers. */
import { describe, expect, it, vi } from 'vitest';
import { DmaBufError, MisuseCode, emulation, region } from '../../lib/index.js';
import { allBytes, read } from './helpers.js';
import { rejection } from '../helpers/errors.js';

/**
 * Counts the timers created while `fn` runs that are still armed (neither fired nor cleared):
 * only this test's own, whatever timers the test runner keeps.
 */
async function trackTimers(fn: (armed: () => number) => Promise<void>): Promise<void> {
  const armed = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = realSet(() => {
      armed.delete(timer);
      callback(...args);
    }, ms);
    armed.add(timer);
    return timer;
  }) as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((timer: Parameters<typeof clearTimeout>[0]) => {
    armed.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout);
  try {
    await fn(() => armed.size);
  } finally {
    set.mockRestore();
    clear.mockRestore();
  }
}

describe('device jobs and START', () => {
  it('await cpuAccess waits for a writing job without blocking the loop', async () => {
    const emu = emulation.create({ coherency: 'writeback' });
    const buf = emu.heap().allocate(4096);
    // The job lasts long enough for a 10 ms interval to fire twice even on the VMs' software CPU.
    const durationMs = process.env['DMABUF_REQUIRE_KERNEL'] === '1' ? 400 : 60;
    const done = emu.device('gpu').submit({ writes: [buf], durationMs, run: (job) => job.bytes(buf).fill(0x5a) });
    let ticks = 0;
    const interval = setInterval(() => ticks++, 10);
    try {
      const access = await buf.cpuAccess('read');
      expect(done.status).toBe('signaled');
      expect(allBytes(access.bytes, 0x5a)).toBe(true);
      access.end();
    } finally {
      clearInterval(interval);
    }
    expect(ticks).toBeGreaterThanOrEqual(2); // the loop kept running while the job did
  });

  it('beginCpuAccess blocks like SYNC START: it waits out the job, bounded by timeoutMs', () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const gpu = emu.device('gpu');
    const slow = gpu.submit({ writes: [buf], durationMs: 10_000 });
    const start = performance.now();
    expect(() => buf.beginCpuAccess('read', undefined, { timeoutMs: 20 })).toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
    expect(performance.now() - start).toBeGreaterThanOrEqual(19);
    expect(slow.status).toBe('active');
    const other = emu.heap().allocate(4096);
    const quick = gpu.submit({ writes: [other], durationMs: 30, run: (job) => job.bytes(other).fill(1) });
    const access = other.beginCpuAccess('read'); // no timeout: blocks until the job is done
    expect(quick.status).toBe('signaled');
    expect(allBytes(access.bytes, 1)).toBe(true);
    access.end();
  });

  it('jobs order through implicit fences: a reader waits for the writer before it', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    emu.device('decoder').submit({ writes: [buf], durationMs: 30, run: (job) => job.bytes(buf).fill(9) });
    let seen = -1;
    await emu
      .device('display')
      .submit({
        reads: [buf],
        run: (job) => {
          seen = job.bytes(buf)[0]!;
        },
      })
      .wait();
    expect(seen).toBe(9);
  });

  it('read waits only for writers: a reading job blocks a write bracket, not a read bracket', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const reader = emu.device('display').submit({ reads: [buf], durationMs: 10_000 });
    const access = buf.beginCpuAccess('read', undefined, { timeoutMs: 0 });
    access.end();
    await buf.waitIdle('read', { timeoutMs: 0 });
    expect(() => buf.beginCpuAccess('write', undefined, { timeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
    expect((await rejection(buf.waitIdle('readwrite', { timeoutMs: 5 }))).code).toBe('ETIMEDOUT');
    expect(reader.status).toBe('active');
  });

  it('waitIdle resolves when the job is done', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const job = emu.device('gpu').submit({ writes: [buf], durationMs: 20 });
    await buf.waitIdle('write');
    expect(job.status).toBe('signaled');
  });
});

describe('sync_file export and import', () => {
  it('export is a snapshot: signalled before a job, active until the job is done after', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const before = buf.exportSyncFile('write');
    expect(before.status).toBe('signaled');
    expect(before.info().fences).toHaveLength(1);
    emu.device('gpu').submit({ writes: [buf], durationMs: 20 });
    const after = buf.exportSyncFile('read');
    expect(after.status).toBe('active');
    expect(after.info().fences[0]).toMatchObject({ objName: 'gpu', driverName: 'dmabuf-emulated', status: 0 });
    expect(before.status).toBe('signaled'); // fences added later are not in an earlier snapshot
    await after.wait();
    expect(after.info().fences[0]!.status).toBe(1);
    expect(after.info().fences[0]!.timestampNs).toBeGreaterThan(0n);
  });

  it('import makes a buffer busy with another job’s fence (read or write usage)', async () => {
    const emu = emulation.create();
    const a = emu.heap().allocate(4096);
    const b = emu.heap().allocate(4096);
    const job = emu.device('gpu').submit({ writes: [a], durationMs: 30 });
    b.importSyncFile(job, 'read');
    await b.waitIdle('read', { timeoutMs: 0 }); // a read fence does not block readers
    expect((await rejection(b.waitIdle('write', { timeoutMs: 0 }))).code).toBe('ETIMEDOUT');
    b.importSyncFile(job, 'write');
    expect((await rejection(b.waitIdle('read', { timeoutMs: 0 }))).code).toBe('ETIMEDOUT');
    await b.waitIdle('read');
    expect(job.status).toBe('signaled');
  });

  it('merge signals when both have; setDeadline is accepted as a hint', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const gpu = emu.device('gpu');
    const one = gpu.submit({ reads: [buf], durationMs: 5 });
    const two = gpu.submit({ reads: [buf], durationMs: 25 });
    const both = one.merge(two, 'both');
    both.setDeadline(5);
    expect(both.info().name).toBe('both');
    expect(both.info().fences).toHaveLength(2);
    await both.wait();
    expect(one.status).toBe('signaled');
    expect(two.status).toBe('signaled');
    expect(both.backend).toBe('emulated');
  });

  it('a failed job signals its fence with an error: wait rejects ERR_DMABUF_FENCE_ERROR', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const failed = emu.device('gpu').submit({ writes: [buf], error: 'ETIMEDOUT' });
    const error = await rejection(failed.wait());
    expect(error).toBeInstanceOf(DmaBufError);
    expect(error.code).toBe(MisuseCode.FENCE_ERROR);
    expect((error as DmaBufError).errno).toBe(110);
    expect(failed.status).toBe('error');
    const threw = emu.device('gpu').submit({
      writes: [buf],
      run: () => {
        throw new Error('shader fault');
      },
    });
    expect(((await rejection(threw.wait())) as DmaBufError).errno).toBe(5);
    await buf.waitIdle('write'); // an error still counts as signalled for poll
  });
});

describe('waits: timeouts, aborts, and nothing left behind', () => {
  it('timeouts reject ETIMEDOUT and AbortSignal rejects AbortError', async () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const job = emu.device('gpu').submit({ writes: [buf], durationMs: 10_000 });
    expect((await rejection(buf.cpuAccess('read', undefined, { timeoutMs: 10 }))).code).toBe('ETIMEDOUT');
    expect((await rejection(job.wait({ timeoutMs: 10 }))).code).toBe('ETIMEDOUT');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 5);
    const aborted = await rejection(buf.cpuAccess('write', undefined, { signal: controller.signal }));
    expect(aborted.name).toBe('AbortError');
    // The holder is free again after the failed waits.
    expect(() => buf.beginCpuAccess('read', region.linear({ offset: 0, length: 1 }), { timeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
  });

  it('a settled or cancelled wait keeps no timer alive', async () => {
    await trackTimers(async (armed) => {
      const emu = emulation.create();
      const buf = emu.heap().allocate(4096);
      // Long enough that the job cannot fall due while this test inspects the timers, even on the
      // VM's software CPU (a due job is completed on the spot by the next wait).
      const job = emu.device('gpu').submit({ writes: [buf], durationMs: 1000 });
      expect(armed()).toBe(1); // the job itself
      const controller = new AbortController();
      const pending = rejection(job.wait({ timeoutMs: 60_000, signal: controller.signal }));
      expect(armed()).toBe(2); // and the wait's timeout
      controller.abort();
      expect((await pending).name).toBe('AbortError');
      expect(armed()).toBe(1);
      await buf.waitIdle('write', { timeoutMs: 60_000 });
      expect(armed()).toBe(0);
    });
  });

  it('the sync wait completes due jobs on the spot', () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    const job = emu.device('gpu').submit({ writes: [buf], durationMs: 5, run: (j) => j.bytes(buf).fill(3) });
    expect(job.info().status).toBe(0);
    expect(allBytes(read(buf), 3)).toBe(true);
    expect(emu.stats().pendingJobs).toBe(0);
  });
});
