/**
 * The three cases of the demo. Each returns what the device saw (a crop) and what the checker
 * made of it; nothing here is printed, so the numbers in the output all come from the data.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DmaBuf, DmaBufError, DmaHeap, Udmabuf, emulation } from 'dmabuf';
import { VgemFenceSource } from 'dmabuf/testing';
import { check, cropOfAccess, cropOfFrame, drawSquare, paintBackground, rect, CROP, SIZE, SQUARE, STRIDE } from './frame.mjs';

/** How long the stand-in device takes to read the frame after the hand-off. */
export const DEVICE_MS = 40;
const TIMEOUT_MS = 5000;

/** A buffer from the backend `auto` (or DMABUF_BACKEND) selects: the system heap, else udmabuf. */
function allocate(name) {
  try {
    const heap = DmaHeap.open();
    try {
      return heap.allocate(SIZE, { name });
    } finally {
      heap.close();
    }
  } catch (heapError) {
    if (!(heapError instanceof DmaBufError) || !existsSync('/dev/udmabuf')) throw heapError;
    return Udmabuf.create(SIZE, { name });
  }
}

function backendLabel(buf) {
  const choice = process.env.DMABUF_BACKEND || 'auto';
  if (buf.backend === 'kernel') return `kernel (${buf.exporter === 'udmabuf' ? '/dev/udmabuf' : `/dev/dma_heap/${buf.exporter}`}, ${choice})`;
  let why = 'DMABUF_BACKEND=emulated';
  if (choice === 'auto') {
    why = existsSync('/dev/dma_heap') || existsSync('/dev/udmabuf') ? 'auto: the native addon did not load' : 'auto: no /dev/dma_heap or /dev/udmabuf here';
  }
  return `emulated, ${emulation.default().coherency} model (${why})`;
}

/**
 * Kernel hand-off: a vgem read fence stands in for the device's job. The "device" reads the
 * pixels through a second holder of the same dma-buf, then signals its fence; the CPU's next
 * bracket must wait for that fence (a write waits for every reader).
 */
async function kernelHandOff(buf) {
  let vgem;
  let note = '';
  try {
    vgem = VgemFenceSource.open();
  } catch (error) {
    note = `no vgem (${error.code ?? error.message}): hand-off without a fence`;
  }
  const fence = vgem?.attachFence(buf, 'read');
  const device = DmaBuf.fromFd(buf.fd);
  const deviceDone = new Promise((resolve, reject) => {
    setTimeout(() => {
      try {
        const seen = device.withCpuAccess('read', rect(CROP), cropOfAccess);
        device.close();
        if (fence) vgem.signal(fence);
        resolve(seen);
      } catch (error) {
        reject(error);
      }
    }, DEVICE_MS);
  });
  const t0 = performance.now();
  const next = await buf.cpuAccess('readwrite', rect(SQUARE), { timeoutMs: TIMEOUT_MS });
  const waitedMs = performance.now() - t0;
  next.end();
  const seen = await deviceDone;
  vgem?.close();
  return { seen, waitedMs: fence ? waitedMs : undefined, device: fence ? 'vgem, signalled after the device read' : 'second holder', note };
}

/** Emulated hand-off: an emulated display device reads the frame as a job with a read fence. */
async function emulatedHandOff(buf) {
  let seen;
  const job = emulation
    .default()
    .device('display')
    .submit({ reads: [buf], durationMs: DEVICE_MS, run: (j) => (seen = cropOfFrame(j.bytes(buf))) });
  const t0 = performance.now();
  const next = await buf.cpuAccess('readwrite', rect(SQUARE), { timeoutMs: TIMEOUT_MS });
  const waitedMs = performance.now() - t0;
  next.end();
  await job.wait({ timeoutMs: TIMEOUT_MS });
  job.close();
  return { seen, waitedMs, device: 'emulated display job', note: '' };
}

/** 1. The correct update: a 'write' bracket over exactly the 10×10 square, ended, then the hand-off. */
export async function correctCase() {
  const buf = allocate('frame-correct');
  try {
    const backend = backendLabel(buf);
    paintBackground(buf);
    buf.withCpuAccess('write', rect(SQUARE), (access) => drawSquare(access.bytes, 0, STRIDE));
    const handOff = buf.backend === 'kernel' ? await kernelHandOff(buf) : await emulatedHandOff(buf);
    const result = check(handOff.seen);
    const fenceHeld = handOff.waitedMs === undefined || handOff.waitedMs >= DEVICE_MS / 2;
    return { backend, ...handOff, result, ok: result.wrong === 0 && fenceHeld };
  } finally {
    buf.close();
  }
}

/** What an emulated device sees of `buf` now. */
async function deviceView(emu, buf) {
  let seen;
  const job = emu.device('display').submit({ reads: [buf], run: (j) => (seen = cropOfFrame(j.bytes(buf))) });
  await job.wait({ timeoutMs: TIMEOUT_MS });
  job.close();
  return seen;
}

/**
 * 2. The wrong region: the code draws 10×10 pixels but the bracket declares only the left 5×10.
 * end() cleans only the declared rows, and reports the write outside them.
 */
export async function wrongRegionCase(emu) {
  const declared = { ...SQUARE, width: SQUARE.width / 2 };
  const buf = emu.heap().allocate(SIZE, { name: 'frame-wrong-region' });
  try {
    paintBackground(buf);
    const access = buf.beginCpuAccess('write', rect(declared));
    drawSquare(access.bytes, 0, STRIDE);
    let error;
    try {
      access.end();
    } catch (e) {
      error = e;
    }
    const seen = await deviceView(emu, buf);
    const result = check(seen, { declared });
    const detected = error instanceof DmaBufError && error.code === 'ERR_DMABUF_WRITE_OUTSIDE_REGION' && error.bufferName === buf.name;
    const ok = detected && result.wrong > 0 && result.outsideDeclared === result.wrong;
    return { declared, error, seen, result, ok };
  } finally {
    buf.close();
  }
}

/**
 * 3. The missing END: the square is drawn in a 'write' bracket that is still open at the hand-off.
 * The device sees the previous frame; then the bracket is ended properly and the device looks again.
 */
export async function missingEndCase(emu) {
  const buf = emu.heap().allocate(SIZE, { name: 'frame-missing-end' });
  try {
    paintBackground(buf);
    const access = buf.beginCpuAccess('write', rect(SQUARE));
    drawSquare(access.bytes, 0, STRIDE);
    const seen = await deviceView(emu, buf); // the hand-off, bracket still open
    const result = check(seen, { bracketOpen: !access.ended });
    access.end(); // the fix
    const seenAfter = await deviceView(emu, buf);
    const after = check(seenAfter);
    const ok = result.wrong > 0 && after.wrong === 0;
    return { seen, result, seenAfter, after, ok };
  } finally {
    buf.close();
  }
}
