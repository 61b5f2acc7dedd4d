/**
 * The demo (`npm start`) as a user runs it: a child process on the built package, forced onto the
 * emulated backend so it behaves the same on every machine. Checks its report (the three cases,
 * the detection code, the timing table), its exit status, and the pictures it writes.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'demo-output');
const built = existsSync(join(ROOT, 'dist/index.js')) && existsSync(join(ROOT, 'dist/testing/index.js'));

// The crop geometry of scripts/demo/png.mjs: 40×40 pixels scaled 8×, the 10×10 square at (15,15).
const SIZE = 320;
const SCALE = 8;
const SQUARE_CENTRE = (15 + 5) * SCALE;
const GREEN = [0x22, 0xc5, 0x5e, 0xff];
const BACKGROUND = [0x1e, 0x22, 0x2c, 0xff];

function pixel(png: PNG, x: number, y: number): number[] {
  const i = (y * png.width + x) * 4;
  return [...png.data.subarray(i, i + 4)];
}

function readPng(name: string): PNG {
  const png = PNG.sync.read(readFileSync(join(OUT, name)));
  expect([png.width, png.height]).toEqual([SIZE, SIZE]);
  return png;
}

describe.runIf(built)('demo (scripts/demo.mjs, emulated backend)', () => {
  let stdout = '';
  let code: number | null = null;

  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    try {
      const result = await promisify(execFile)(process.execPath, ['scripts/demo.mjs'], {
        cwd: ROOT,
        env: { ...process.env, DMABUF_BACKEND: 'emulated', DMABUF_EMULATION: '' },
        timeout: 60_000,
      });
      stdout = result.stdout;
      code = 0;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      stdout = `${e.stdout ?? ''}${e.stderr ?? ''}`;
      code = e.code ?? -1;
    }
  }, 90_000);

  it('exits 0 and says every case behaved as expected', () => {
    expect(stdout).toContain('✓ as expected');
    expect(code).toBe(0);
  });

  it('1. the correct case ran on the emulated backend and the device saw the update', () => {
    expect(stdout).toMatch(/1\. correct: .*backend: emulated, writeback model \(DMABUF_BACKEND=emulated\)/);
    expect(stdout).toContain('✓ device sees the update: square 100/100 green, 0 wrong pixels around it');
    expect(stdout).toMatch(/✓ the CPU's next bracket waited \d+ ms for the device's read fence/);
  });

  it('2. the wrong region is reported with its code, buffer and offset, and the device saw the stale half', () => {
    expect(stdout).toContain('2. wrong region: drew 10×10, declared 5×10');
    expect(stdout).toMatch(/✓ end\(\) threw ERR_DMABUF_WRITE_OUTSIDE_REGION at pixel \(800,595\)/);
    // byte offset of pixel (800,595): (595 × 1600 + 800) × 4
    expect(stdout).toContain(`byte ${(595 * 1600 + 800) * 4} of dma-buf 'frame-wrong-region'`);
    expect(stdout).toMatch(/✗ device sees 50 wrong pixels .*first at \(800,595\).*outside the declared 5×10 region/);
  });

  it('3. the missing end() shows stale pixels, is explained, and ending the bracket fixes it', () => {
    expect(stdout).toMatch(/✗ device sees 100 wrong pixels .*first at \(795,595\).*missing end\(\)/);
    expect(stdout).toContain('✓ after end(): device sees the update: square 100/100 green');
  });

  it('prints the region vs whole-buffer timing for bounce and writeback with the bytes synced', () => {
    for (const model of ['bounce', 'writeback']) {
      const row = stdout.split('\n').find((line) => line.trim().startsWith(model));
      expect(row, `timing row for ${model}`).toMatch(/µs|ms/);
      // readwrite syncs the region both ways: 2 × 10 rows × 40 bytes; the whole buffer 2 × 7,680,000 bytes.
      expect(row).toMatch(/\d+×\s+800 B\s+14\.6 MiB/);
    }
  });

  it('writes valid PNGs of the expected size that show what the device saw', () => {
    const correct = readPng('1-correct.png');
    expect(pixel(correct, SQUARE_CENTRE, SQUARE_CENTRE)).toEqual(GREEN);
    expect(pixel(correct, 10, 10)).toEqual(BACKGROUND);

    // Wrong region: the declared left half reached the device, the right half is stale.
    const wrong = readPng('2-wrong-region.png');
    expect(pixel(wrong, (15 + 2) * SCALE, SQUARE_CENTRE)).toEqual(GREEN);
    expect(pixel(wrong, (15 + 7) * SCALE, SQUARE_CENTRE)).toEqual(BACKGROUND);

    expect(pixel(readPng('3-missing-end.png'), SQUARE_CENTRE, SQUARE_CENTRE)).toEqual(BACKGROUND);
    expect(pixel(readPng('3-after-end.png'), SQUARE_CENTRE, SQUARE_CENTRE)).toEqual(GREEN);
  });
});

describe('demo (scripts/demo.mjs): prerequisites', () => {
  it('the package is built (dist/), as npm ci does: the demo runs on the built package', () => {
    expect(built, 'dist/ is missing: run npm run build').toBe(true);
  });
});
