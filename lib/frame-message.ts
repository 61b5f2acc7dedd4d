/**
 * A frame on an FdChannel: one message whose payload is JSON (the description, each plane naming
 * its buffer by index into the message's fds, the metadata, the sender's `extra`, and the loan
 * number when the frame is lent) and whose fds are the frame's distinct buffers. A receiver that
 * is done with a lent frame answers with a release message naming the loan, so the producer's
 * pool can reuse it. Both are plain JSON so a peer in any language can speak it:
 *
 *   frame:   {"type":"dmabuf.frame","width":…,"height":…,"format":<fourcc>,"modifier":"<decimal>",
 *             "planes":[{"buffer":0,"offset":…,"stride":…,"size":…}],"colorSpace":…,
 *             "visibleRect":…,"timestamp":…,"loan":7,"extra":…}            + one fd per buffer
 *   release: {"type":"dmabuf.frame-release","loan":7}                       (no fds)
 */
import { DmaBufError, invalidArgument } from './common/errors.js';
import type { FrameMetadata } from './frame-metadata.js';
import { checkInteger } from './validate.js';

/** The `type` of a frame message (FdChannel#sendFrame). */
export const FRAME_MESSAGE = 'dmabuf.frame';
/** The `type` of the answer that ends a loan. */
export const FRAME_RELEASE_MESSAGE = 'dmabuf.frame-release';

export interface EncodedPlane {
  buffer: number;
  offset: number;
  stride: number;
  size: number;
}

export interface FrameMessageBody extends FrameMetadata {
  width: number;
  height: number;
  format: number;
  modifier: bigint;
  planes: EncodedPlane[];
}

export function encodeFrameMessage(body: FrameMessageBody, extra: unknown, loan: number | undefined): string {
  return JSON.stringify({
    type: FRAME_MESSAGE,
    ...body,
    modifier: body.modifier.toString(),
    ...(loan === undefined ? {} : { loan }),
    extra,
  });
}

/**
 * The parts of a frame message, numbers not yet checked (Frame.fromPlanes checks them all);
 * buffer indexes are checked against the fds that came.
 */
export function decodeFrameMessage(
  text: string,
  bufferCount: number,
): { body: Record<string, unknown>; planes: EncodedPlane[]; extra: unknown; loan: number | undefined } {
  const syscall = 'Frame.fromMessage';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DmaBufError('EINVAL', 'the message is not a frame message (not JSON)', { syscall, argument: 'message', cause: error });
  }
  const m = parsed as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || m['type'] !== FRAME_MESSAGE || !Array.isArray(m['planes'])) {
    throw invalidArgument(syscall, 'message', `is not a frame message (type '${FRAME_MESSAGE}' with planes)`);
  }
  const planes = (m['planes'] as unknown[]).map((p, i) => {
    if (typeof p !== 'object' || p === null) throw invalidArgument(syscall, `planes[${i}]`, 'is not an object');
    const plane = p as Record<string, unknown>;
    const buffer = checkInteger(syscall, `planes[${i}].buffer`, plane['buffer'], 0, bufferCount - 1);
    return { buffer, offset: plane['offset'] as number, stride: plane['stride'] as number, size: plane['size'] as number };
  });
  const loan = m['loan'] === undefined ? undefined : checkInteger(syscall, 'loan', m['loan'], 1);
  // Only the keys a frame has: a newer peer's additions are not options fromPlanes would refuse.
  const body: Record<string, unknown> = {};
  for (const key of ['width', 'height', 'format', 'modifier', 'colorSpace', 'visibleRect', 'timestamp']) if (m[key] !== undefined) body[key] = m[key];
  return { body, planes, extra: m['extra'], loan };
}

export function encodeRelease(loan: number): string {
  return JSON.stringify({ type: FRAME_RELEASE_MESSAGE, loan });
}

const UTF8 = new TextDecoder();

/**
 * The loan a release message ends, or undefined for any other message. A release is short JSON
 * without fds; its keys may come in any order (a peer in another language writes its own JSON).
 */
export function decodeRelease(data: Uint8Array, fdCount: number): number | undefined {
  if (fdCount !== 0 || data.length > 256 || data[0] !== 0x7b /* '{' */) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(UTF8.decode(data));
  } catch {
    return undefined;
  }
  const { type, loan } = m as { type?: unknown; loan?: unknown };
  return type === FRAME_RELEASE_MESSAGE && Number.isSafeInteger(loan) && (loan as number) > 0 ? (loan as number) : undefined;
}
