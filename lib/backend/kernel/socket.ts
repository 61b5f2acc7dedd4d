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

/** What a received fd is (fd-kind.ts): the one place received fds are classified. */
export function receivedKind(fd: number): FdKind {
  return fdKind(requireAddon(), fd);
}
