/**
 * A CPU bracket and a device job that wrote the same buffer while it was open raced: as on real
 * hardware, each aligned word of the region's rows ends up from one side or the other. The seeded
 * PRNG picks the side, so a run is reproducible from its seed.
 */
import { eachRow } from '../../common/rows.js';
import type { ResolvedRegion } from '../../common/vocabulary.js';
import type { Rng } from './rng.js';

/** CPU and device race at this granularity: each aligned 8-byte word comes whole from one side. */
const RACE_WORD = 8;

/**
 * Mix the device's rows into the CPU's: both span-shaped (offsets from the span start); the
 * words the PRNG picks come from `device`, the rest stay as `cpu` has them.
 */
export function mixRace(region: ResolvedRegion, cpu: Uint8Array, device: Uint8Array, rng: Rng): void {
  const { start, rowBytes } = region;
  eachRow(region, (offset) => {
    const at = start + offset;
    for (let word = at - (at % RACE_WORD); word < at + rowBytes; word += RACE_WORD) {
      if ((rng.next() & 1) === 0) continue;
      const from = Math.max(word, at) - start;
      const to = Math.min(word + RACE_WORD, at + rowBytes) - start;
      cpu.set(device.subarray(from, to), from);
    }
  });
}
