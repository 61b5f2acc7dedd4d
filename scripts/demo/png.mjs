/** Pictures of what the device saw: the 40×40 crop around the square, scaled up, as PNG (pngjs). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import pngjs from 'pngjs';
import { BPP, CROP, SQUARE } from './frame.mjs';

const { PNG } = pngjs;
export const SCALE = 8;
const OUTLINE = [0xff, 0xff, 0xff, 0xff];

/**
 * Write `crop` (CROP.width × CROP.height RGBA) scaled SCALE× to `path`, with a dashed white
 * outline drawn just outside the square the CPU meant to update (the square's own pixels are
 * left as the device saw them).
 */
export function writeCropPng(path, crop) {
  const width = CROP.width * SCALE;
  const height = CROP.height * SCALE;
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (Math.floor(y / SCALE) * CROP.width + Math.floor(x / SCALE)) * BPP;
      png.data.set(crop.subarray(from, from + BPP), (y * width + x) * BPP);
    }
  }
  const left = (SQUARE.x - CROP.x) * SCALE;
  const top = (SQUARE.y - CROP.y) * SCALE;
  const right = left + SQUARE.width * SCALE;
  const bottom = top + SQUARE.height * SCALE;
  const dot = (x, y) => {
    if (Math.floor((x + y) / 6) % 2 === 0) png.data.set(OUTLINE, (y * width + x) * BPP);
  };
  for (let t = 1; t <= 2; t++) {
    for (let x = left - t; x < right + t; x++) {
      dot(x, top - t);
      dot(x, bottom + t - 1);
    }
    for (let y = top - t; y < bottom + t; y++) {
      dot(left - t, y);
      dot(right + t - 1, y);
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, PNG.sync.write(png));
}
