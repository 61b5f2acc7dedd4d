/**
 * An emulated dma-buf itself: its memories, fences and name, shared by every holder of it (each
 * holder, holder.ts, is one emulated fd number, like one dma-buf fd).
 */
import type { AccessMode, ResolvedRegion } from '../../common/vocabulary.js';
import { Resv } from './fences.js';
import type { Memory } from './models.js';

/**
 * The zero-copy bracket open on a buffer (zero-copy-bracket.ts), as the rest of the buffer sees
 * it: device stores and copying brackets of other holders keep its snapshot current. Offsets are
 * from the span start.
 */
export interface ZeroCopyState {
  readonly mode: AccessMode;
  readonly region: ResolvedRegion;
  /** Span-shaped snapshot: a 'read' bracket's whole span, else its gaps only; undefined without gaps. */
  readonly reference: Uint8Array | undefined;
  /** A writing bracket's rows as a device job wrote them during the bracket (span-shaped): mixed in at END. */
  raceRows: Uint8Array | undefined;
}

export class BufferState {
  readonly size: number;
  readonly exporter: string;
  /** Replaced (same bytes, new ArrayBuffer) when a zero-copy bracket ends: never cache it. */
  memory: Memory;
  readonly resv = new Resv();
  name = '';
  /** Bumped whenever a device job writing this buffer completes; a bracket that saw it move raced. */
  deviceWrites = 0;
  holders = 0;
  /** Brackets open on this buffer, over all holders. */
  openBrackets = 0;
  /** The zero-copy bracket open on this buffer, if any. */
  zeroCopy: ZeroCopyState | undefined;

  constructor(size: number, exporter: string, memory: Memory) {
    this.size = size;
    this.exporter = exporter;
    this.memory = memory;
  }
}
