/**
 * The guest's side of the VM runner's screendump channel (scripts/vm/screen.mjs): ask for a picture
 * of the virtio-gpu screen and read it. The runner takes it with QEMU's `screendump` (a PPM, P6:
 * 8-bit RGB) and answers through files on the repo share (DMABUF_VM_SCREEN_DIR).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './loop.js';

export interface Screenshot {
  width: number;
  height: number;
  /** Row-major RGB, 3 bytes a pixel. */
  rgb: Uint8Array;
}

let serial = 0;

/** Parse a binary PPM (P6, maxval 255): the header is four whitespace-separated tokens, then one whitespace byte. */
export function parsePpm(data: Uint8Array): Screenshot {
  const tokens: string[] = [];
  let at = 0;
  while (tokens.length < 4) {
    while (at < data.length && /\s/.test(String.fromCharCode(data[at] as number))) at++;
    if (data[at] === 0x23) {
      while (at < data.length && data[at] !== 0x0a) at++; // a comment line
      continue;
    }
    const start = at;
    while (at < data.length && !/\s/.test(String.fromCharCode(data[at] as number))) at++;
    tokens.push(Buffer.from(data.subarray(start, at)).toString('latin1'));
  }
  const [magic, w, h, max] = tokens;
  if (magic !== 'P6' || max !== '255') throw new Error(`not an 8-bit binary PPM: ${tokens.join(' ')}`);
  const width = Number(w);
  const height = Number(h);
  const rgb = data.subarray(at + 1, at + 1 + width * height * 3);
  if (rgb.length !== width * height * 3) throw new Error(`PPM of ${width}×${height} holds ${rgb.length} bytes of pixels`);
  return { width, height, rgb };
}

/** Ask the runner for a screendump and wait for it (polling the share; the runner polls every 100 ms). */
export async function screendump(timeoutMs = 60_000): Promise<Screenshot> {
  const dir = process.env['DMABUF_VM_SCREEN_DIR'];
  if (!dir) throw new Error('no screendump channel: DMABUF_VM_SCREEN_DIR is unset (only the VM runner sets it, on profiles with virtio-gpu)');
  const id = `${process.pid}-${++serial}`;
  const files = ['request', 'ppm', 'done', 'error'].map((ext) => join(dir, `${id}.${ext}`));
  const [request, ppm, done, error] = files as [string, string, string, string];
  // The runner made the folder before the boot; once, in a full suite run, the guest found it gone
  // (ENOENT), so it is made again here (the runner makes it again before each look, too).
  mkdirSync(dir, { recursive: true });
  writeFileSync(request, '');
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (existsSync(done)) return parsePpm(readFileSync(ppm));
      if (existsSync(error)) throw new Error(`the runner's screendump failed: ${readFileSync(error, 'utf8')}`);
      if (Date.now() > deadline) throw new Error(`no screendump within ${timeoutMs} ms (is the runner serving ${dir}?)`);
      await sleep(50);
    }
  } finally {
    for (const f of files) rmSync(f, { force: true });
  }
}
