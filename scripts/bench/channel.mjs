/**
 * P8: an FdChannel message of 64 bytes and 3 fds (memfds), send + receive + closing what arrived,
 * against a C program doing the same sendmsg/recvmsg pair over a SOCK_SEQPACKET socketpair. Any
 * Linux machine with the addon: sockets and memfds need no dma-buf device.
 */
import { FdChannel, Memfd } from 'dmabuf';
import { paired, runC } from './measure.mjs';

async function timeRoundTrips(a, b, fds, n) {
  const data = new Uint8Array(64);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await a.send(data, fds);
    const message = await b.receive();
    for (const h of message.handles) h.close();
  }
  return ((performance.now() - t0) * 1e6) / n;
}

/**
 * The same round trips through the raw addon: sendmsg, recvmsg (which owns each fd, with its
 * fstat, and types it) and the three closes (each checking the fd still names its file): the
 * syscalls and guarantees without the channel's JavaScript.
 */
async function timeRawRoundTrips(addon, a, b, fds, n) {
  const data = new Uint8Array(64);
  const into = new Uint8Array(64 * 1024);
  const meta = new Int32Array(2 + 2 * 253);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    addon.sendMsg(a, data, fds);
    addon.recvMsg(b, into, meta);
    for (let k = 0; k < meta[1]; k++) addon.close(meta[2 + k]);
  }
  return ((performance.now() - t0) * 1e6) / n;
}

export async function p8Channel({ rounds, targetMs, bin }) {
  const [a, b] = FdChannel.pair();
  const fds = [Memfd.create(4096), Memfd.create(4096), Memfd.create(4096)];
  const { loadAddon } = await import(new URL('native/load.js', import.meta.resolve('dmabuf')).href);
  const addon = loadAddon().addon;
  const [ra, rb] = addon.socketPair();
  const rawFds = fds.map((m) => m.fd);
  // Warm up first, as rounder() does for the synchronous figures (50 rounds' worth of time): under
  // the VM's software CPU the first seconds run several times slower, and a P8 measured before
  // the JIT settled read 40× there.
  const warmUntil = performance.now() + 50 * targetMs;
  while (performance.now() < warmUntil) {
    await timeRoundTrips(a, b, fds, 64);
    await timeRawRoundTrips(addon, ra, rb, rawFds, 64);
  }
  // Calibrate: about targetMs of round trips per round.
  let n = 16;
  while (((await timeRoundTrips(a, b, fds, n)) * n) / 1e6 < targetMs / 4 && n < 1e6) n *= 4;
  const perOp = await timeRoundTrips(a, b, fds, n);
  n = Math.max(16, Math.round((targetMs * 1e6) / perOp));
  const result = await paired({
    rounds,
    subject: () => timeRoundTrips(a, b, fds, n),
    baseline: () => runC(bin.channel, [n]).nsPerOp,
  });
  const vsRaw = await paired({
    rounds,
    subject: () => timeRoundTrips(a, b, fds, n),
    baseline: () => timeRawRoundTrips(addon, ra, rb, rawFds, n),
  });
  const vsRawC = await paired({
    rounds,
    subject: () => timeRawRoundTrips(addon, ra, rb, rawFds, n),
    baseline: () => runC(bin.channel, [n]).nsPerOp,
  });
  addon.close(ra);
  addon.close(rb);
  for (const m of fds) m.close();
  a.close();
  b.close();
  const reported = [
    {
      id: 'P8',
      title: 'fd passing: FdChannel round trip vs the raw addon making the same calls',
      subject: 'FdChannel#send + #receive, handles closed',
      baseline: 'raw addon: sendMsg + recvMsg (fds owned and typed) + close ×3 (each checking its file)',
      ...vsRaw,
      kind: 'ratio',
    },
    {
      id: 'P8',
      title: 'fd passing: the raw addon vs C sendmsg/recvmsg',
      subject: 'raw addon: sendMsg + recvMsg + close ×3',
      baseline: 'C: sendmsg + recvmsg (SCM_RIGHTS, MSG_CMSG_CLOEXEC) + close ×3',
      ...vsRawC,
      kind: 'ratio',
    },
  ];
  return [
    {
      id: 'P8',
      title: 'fd passing: FdChannel send+receive of 64 bytes + 3 fds vs C sendmsg/recvmsg',
      subject: 'FdChannel#send + #receive, handles closed',
      baseline: 'C: sendmsg + recvmsg (SCM_RIGHTS, MSG_CMSG_CLOEXEC) + close ×3',
      ...result,
      kind: 'ratio',
      goal: { op: '<=', value: 2 },
    },
    ...reported,
  ];
}
