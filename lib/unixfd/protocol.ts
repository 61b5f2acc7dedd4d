/**
 * GStreamer's unixfd protocol (unixfdsink / unixfdsrc, gst-plugins-bad gst/unixfd/, since 1.24):
 * the wire format, as read in GStreamer's own sources at tag 1.26.2 (the version Debian 13 ships)
 * and checked against HEAD (2026-08) where they differ. Facts, with where each was read:
 *
 * Socket (gstunixfd.c, gst_unix_fd_socket_new): AF_UNIX, G_SOCKET_TYPE_STREAM, the address a
 * GUnixSocketAddress of type path (default), abstract or abstract-padded (`socket-type`). The sink
 * binds and listens (gstunixfdsink.c, gst_unix_fd_sink_start) and serves any number of clients
 * from its own thread; a src connects (gstunixfdsrc.c, gst_unix_fd_src_start).
 *
 * Message (gstunixfd.c, Command and gst_unix_fd_send_command): an 8-byte header `{ u32 type, u32
 * payload_size }` in the host's byte order (a C struct written as is; G_STATIC_ASSERT sizeof == 8),
 * then payload_size bytes. The fds travel as one SCM_RIGHTS control message on the sendmsg that
 * carries the header (1.26.2 sends header and payload in that one sendmsg; HEAD sends the payload
 * after it with plain sends). The reader (gst_unix_fd_receive_command) recvmsg's exactly the 8
 * header bytes, taking the fds from that call (more than one SCM_RIGHTS message is an error), then
 * reads exactly payload_size bytes: 1.26.2 with ONE g_socket_receive that must return them all, so
 * a writer must not split a message (we send each whole, in one sendmsg); HEAD loops.
 *
 * Types (gstunixfd.h, CommandType): NEW_BUFFER 0 (sink → src), RELEASE_BUFFER 1 (src → sink),
 * CAPS 2 (sink → src), EOS 3 (sink → src). Unknown types are ignored by both sides ("Protocol could
 * have been extended"); a known type in the wrong direction drops the client (sink:
 * incoming_command_cb) or fails the pipeline (src: gst_unix_fd_src_create).
 *
 * CAPS (gstunixfdsink.c, caps_to_payload; gstunixfd.c, gst_unix_fd_parse_caps): gst_caps_to_string
 * plus its NUL; the last byte must be NUL. The sink sends its current caps first to every new
 * client (new_client_cb, under the lock, so no buffer comes before them) and on every caps event
 * to all (gst_unix_fd_sink_event).
 *
 * EOS: empty payload, sent to all clients on the EOS event; the src ends its stream (GST_FLOW_EOS).
 *
 * NEW_BUFFER (gstunixfd.h, NewBufferPayload, sizeof 56; gstunixfdsink.c, gst_unix_fd_sink_render),
 * host byte order:
 *   0  u64 id          opaque (the sink's GstBuffer pointer); the src sends it back to release
 *   8  u64 pts         GstClockTime ns, GST_CLOCK_TIME_NONE = 2^64-1. Converted by to_monotonic()
 *  16  u64 dts         to absolute CLOCK_MONOTONIC time (running time + base time + latency, then
 *                      moved to the system monotonic clock if the pipeline's clock is another);
 *                      the src subtracts its base time (from_monotonic). So on the wire a
 *                      timestamp is CLOCK_MONOTONIC ns: what process.hrtime.bigint() reads.
 *  24  u64 duration    ns, NONE = 2^64-1
 *  32  u64 offset      GST_BUFFER_OFFSET (frame number for video; NONE = 2^64-1)
 *  40  u64 offset_end
 *  48  u32 flags       GstBufferFlags
 *  52  u8  type        memory type (gstunixfd.h, MemoryType): 0 DEFAULT (fds the src wraps with
 *                      gst_fd_allocator: the sink copies non-fd memory into a memfd named
 *                      "gst-shm", copy_to_shm), 1 DMABUF (every memory is a GstDmaBufMemory; some
 *                      but not all is an error); >= 2 the src refuses
 *  53  u8  n_memory    number of memories, and of fds: the src refuses a count that differs
 *  54  u16 n_meta      serialized metas that follow the memory table
 *  56  n_memory × { u64 size, u64 offset }  (MemoryPayload, 16 bytes): memory i is the fd's bytes
 *                      [offset, offset + size) (gst_fd_allocator_alloc(fd, offset + size) then
 *                      resized to offset/size in 1.26.2; gst_fd_allocator_alloc_full in HEAD)
 *  then n_meta metas (gstunixfdsink.c, serialize_metas: each meta whose info can serialize).
 * The src checks only payload_size >= 56 + 16 × n_memory (gst_unix_fd_parse_new_buffer).
 * A buffer with no memory is released by the src at once.
 *
 * A serialized meta (gstreamer gst/gstmeta.c, gst_meta_serialize / gst_meta_deserialize), little
 * endian: u32 total_size (header included), u32 name_len, the meta implementation's type name
 * with its NUL, u8 version, then the payload. A reader skips total_size whatever the name; a name
 * the process has not registered is skipped with a warning (1.26.2), so a meta is advice, never
 * needed to parse the rest. total_size < 8 + name_len + 2 or beyond the payload is malformed (the
 * src fails: "Malformed meta serialization").
 *
 * GstVideoMeta (gst-plugins-base gst-libs/gst/video/gstvideometa.c, video_meta_serialize;
 * registered as "GstVideoMeta", version 0), little endian, 36 + 16 × n_planes bytes:
 *   i32 flags, i32 format (GstVideoFormat: video-format.h's enum order), u32 width, u32 height,
 *   u32 n_planes (<= 4), n_planes × u64 offset, n_planes × i32 stride, u32 padding_top,
 *   padding_bottom, padding_left, padding_right, n_planes × u32 stride_align.
 * Offsets are into the buffer as a whole: the memories one after the other
 * (gst_video_meta_map finds the memory holding a plane with gst_buffer_find_memory).
 *
 * RELEASE_BUFFER (gstunixfd.h, ReleaseBufferPayload): u64 id. The src sends it when the last
 * memory of a buffer is freed (gstunixfdsrc.c, memory_weak_ref_cb); the sink then drops that
 * client's reference (a hash table per client); an unknown id or a short payload drops the client.
 * Every client holds each buffer sent to it until it releases it or disconnects: the sink's
 * upstream pool waits for all of them.
 *
 * Formats (gst-plugins-base video-info-dma.c, dma_drm_format_map): GStreamer names the byte
 * order in memory, DRM names a little-endian word, so BGRx = XRGB8888, RGBx = XBGR8888, BGRA =
 * ARGB8888, RGBA = ABGR8888, GRAY8 = R8, RGB16 = RGB565, I420 = YUV420, YUY2 = YUYV, NV12, NV21,
 * NV16, P010_10LE = P010. Plain `video/x-raw, format=NV12` describes linear rows; a modifier goes in
 * `video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=NV12:0x<modifier>` (DMA_DRM caps).
 * Default layouts without a GstVideoMeta (video-info.c, fill_planes): strides rounded up to 4,
 * NV12's chroma after stride × GST_ROUND_UP_2(height).
 */
