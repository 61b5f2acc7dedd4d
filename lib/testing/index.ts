/** dmabuf/testing: helpers for tests of code that uses dmabuf, on a real kernel. */
export { VgemFenceSource, type VgemFence } from './vgem.js';
export { VividCamera, VIVID_PATTERNS, type VividCapture, type VividFormat, type VividPattern } from './vivid.js';
export { VividLoop } from './vivid-loop.js';
export { DrmScanout } from './drm-scanout.js';
