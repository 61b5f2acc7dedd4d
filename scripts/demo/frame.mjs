/**
 * The demo's frame: a 1600×1200 RGBA image in one dma-buf, the 10×10 square the CPU updates,
 * the drawing code, and the checker that compares what a device saw with what the CPU wrote.
 */
import { region } from 'dmabuf';

export const WIDTH = 1600;
export const HEIGHT = 1200;
export const BPP = 4;
export const STRIDE = WIDTH * BPP;
export const SIZE = STRIDE * HEIGHT;

/** The pixels the CPU updates. */
export const SQUARE = Object.freeze({ x: 795, y: 595, width: 10, height: 10 });
/** What the pictures and the checker look at: 40×40 pixels around the square. */
export const CROP = Object.freeze({ x: SQUARE.x - 15, y: SQUARE.y - 15, width: 40, height: 40 });
const CROP_STRIDE = CROP.width * BPP;

/** The previous frame's colour (what a stale pixel shows) and the update's colour. */
export const BACKGROUND = Object.freeze([0x1e, 0x22, 0x2c, 0xff]);
export const GREEN = Object.freeze([0x22, 0xc5, 0x5e, 0xff]);

/** A rectangle of pixels of the frame as a dma-buf region. */
export function rect({ x, y, width, height }) {
  return region.rect({ x, y, width, height, stride: STRIDE, bytesPerPixel: BPP });
}

export function hex(pixel) {
  return `#${[...pixel.slice(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The previous frame: the whole buffer in BACKGROUND, written and cleaned by one whole-buffer bracket. */
export function paintBackground(buf) {
  buf.withCpuAccess('write', (access) => fillPixels(access.bytes, BACKGROUND));
}

function fillPixels(bytes, colour) {
  if (bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0) {
    const packed = new Uint32Array(Uint8Array.from(colour).buffer)[0];
    new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).fill(packed);
  } else {
    for (let i = 0; i + BPP <= bytes.length; i += BPP) bytes.set(colour, i);
  }
}

/**
 * The application's drawing code: the 10×10 green square, addressed from byte `at` of `bytes`
 * with `stride` bytes per row. Byte by byte, as plain typed-array stores: a store past the end of
 * a bracket's view is silently dropped by JavaScript, as it is for any typed array.
 */
export function drawSquare(bytes, at, stride) {
  for (let row = 0; row < SQUARE.height; row++) {
    for (let col = 0; col < SQUARE.width; col++) {
      const p = at + row * stride + col * BPP;
      for (let c = 0; c < BPP; c++) bytes[p + c] = GREEN[c];
    }
  }
}

/** The crop out of a linear view of the whole frame (a device's view). */
export function cropOfFrame(frame) {
  const out = new Uint8Array(CROP_STRIDE * CROP.height);
  for (let row = 0; row < CROP.height; row++) {
    const from = (CROP.y + row) * STRIDE + CROP.x * BPP;
    out.set(frame.subarray(from, from + CROP_STRIDE), row * CROP_STRIDE);
  }
  return out;
}

/** The crop out of a bracket over rect(CROP): its rows, concatenated. */
export function cropOfAccess(access) {
  const out = new Uint8Array(CROP_STRIDE * CROP.height);
  let at = 0;
  for (const row of access.rows()) {
    out.set(row, at);
    at += row.length;
  }
  return out;
}

/** What the CPU meant the crop to hold: the previous frame with the square drawn by the same code. */
export function intendedCrop() {
  const crop = new Uint8Array(CROP_STRIDE * CROP.height);
  fillPixels(crop, BACKGROUND);
  drawSquare(crop, (SQUARE.y - CROP.y) * CROP_STRIDE + (SQUARE.x - CROP.x) * BPP, CROP_STRIDE);
  return crop;
}

const inside = (r, x, y) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;

/**
 * Compare what the device saw (`seen`, a crop) with what the CPU wrote, pixel by pixel, and say
 * why they differ from the data and the bracket's state:
 *   declared:    the region the bracket declared (to tell writes outside it apart)
 *   bracketOpen: whether the CPU's bracket was still open when the device looked
 */
export function check(seen, { declared = SQUARE, bracketOpen = false } = {}) {
  const expected = intendedCrop();
  let wrong = 0;
  let stale = 0;
  let outsideDeclared = 0;
  let squareOk = 0;
  let first;
  for (let cy = 0; cy < CROP.height; cy++) {
    for (let cx = 0; cx < CROP.width; cx++) {
      const i = (cy * CROP.width + cx) * BPP;
      const x = CROP.x + cx;
      const y = CROP.y + cy;
      const got = seen.subarray(i, i + BPP);
      const want = expected.subarray(i, i + BPP);
      const same = got.every((b, k) => b === want[k]);
      if (same) {
        if (inside(SQUARE, x, y)) squareOk++;
        continue;
      }
      wrong++;
      if (got.every((b, k) => b === BACKGROUND[k])) stale++;
      if (!inside(declared, x, y)) outsideDeclared++;
      first ??= { x, y, got: hex(got), want: hex(want) };
    }
  }
  let why;
  if (wrong > 0) {
    if (bracketOpen) why = 'the CPU cache was never cleaned: missing end() before the hand-off';
    else if (outsideDeclared === wrong) {
      why = `all outside the declared ${declared.width}×${declared.height} region: end() cleaned only the declared rows`;
    } else why = 'not explained by the bracket: a bug in the demo or the library';
  }
  return { wrong, stale, outsideDeclared, squareOk, squareTotal: SQUARE.width * SQUARE.height, first, why };
}

/** One line describing a check's result. */
export function describe(result) {
  const { wrong, stale, squareOk, squareTotal, first, why } = result;
  if (wrong === 0) return `device sees the update: square ${squareOk}/${squareTotal} green, 0 wrong pixels around it`;
  const staleText = stale === wrong ? 'all stale: the previous frame' : `${stale} of them stale`;
  return `device sees ${wrong} wrong pixels (${staleText}), first at (${first.x},${first.y}): ${first.got}, CPU wrote ${first.want}` + ` — ${why}`;
}

/** A byte offset in the frame as a pixel. */
export function pixelAt(offset) {
  return { x: Math.floor((offset % STRIDE) / BPP), y: Math.floor(offset / STRIDE) };
}
