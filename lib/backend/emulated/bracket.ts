/** An open bracket as its holder sees it: the copying path and the zero-copy path both are one. */
import type { BracketBytes } from '../backend.js';
import type { AccessMode, ResolvedRegion } from '../../common/vocabulary.js';
import type { Violation } from '../../common/bracket-check.js';

export interface Bracket {
  /** The bytes handed out. */
  readonly bytes: BracketBytes;
  /**
   * END: detach the bytes first (no CPU access may follow END), then sync back what the model
   * says. Returns the first write the bracket was not allowed to make; END has completed anyway.
   */
  end(mode: AccessMode, region: ResolvedRegion): Violation | undefined;
  /** END for bytes that were transferred away (to another thread): nothing of them comes back. */
  abandon(): void;
}
