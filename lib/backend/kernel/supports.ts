/** The kernel backend's manifest, plain and for a buffer in checked mode. */
import type { Supports } from '../backend.js';

export const SUPPORTS: Supports = Object.freeze({
  realFds: true,
  udmabufSegments: true,
  // The kernel cannot see CPU writes: only checked mode (a snapshot compared at END) finds them.
  detectsWriteInReadBracket: false,
  detectsWriteOutsideRegion: false,
  staleOutsideBracket: false,
  tiledLayout: false,
  devices: false,
  untransferableBytes: true,
  shareAcrossThreads: true,
});

/** A buffer in checked mode (DMABUF_CHECK=1 or `checked: true`) finds both bracket violations. */
export const CHECKED_SUPPORTS: Supports = Object.freeze({ ...SUPPORTS, detectsWriteInReadBracket: true, detectsWriteOutsideRegion: true });