import { DmaBufError, MisuseCode } from '../common/errors.js';
import { DRM_FORMATS, type DrmFormat, planeGeometry } from '../drm-format.js';

export const NEW_BUFFER = 0;
export const RELEASE_BUFFER = 1;
export const CAPS = 2;
export const EOS = 3;

export const MEMORY_DEFAULT = 0;
export const MEMORY_DMABUF = 1;

export const HEADER_BYTES = 8;
export const NEW_BUFFER_BYTES = 56;
export const MEMORY_BYTES = 16;
/** GST_CLOCK_TIME_NONE and GST_BUFFER_OFFSET_NONE. */
export const NONE = 0xffff_ffff_ffff_ffffn;
/** The largest payload we accept from a peer: caps strings and buffer headers are far smaller. */
export const MAX_PAYLOAD_BYTES = 1 << 20;
const VIDEO_META = 'GstVideoMeta';
const MAX_PLANES = 4;

/** The byte order of the header and the buffer table: the host's (every arch Node runs on here is little-endian). */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function protocolError(message: string): DmaBufError {
  return new DmaBufError(MisuseCode.PROTOCOL, `unixfd: ${message}`, { syscall: 'recvmsg' });
}

export function encodeMessage(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, HOST_LE);
  v.setUint32(4, payload.length, HOST_LE);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function decodeHeader(bytes: Uint8Array): { type: number; size: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return { type: v.getUint32(0, HOST_LE), size: v.getUint32(4, HOST_LE) };
}

