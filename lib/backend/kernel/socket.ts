/**
 * The socket calls FdChannel makes (lib/fd-channel.ts holds the policy: framing, backpressure,
 * typing of received fds, closing). The addon does each call as one syscall: sockets are made
 * without O_NONBLOCK (a peer process that inherits an end keeps the blocking mode it expects) and
 * every send and receive passes MSG_DONTWAIT instead; waits are PollWaiters on the loop.
 */
import type { NativeAddon } from '../../native/addon.js';
import { requireAddon } from '../../native/load.js';
import { fdKind, type FdKind } from './fd-kind.js';

export type SocketOps = Pick<
  NativeAddon,
  | 'socketPair'
  | 'socketConnect'
  | 'socketListen'
  | 'socketAccept'
  | 'sendMsg'
  | 'recvMsg'
  | 'peerCredentials'
  | 'poll'
  | 'PollWaiter'
  | 'constants'
  | 'fstat'
  | 'fdKind'
  | 'dup'
  | 'adopt'
  | 'disown'
  | 'close'
  | 'unlinkPath'
>;

/** The socket calls, loading the addon (ERR_DMABUF_BACKEND_UNAVAILABLE where it cannot load). */
export function socketOps(): SocketOps {
  return requireAddon();
}

/** One message as recvmsg gave it: `length` is the whole message's (more than data.length when cut). */
export interface ReceivedMessage {
  data: Uint8Array;
  length: number;
  /** The fds that came, owned by the env until wrapped or closed; `kinds[i]` is fdKind()'s answer for `fds[i]` or -errno. */
  fds: number[];
  kinds: number[];
  /** MSG_TRUNC / MSG_CTRUNC. */
  flags: number;
}

/** Payloads up to this size are read into one buffer reused by every receive (then copied out). */
const SCRATCH_BYTES = 64 * 1024;
const MAX_FDS = 253;
let scratch: Uint8Array | undefined;
const META = new Int32Array(2 + 2 * MAX_FDS);
const metaByRoom = new Map<number, Int32Array>();

/**
 * recvmsg with MSG_DONTWAIT of at most `maxBytes` bytes and `maxFds` fds (at most 253); undefined
 * when nothing is queued. The addon writes into buffers reused from call to call (see recvMsg in
 * native/socket.cc); what this returns is the caller's own.
 */
export function receiveMessage(addon: Pick<SocketOps, 'recvMsg'>, fd: number, maxBytes: number, maxFds: number, stream = false): ReceivedMessage | undefined {
  let data: Uint8Array;
  if (maxBytes > SCRATCH_BYTES) data = new Uint8Array(maxBytes);
  else {
    scratch ??= new Uint8Array(SCRATCH_BYTES);
    data = maxBytes === SCRATCH_BYTES ? scratch : scratch.subarray(0, maxBytes);
  }
  let meta = metaByRoom.get(maxFds);
  if (meta === undefined) {
    meta = META.subarray(0, 2 + 2 * maxFds);
    metaByRoom.set(maxFds, meta);
  }
  const length = addon.recvMsg(fd, data, meta, stream);
  if (length < 0) return undefined;
  const count = meta[1] as number;
  const fds = Array.from(meta.subarray(2, 2 + count));
  const kinds = Array.from(meta.subarray(2 + count, 2 + 2 * count));
  return { data: data.slice(0, Math.min(length, maxBytes)), length, fds, kinds, flags: meta[0] as number };
}

/** What a received fd is (fd-kind.ts); `known` is recvMsg's answer for it, where there is one. */
export function receivedKind(fd: number, known?: number): FdKind {
  return fdKind(requireAddon(), fd, known);
}
