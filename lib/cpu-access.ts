/**
 * CpuAccess: one open bracket (SYNC START … END), libcamera DmaSyncer style: the object is the
 * bracket, and its end (explicit, `using`, or withCpuAccess) is the END.
 */
import { inspectObject } from './inspect.js';
import { inspect } from 'node:util';
import { DmaBufError, MisuseCode } from './common/errors.js';
import type { BracketBytes } from './backend/backend.js';
import type { Region, ResolvedRegion } from './region.js';
import { rowOffsets } from './common/rows.js';
import { checkToken } from './lifecycle.js';
import type { AccessMode } from './validate.js';

/** @internal What a CpuAccess needs from its DmaBuf (DmaBuf matches it by shape: an `implements` clause would name a member stripInternal removes from the published types). */
export interface BracketOwner {
  _endBracket(access: CpuAccess, region: ResolvedRegion, bytes: BracketBytes): void;
}

const token = Symbol('CpuAccess');

export class CpuAccess {
  readonly mode: AccessMode;
  readonly region: Region;
  readonly #resolved: ResolvedRegion;
  #bytes: Uint8Array | undefined;
  #owner: BracketOwner | undefined;
  #raw: BracketBytes;

  /** @internal Made by DmaBuf.beginCpuAccess/cpuAccess/withCpuAccess. */
  static _open(owner: BracketOwner, mode: AccessMode, resolved: ResolvedRegion, raw: BracketBytes): CpuAccess {
    return new CpuAccess(token, owner, mode, resolved, raw);
  }

  /** Not public: brackets are opened by DmaBuf#beginCpuAccess, cpuAccess and withCpuAccess. */
  private constructor(t: symbol, owner: BracketOwner, mode: AccessMode, resolved: ResolvedRegion, raw: BracketBytes) {
    checkToken(t, token, 'CpuAccess', 'buf.beginCpuAccess(), buf.cpuAccess() or buf.withCpuAccess()');
    this.#owner = owner;
    this.mode = mode;
    this.region = resolved.region;
    this.#resolved = resolved;
    this.#raw = raw;
  }

  /** True once end() has run. */
  get ended(): boolean {
    return this.#owner === undefined;
  }

  /**
   * The region's byte span: for a 2D or 3D region it includes the gaps between rows, which the
   * bracket does not cover (use rows()). Detached (length 0) after end(): a view kept past the
   * bracket cannot touch memory.
   */
  get bytes(): Uint8Array {
    // Made on first use: on the kernel backend the view over the mapping is the costliest part of
    // a bracket (an external ArrayBuffer), and a bracket that only syncs never needs one.
    this.#bytes ??= this.ended ? new Uint8Array(0) : new Uint8Array(this.#raw.buffer, this.#raw.byteOffset, this.#raw.length);
    return this.#bytes;
  }

  /** One view per row of the region (per row of each slice for a box), in memory order. */
  *rows(): Generator<Uint8Array> {
    if (this.ended) {
      throw new DmaBufError(MisuseCode.NOT_IN_BRACKET, 'rows(): this bracket has ended; begin a new one to reach the bytes');
    }
    const rowBytes = this.#resolved.rowBytes;
    const bytes = this.bytes;
    for (const offset of rowOffsets(this.#resolved)) {
      if (this.ended) return;
      yield bytes.subarray(offset, offset + rowBytes);
    }
  }

  /**
   * END with the START flags. Detaches every view first, so no CPU access can follow the END.
   * A second end() is an END without START and throws ERR_DMABUF_NOT_IN_BRACKET.
   */
  end(): void {
    const owner = this.#owner;
    if (!owner) {
      throw new DmaBufError(MisuseCode.NOT_IN_BRACKET, 'end(): this bracket has already ended (END without START)', {
        syscall: 'DMA_BUF_IOCTL_SYNC',
      });
    }
    this.#owner = undefined;
    owner._endBracket(this, this.#resolved, this.#raw);
  }

  /** `using access = buf.beginCpuAccess(…)`: ends the bracket if it is still open. */
  [Symbol.dispose](): void {
    if (!this.ended) this.end();
  }

  [inspect.custom](depth: number, options: object): string {
    const r = this.#resolved;
    const { kind, ...shape } = r.region;
    return inspectObject('CpuAccess', { mode: this.mode, region: kind, ...shape, state: this.ended ? 'ended' : 'open' }, depth, options);
  }
}