export function encodeCaps(caps: string): Uint8Array {
  return encodeMessage(CAPS, new TextEncoder().encode(`${caps}\0`));
}

export function decodeCaps(payload: Uint8Array): string {
  if (payload.length === 0 || payload[payload.length - 1] !== 0) throw protocolError('a CAPS message is not NUL-terminated');
  return new TextDecoder().decode(payload.subarray(0, payload.length - 1));
}

export function encodeRelease(id: bigint): Uint8Array {
  const p = new Uint8Array(8);
  new DataView(p.buffer).setBigUint64(0, id, HOST_LE);
  return encodeMessage(RELEASE_BUFFER, p);
}

export function decodeRelease(payload: Uint8Array): bigint {
  if (payload.length < 8) throw protocolError(`a RELEASE_BUFFER payload of ${payload.length} bytes (8 expected)`);
  return new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, HOST_LE);
}

export interface VideoMeta {
  flags: number;
  format: number;
  width: number;
  height: number;
  offsets: number[];
  strides: number[];
}

export interface NewBuffer {
  id: bigint;
  pts: bigint;
  dts: bigint;
  duration: bigint;
  offset: bigint;
  offsetEnd: bigint;
  flags: number;
  memoryType: number;
  memories: { size: number; offset: number }[];
  videoMeta: VideoMeta | undefined;
}

function encodeVideoMeta(m: VideoMeta): Uint8Array {
  const name = new TextEncoder().encode(VIDEO_META);
  const n = m.offsets.length;
  const header = 8 + name.length + 2;
  const body = 36 + 16 * n;
  const out = new Uint8Array(header + body);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint32(4, name.length, true);
  out.set(name, 8);
  out[header - 1] = 0; // version
  let o = header;
  v.setInt32(o, m.flags, true);
  v.setInt32(o + 4, m.format, true);
  v.setUint32(o + 8, m.width, true);
  v.setUint32(o + 12, m.height, true);
  v.setUint32(o + 16, n, true);
  o += 20;
  for (const off of m.offsets) {
    v.setBigUint64(o, BigInt(off), true);
    o += 8;
  }
  for (const stride of m.strides) {
    v.setInt32(o, stride, true);
    o += 4;
  }
  o += 16; // alignment padding top/bottom/left/right: 0
  o += 4 * n; // stride_align: 0
  return out;
}

export function encodeNewBuffer(b: NewBuffer): Uint8Array {
  const meta = b.videoMeta ? encodeVideoMeta(b.videoMeta) : new Uint8Array(0);
  const payload = new Uint8Array(NEW_BUFFER_BYTES + MEMORY_BYTES * b.memories.length + meta.length);
  const v = new DataView(payload.buffer);
  v.setBigUint64(0, b.id, HOST_LE);
  v.setBigUint64(8, b.pts, HOST_LE);
  v.setBigUint64(16, b.dts, HOST_LE);
  v.setBigUint64(24, b.duration, HOST_LE);
  v.setBigUint64(32, b.offset, HOST_LE);
  v.setBigUint64(40, b.offsetEnd, HOST_LE);
  v.setUint32(48, b.flags, HOST_LE);
  v.setUint8(52, b.memoryType);
  v.setUint8(53, b.memories.length);
  v.setUint16(54, b.videoMeta ? 1 : 0, HOST_LE);
  b.memories.forEach((m, i) => {
    v.setBigUint64(NEW_BUFFER_BYTES + MEMORY_BYTES * i, BigInt(m.size), HOST_LE);
    v.setBigUint64(NEW_BUFFER_BYTES + MEMORY_BYTES * i + 8, BigInt(m.offset), HOST_LE);
  });
  payload.set(meta, NEW_BUFFER_BYTES + MEMORY_BYTES * b.memories.length);
  return encodeMessage(NEW_BUFFER, payload);
}

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw protocolError(`${what} ${value} is out of range`);
  return Number(value);
}

