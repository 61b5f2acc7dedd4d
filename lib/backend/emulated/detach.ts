/** Detaching a bracket's ArrayBuffer at END, so that no view of it reaches memory afterwards. */

type Transferable = ArrayBuffer & { transfer?: () => ArrayBuffer };

/**
 * Detach `buffer` and every view over it; the returned ArrayBuffer owns the same bytes.
 * ArrayBuffer.prototype.transfer (Node 22+) where it exists, else structuredClone with transfer
 * (a few µs); neither copies.
 */
export function detach(buffer: ArrayBuffer): ArrayBuffer {
  const transferable = buffer as Transferable;
  if (typeof transferable.transfer === 'function') return transferable.transfer();
  return structuredClone(buffer, { transfer: [buffer] });
}
