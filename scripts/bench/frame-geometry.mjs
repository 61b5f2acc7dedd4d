// The frames of the pipeline benchmarks, P11 (pipeline.mjs) and P10 (gst-pipeline.mjs): a pool of
// NV12 1920×1080 frames, and the 64×64 luma square each frame's reader checks, near the middle of
// the picture and 64-byte aligned, as a codec's block would be.
export const WIDTH = 1920;
export const HEIGHT = 1080;
/** Frames in the producer's FramePool. */
export const COUNT = 4;
export const SIDE = 64;
export const X = 896;
export const Y = 512;