/** A NEW_BUFFER payload, checked the way unixfdsrc checks it, and tighter where a lie would reach memory. */
export function decodeNewBuffer(p: Uint8Array, fdCount: number): NewBuffer {
  if (p.length < NEW_BUFFER_BYTES) throw protocolError(`a NEW_BUFFER payload of ${p.length} bytes (at least ${NEW_BUFFER_BYTES})`);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const nMemory = v.getUint8(53);
  const nMeta = v.getUint16(54, HOST_LE);
  const memoryType = v.getUint8(52);
  if (p.length < NEW_BUFFER_BYTES + MEMORY_BYTES * nMemory) {
    throw protocolError(`a NEW_BUFFER payload of ${p.length} bytes cannot hold its ${nMemory} memories`);
  }
  if (fdCount !== nMemory) throw protocolError(`a NEW_BUFFER with ${nMemory} memories came with ${fdCount} fds`);
  if (memoryType !== MEMORY_DEFAULT && memoryType !== MEMORY_DMABUF) throw protocolError(`unknown memory type ${memoryType}`);
  const memories: { size: number; offset: number }[] = [];
  for (let i = 0; i < nMemory; i++) {
    const size = safe(v.getBigUint64(NEW_BUFFER_BYTES + MEMORY_BYTES * i, HOST_LE), `memory ${i} size`);
    const offset = safe(v.getBigUint64(NEW_BUFFER_BYTES + MEMORY_BYTES * i + 8, HOST_LE), `memory ${i} offset`);
    memories.push({ size, offset });
  }
  let o = NEW_BUFFER_BYTES + MEMORY_BYTES * nMemory;
  let videoMeta: VideoMeta | undefined;
  for (let i = 0; i < nMeta; i++) {
    if (p.length - o < 8) throw protocolError('malformed meta serialization (short header)');
    const total = v.getUint32(o, true);
    const nameLen = v.getUint32(o + 4, true);
    const header = 8 + nameLen + 2;
    if (nameLen > p.length || total < header || total > p.length - o || p[o + 8 + nameLen] !== 0) {
      throw protocolError('malformed meta serialization');
    }
    const name = new TextDecoder().decode(p.subarray(o + 8, o + 8 + nameLen));
    const version = p[o + header - 1];
    if (name === VIDEO_META && version === 0) videoMeta = decodeVideoMeta(new DataView(p.buffer, p.byteOffset + o + header, total - header));
    o += total;
  }
  return {
    id: v.getBigUint64(0, HOST_LE),
    pts: v.getBigUint64(8, HOST_LE),
    dts: v.getBigUint64(16, HOST_LE),
    duration: v.getBigUint64(24, HOST_LE),
    offset: v.getBigUint64(32, HOST_LE),
    offsetEnd: v.getBigUint64(40, HOST_LE),
    flags: v.getUint32(48, HOST_LE),
    memoryType,
    memories,
    videoMeta,
  };
}

function decodeVideoMeta(v: DataView): VideoMeta {
  if (v.byteLength < 20) throw protocolError('a GstVideoMeta too short for its header');
  const n = v.getUint32(16, true);
  if (n > MAX_PLANES || v.byteLength < 36 + 16 * n) throw protocolError(`a GstVideoMeta of ${v.byteLength} bytes with ${n} planes`);
  const offsets: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(safe(v.getBigUint64(20 + 8 * i, true), `plane ${i} offset`));
  for (let i = 0; i < n; i++) strides.push(v.getInt32(20 + 8 * n + 4 * i, true));
  return { flags: v.getInt32(0, true), format: v.getInt32(4, true), width: v.getUint32(8, true), height: v.getUint32(12, true), offsets, strides };
}

