/** Fault injection and seeded CPU/device races on the emulated backend. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, emulation } from '../../lib/index.js';
import { allBytes, fill, raceWriteBracketWithDevice, read } from './helpers.js';
import { code } from '../helpers/errors.js';

describe('fault injection', () => {
  it('EINTR/EAGAIN on SYNC are restarted inside the backend', () => {
    const emu = emulation.create();
    const buf = emu.heap().allocate(4096);
    emu.failNext('sync', 'EINTR', 2);
    emu.failNext('sync', 'EAGAIN');
    fill(buf, 7);
    expect(emu.stats().syncRetries).toBe(3);
    expect(allBytes(read(buf), 7)).toBe(true);
  });

  it('ENOMEM/EBUSY surface with their errno and leave nothing behind', () => {
    const emu = emulation.create();
    const heap = emu.heap();
    emu.failNext('allocate', 'ENOMEM');
    let error: unknown;
    try {
      heap.allocate(4096);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ENOMEM', errno: 12, syscall: 'DMA_HEAP_IOCTL_ALLOC' });
    expect(emu.stats().liveBuffers).toBe(0);
    emu.failNext('setName', 'ENOMEM');
    expect(code(() => heap.allocate(4096, { name: 'x' }))).toBe('ENOMEM');
    expect(emu.stats().liveBuffers).toBe(0);
    emu.failNext('allocate', 'EINTR'); // only SYNC is restarted: an interrupted ALLOC reports EINTR
    expect(code(() => emu.udmabuf(4096))).toBe('EINTR');

    const buf = heap.allocate(4096);
    expect(emu.stats().liveBuffers).toBe(1);
    emu.failNext('sync', 'EBUSY');
    expect(code(() => buf.beginCpuAccess('read'))).toBe('EBUSY');
    expect(read(buf).length).toBe(4096); // no bracket was left open
    emu.failNext('export', 'ENOMEM');
    expect(code(() => buf.exportSyncFile('read'))).toBe('ENOMEM');
    const sync = buf.exportSyncFile('read');
    emu.failNext('import', 'ENOMEM');
    expect(code(() => buf.importSyncFile(sync, 'write'))).toBe('ENOMEM');
    emu.failNext('merge', 'ENOMEM');
    expect(code(() => sync.merge(sync))).toBe('ENOMEM');
    emu.failNext('importFd', 'ENOMEM');
    expect(code(() => DmaBuf.fromFd(buf.fd))).toBe('ENOMEM');
    buf.close();
    expect(emu.stats().liveBuffers).toBe(0);
  });
});

describe('CPU and device racing on the same bytes', () => {
  // The program writes, and submits device work before its END (the uapi says not to).
  const race = async (seed: number): Promise<number[]> => (await raceWriteBracketWithDevice('writeback', seed)).slice(0, 256);

  it('gives a seeded mix of old and new bytes: same seed, same mix; other seed, other mix', async () => {
    const first = await race(1);
    expect(first.includes(0xff) && first.includes(0x11)).toBe(true);
    expect(first.every((b) => b === 0xff || b === 0x11)).toBe(true);
    expect(await race(1)).toEqual(first);
    expect(await race(2)).not.toEqual(first);
  });
});
