/**
 * A tiny seeded PRNG (mulberry32): the emulator's only source of randomness, so poison patterns
 * and CPU/device race outcomes are reproducible from the seed.
 */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An independent stream derived from this seed and a label, so one purpose cannot perturb another. */
  static derive(seed: number, label: number): Rng {
    return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(label + 1, 0xc2b2ae35));
  }
}

/** The PRNG has 32 bits of state: a safe-integer seed's high bits are folded in, so every bit matters. */
export function foldSeed(seed: number): number {
  return ((seed % 2 ** 32) ^ Math.floor(seed / 2 ** 32)) >>> 0;
}

/** Poison bytes lie in 0xA0..0xAF: recognisable in a hex dump and never zero (fresh device memory). */
export const POISON_MIN = 0xa0;
export const POISON_MAX = 0xaf;

/** A page of seeded poison; fills repeat it, so poisoning is a memcpy, not a PRNG call per byte. */
export function poisonPage(rng: Rng, size = 4096): Uint8Array {
  const page = new Uint8Array(size);
  for (let i = 0; i < size; i++) page[i] = POISON_MIN | (rng.next() & 0x0f);
  return page;
}

/**
 * Fill `target[start, end)` with `page` repeated, aligned to absolute offsets: `target[i]` gets
 * `page[(base + i) % page.length]`, where `base` is the absolute offset of `target[0]`.
 */
export function fillPoison(target: Uint8Array, start: number, end: number, page: Uint8Array, base = 0): void {
  let at = start;
  while (at < end) {
    const inPage = (base + at) % page.length;
    const n = Math.min(page.length - inPage, end - at);
    target.set(page.subarray(inPage, inPage + n), at);
    at += n;
  }
}
