/** What the feature files share: the parts of an error backends must agree on, and byte patterns. */
import { expect } from 'vitest';
import { DmaBufError, type CpuAccess, type DmaBuf } from '../../../lib/index.js';

export const KiB = 1024;

/** The parts of an error both backends must agree on. */
export function shape(error: DmaBufError): { code: string; argument: string | undefined } {
  expect(error).toBeInstanceOf(DmaBufError);
  return { code: error.code, argument: error.argument };
}

/** Every row of the access, concatenated. */
export function rowsOf(access: CpuAccess): number[] {
  return [...access.rows()].flatMap((row) => [...row]);
}

/** Fill every row of the region with a per-row pattern. */
export function writePattern(access: CpuAccess, base: number): void {
  let i = 0;
  for (const row of access.rows()) {
    for (let j = 0; j < row.length; j++) row[j] = (base + i * 7 + j * 3) & 0xff;
    i++;
  }
}

/** The whole buffer, read in a read bracket. */
export function readAll(buf: DmaBuf): Uint8Array {
  return buf.withCpuAccess('read', (access) => access.bytes.slice());
}
