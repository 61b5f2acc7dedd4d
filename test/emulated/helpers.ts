/** Small helpers for the emulated-backend tests. */
import { DmaBufError, type DmaBuf, type Region } from '../../lib/index.js';

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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The DmaBufError `fn` throws (anything else is rethrown; no throw fails the test). */
export function thrown(fn: () => unknown): DmaBufError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DmaBufError) return error;
    throw error;
  }
  throw new Error('expected a DmaBufError');
}
