/**
 * Device jobs loading and storing a buffer's memory. Without a zero-copy bracket open that is
 * the model's own reading and writing; with one open, the CPU's view is the memory itself, so a
 * store must leave the bracket's rows as the CPU has them and set the device's aside, to be mixed
 * word by word at END as on the copying path.
 */
import { copyGaps, copyRegionRows } from '../../common/rows.js';
import type { BufferState } from './buffer-state.js';
import type { MemoryModel } from './models.js';

/**
 * A device job stores `from` (the whole buffer, linear) in the buffer. A zero-copy 'read'
 * bracket's snapshot follows the device (the device may write; the CPU may not); a writing
 * bracket keeps its rows, and the device's go aside.
 */
export function storeDeviceWrite(model: MemoryModel, state: BufferState, from: Uint8Array): void {
  const open = state.zeroCopy;
  if (!open) {
    model.writeDevice(state.memory, from);
    return;
  }
  const { region } = open;
  const base = region.start;
  const span = region.spanLength;
  if (open.mode === 'read') {
    model.writeDevice(state.memory, from);
    open.reference?.set(state.memory.cpu.subarray(base, base + span));
    return;
  }
  const cpu = state.memory.cpu.slice(base, base + span);
  open.raceRows ??= new Uint8Array(span);
  copyRegionRows(region, from, base, open.raceRows, 0);
  model.writeDevice(state.memory, from);
  const memory = state.memory.cpu;
  copyRegionRows(region, cpu, 0, memory, base);
  if (open.reference) copyGaps(memory.subarray(base, base + span), open.reference, region);
}

/** A device reads the whole buffer linearly into `into`: a racing device's rows are its own. */
export function loadDeviceRead(model: MemoryModel, state: BufferState, into: Uint8Array): void {
  model.readDevice(state.memory, 0, into);
  const raceRows = state.zeroCopy?.raceRows;
  if (raceRows) copyRegionRows(state.zeroCopy!.region, raceRows, 0, into, state.zeroCopy!.region.start);
}
