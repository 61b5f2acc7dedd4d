/** Small helpers for the emulated-backend tests. */
import { emulation, region, type Coherency, type DmaBuf, type Region } from '../../lib/index.js';

/** Write `value` into every byte of the region through a 'write' bracket. */
export function fill(buf: DmaBuf, value: number, region?: Region): void {
  buf.withCpuAccess('write', region, (access) => {
    for (const row of access.rows()) row.fill(value);
  });
}

/** The region's rows, concatenated, read through a bracket of `mode` (default 'read'). */
export function read(buf: DmaBuf, region?: Region, mode: 'read' | 'write' | 'readwrite' = 'read'): Uint8Array {
  return buf.withCpuAccess(mode, region, (access) => Uint8Array.from([...access.rows()].flatMap((row) => [...row])));
}

export function allBytes(bytes: Uint8Array, value: number): boolean {
  return bytes.every((b) => b === value);
}

/**
 * A CPU write bracket over bytes [0, 256) filled with 0xff, while a device job fills the whole
 * buffer with 0x11 before the END (the uapi says not to): returns the buffer's first 512 bytes
 * afterwards, under `coherency` with `seed`.
 */
export async function raceWriteBracketWithDevice(coherency: Coherency, seed: number): Promise<number[]> {
  const emu = emulation.create({ coherency, seed });
  const buf = emu.heap().allocate(4096);
  const access = buf.beginCpuAccess('write', region.linear({ offset: 0, length: 256 }));
  access.bytes.fill(0xff);
  await emu
    .device('gpu')
    .submit({ writes: [buf], run: (job) => job.bytes(buf).fill(0x11) })
    .wait();
  access.end();
  const out = [...read(buf, region.linear({ offset: 0, length: 512 }))];
  buf.close();
  return out;
}
