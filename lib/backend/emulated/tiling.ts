/**
 * The emulated tiled layout. Device memory is cut into 1 KiB blocks; each block holds 16 × 16
 * texels of 4 bytes that a linear reader would see row by row, and the device stores them
 * column by column (a transpose). Linear address ↔ tiled address is thus a fixed permutation
 * inside each 1 KiB-aligned block, independent of the image's stride, and its own inverse.
 * Buffer sizes are whole pages, so there is never a partial block.
 */
export const TILE_BYTES = 1024;
const TEXELS_PER_SIDE = 16;

/** The tiled (device) address of linear byte `a`. A transpose, so also the inverse mapping. */
export function tiledAddress(a: number): number {
  const base = a - (a % TILE_BYTES);
  const inBlock = a % TILE_BYTES;
  const texel = inBlock >> 2;
  const row = (texel / TEXELS_PER_SIDE) | 0;
  const col = texel % TEXELS_PER_SIDE;
  return base + ((col * TEXELS_PER_SIDE + row) << 2) + (inBlock & 3);
}

/** Whole texels can move as 32-bit words when every offset involved is texel-aligned. */
function words(a: Uint8Array, b: Uint8Array, start: number, length: number, base: number): [Uint32Array, Uint32Array] | undefined {
  if ((start | length | base | a.byteOffset | b.byteOffset | a.length | b.length) & 3) return undefined;
  return [new Uint32Array(a.buffer, a.byteOffset, a.length >> 2), new Uint32Array(b.buffer, b.byteOffset, b.length >> 2)];
}

/** linear[a - linearBase] = tiled[tiledAddress(a)] for a in [start, start + length). */
export function untile(tiled: Uint8Array, linear: Uint8Array, start: number, length: number, linearBase = 0): void {
  const w = words(tiled, linear, start, length, linearBase);
  if (w) {
    const [t32, l32] = w;
    for (let a = start, end = start + length; a < end; a += 4) l32[(a - linearBase) >> 2] = t32[tiledAddress(a) >> 2]!;
    return;
  }
  for (let a = start, end = start + length; a < end; a++) linear[a - linearBase] = tiled[tiledAddress(a)]!;
}

/** tiled[tiledAddress(a)] = linear[a] for a in [start, start + length). */
export function retile(linear: Uint8Array, tiled: Uint8Array, start: number, length: number): void {
  const w = words(linear, tiled, start, length, 0);
  if (w) {
    const [l32, t32] = w;
    for (let a = start, end = start + length; a < end; a += 4) t32[tiledAddress(a) >> 2] = l32[a >> 2]!;
    return;
  }
  for (let a = start, end = start + length; a < end; a++) tiled[tiledAddress(a)] = linear[a]!;
}