/** GStreamer's format name, its GstVideoFormat number, and the DRM format it is (video-info-dma.c). */
const FORMATS: readonly { gst: string; number: number; drm: string }[] = [
  { gst: 'BGRx', number: 8, drm: 'XRGB8888' },
  { gst: 'BGRA', number: 12, drm: 'ARGB8888' },
  { gst: 'RGBx', number: 7, drm: 'XBGR8888' },
  { gst: 'RGBA', number: 11, drm: 'ABGR8888' },
  { gst: 'RGB16', number: 29, drm: 'RGB565' },
  { gst: 'GRAY8', number: 25, drm: 'R8' },
  { gst: 'NV12', number: 23, drm: 'NV12' },
  { gst: 'NV21', number: 24, drm: 'NV21' },
  { gst: 'NV16', number: 51, drm: 'NV16' },
  { gst: 'P010_10LE', number: 62, drm: 'P010' },
  { gst: 'YUY2', number: 4, drm: 'YUYV' },
  { gst: 'I420', number: 2, drm: 'YUV420' },
];

export function gstFormatOf(format: DrmFormat): { gst: string; number: number } | undefined {
  return FORMATS.find((f) => f.drm === format.name);
}

function drmOfGst(name: string): DrmFormat | undefined {
  const f = FORMATS.find((x) => x.gst === name);
  return f ? DRM_FORMATS[f.drm] : undefined;
}

/** The DRM fourcc as drm-format writes it ('NV12', 'XR24'). */
function drmFormatName(format: DrmFormat): string {
  return format.fourcc.trim();
}

/** Caps for a frame: plain video/x-raw for linear rows, DMA_DRM with drm-format otherwise. */
export function capsFor(frame: { width: number; height: number; format: DrmFormat; modifier: bigint }, framerate: string, drm: boolean): string {
  const size = `width=(int)${frame.width}, height=(int)${frame.height}, framerate=(fraction)${framerate}`;
  const gst = gstFormatOf(frame.format);
  if (!drm && gst) return `video/x-raw, format=(string)${gst.gst}, ${size}`;
  const modifier = frame.modifier === 0n ? '' : `:0x${frame.modifier.toString(16).padStart(16, '0')}`;
  return `video/x-raw(memory:DMABuf), format=(string)DMA_DRM, drm-format=(string)${drmFormatName(frame.format)}${modifier}, ${size}`;
}

export interface VideoCaps {
  format: DrmFormat;
  modifier: bigint;
  width: number;
  height: number;
}

function field(caps: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[,\\s])${name}=(?:\\([a-z]+\\))?("?)([^,;"]*)\\1`).exec(caps);
  return m?.[2]?.trim();
}

/** What a frame needs from caps, or undefined when they are not raw video in a format we know. */
export function parseVideoCaps(caps: string): VideoCaps | undefined {
  if (!caps.startsWith('video/x-raw')) return undefined;
  const width = Number(field(caps, 'width'));
  const height = Number(field(caps, 'height'));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) return undefined;
  const format = field(caps, 'format');
  if (format === 'DMA_DRM') {
    const drm = field(caps, 'drm-format');
    if (!drm) return undefined;
    const [fourcc = '', mod] = drm.split(':');
    const f = Object.values(DRM_FORMATS).find((x) => x.fourcc.trim() === fourcc);
    if (!f) return undefined;
    let modifier = 0n;
    try {
      if (mod) modifier = BigInt(mod);
    } catch {
      return undefined;
    }
    return { format: f, modifier, width, height };
  }
  const f = format ? drmOfGst(format) : undefined;
  return f ? { format: f, modifier: 0n, width, height } : undefined;
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** GStreamer's default plane layout for caps without a GstVideoMeta (video-info.c, fill_planes). */
export function defaultLayout(c: VideoCaps): { offsets: number[]; strides: number[] } {
  const offsets: number[] = [];
  const strides: number[] = [];
  let offset = 0;
  const planes = c.format.cpp.length;
  for (let i = 0; i < planes; i++) {
    const { rowBytes, rows } = planeGeometry(c.format, i, c.width, c.height);
    const stride = roundUp(rowBytes, 4);
    offsets.push(offset);
    strides.push(stride);
    // Subsampled planes start after the luma of a height rounded up to the subsampling.
    const lumaRows = i === 0 && planes > 1 ? roundUp(c.height, c.format.vsub) : rows;
    offset += stride * lumaRows;
  }
  return { offsets, strides };
}
