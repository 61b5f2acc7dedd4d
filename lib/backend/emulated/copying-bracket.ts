/**
 * The copying path: each bracket gets its own ArrayBuffer covering the region's span. The model's
 * START puts the region's rows in it; its gaps (the span's bytes between rows) hold a known
 * pattern (they are not the device's data); at END it is detached by transferring its backing
 * store away (no copy), then only the rows go back. So two holders can each have a bracket open on
 * the same buffer, each holder's views die at its own END only, and START/END work is
 * proportional to the region (plus one memcmp of the gaps).
 *
 * The detached-and-recovered ArrayBuffer is kept for the holder's next bracket of the same span
 * length: no allocation, and when the layout is the same and no gap was written, no gap fill.
 */
import type { BracketBytes } from '../backend.js';
import type { AccessMode, ResolvedRegion } from '../../common/vocabulary.js';
import { copyBytes, eachRow, hasGaps } from '../../common/rows.js';
import { findViolation, packedRows, type Violation } from '../../common/bracket-check.js';
import type { Bracket } from './bracket.js';
import type { BufferState } from './buffer-state.js';
import type { EmulationContext } from './context.js';
import { detach } from './detach.js';
import { fillGaps, gapPattern } from './gap-pattern.js';
import { mixRace } from './race.js';
import { refreshSnapshot } from './zero-copy-bracket.js';

const SYNC = 'DMA_BUF_IOCTL_SYNC';

/** A detached bracket's ArrayBuffer kept for the next bracket, and the layout whose gap pattern it still holds. */
interface Spare {
  readonly buffer: ArrayBuffer;
  readonly layout: ResolvedRegion | undefined;
}

/** The same row layout at the same page alignment: the gaps are where they were, with the same pattern. */
function sameLayout(a: ResolvedRegion, b: ResolvedRegion, pageLength: number): boolean {
  return (
    a.spanLength === b.spanLength &&
    a.rowBytes === b.rowBytes &&
    a.rowPitch === b.rowPitch &&
    a.rowCount === b.rowCount &&
    a.slicePitch === b.slicePitch &&
    a.sliceCount === b.sliceCount &&
    a.start % pageLength === b.start % pageLength
  );
}

/** The region's rows of `span`, back to back: what a 'read' bracket compares with at END. */
function packRows(span: Uint8Array, region: ResolvedRegion): Uint8Array {
  const out = new Uint8Array(region.byteCount);
  eachRow(region, (at, packed) => copyBytes(span, at, out, packed, region.rowBytes));
  return out;
}

/** One holder's copying brackets: one open at a time, and the spare ArrayBuffer between them. */
export class CopyingBrackets {
  readonly #context: EmulationContext;
  readonly #state: BufferState;
  #spare: Spare | undefined;

  constructor(context: EmulationContext, state: BufferState) {
    this.#context = context;
    this.#state = state;
  }

  begin(mode: AccessMode, region: ResolvedRegion): Bracket {
    const { model, counters } = this.#context;
    const span = region.spanLength;
    const spare = this.#spare;
    this.#spare = undefined;
    const reuse = spare?.buffer.byteLength === span;
    const buffer = reuse ? spare.buffer : new ArrayBuffer(span);
    const view = new Uint8Array(buffer, 0, span);
    counters.syncedBytes += model.startInto(this.#state.memory, mode, region, view);
    counters.bracketCopiedBytes += region.byteCount * (mode === 'read' ? 2 : 1);
    const gapsReady = reuse && spare.layout !== undefined && sameLayout(spare.layout, region, model.poison.length);
    if (hasGaps(region) && !gapsReady) fillGaps(view, region, model.poison);
    const rows = mode === 'read' ? packRows(view, region) : undefined;
    return new CopyingBracket(this, { buffer, byteOffset: 0, length: span }, rows);
  }

  /** The bracket's END: detach, check, then the rows go back. */
  end(bracket: CopyingBracket, mode: AccessMode, region: ResolvedRegion): Violation | undefined {
    const { model, counters, faults } = this.#context;
    const state = this.#state;
    const { bytes } = bracket;
    // Detach first: no CPU access may follow the END.
    const recovered = detach(bytes.buffer);
    const data = new Uint8Array(recovered, bytes.byteOffset, bytes.length);
    faults.restarting('sync', SYNC);
    const rows = bracket.rows && packedRows(bracket.rows);
    const violation = findViolation(mode, region, data, { gaps: gapPattern(region, model.poison), rows });
    // Without a violation the gaps still hold the pattern: the next bracket of this layout keeps them.
    this.#spare = { buffer: recovered, layout: violation ? undefined : region };
    if (mode !== 'read') {
      if (state.deviceWrites !== bracket.deviceWrites) this.#race(region, data);
      // Only the region's rows go back: writes in the gaps between rows are dropped here.
      counters.syncedBytes += model.endFrom(state.memory, mode, region, data);
      counters.bracketCopiedBytes += region.byteCount;
      refreshSnapshot(state, region);
    }
    return violation;
  }

  abandon(): void {
    this.#context.faults.restarting('sync', SYNC);
  }

  /** The holder closes: its spare goes. */
  drop(): void {
    this.#spare = undefined;
  }

  /** A device job wrote this buffer while the bracket was open: its rows race the CPU's. */
  #race(region: ResolvedRegion, data: Uint8Array): void {
    const device = new Uint8Array(region.spanLength);
    const { model, raceRng } = this.#context;
    eachRow(region, (at) => model.readDevice(this.#state.memory, region.start + at, device.subarray(at, at + region.rowBytes)));
    mixRace(region, data, device, raceRng);
  }

  get deviceWrites(): number {
    return this.#state.deviceWrites;
  }
}

class CopyingBracket implements Bracket {
  readonly bytes: BracketBytes;
  /** A 'read' bracket's rows as handed out, back to back: END finds writes against them. */
  readonly rows: Uint8Array | undefined;
  readonly deviceWrites: number;
  readonly #path: CopyingBrackets;

  constructor(path: CopyingBrackets, bytes: BracketBytes, rows: Uint8Array | undefined) {
    this.#path = path;
    this.bytes = bytes;
    this.rows = rows;
    this.deviceWrites = path.deviceWrites;
  }

  end(mode: AccessMode, region: ResolvedRegion): Violation | undefined {
    return this.#path.end(this, mode, region);
  }

  /** Nothing was written back: the copy left with the bytes. */
  abandon(): void {
    this.#path.abandon();
  }
}
