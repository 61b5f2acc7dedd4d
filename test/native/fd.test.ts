import { describe, expect, it } from 'vitest';
import { readdirSync, readSync, writeSync } from 'node:fs';
import { DmaBufError } from '../../lib/common/errors.js';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { closedAfterEach } from '../helpers/tracked-fds.js';
import { fdSnapshot, fdsMadeSince, fdTarget } from '../helpers/proc.js';
import { makeFifoPath } from '../helpers/fifo.js';
import { expectErrno } from '../helpers/errors.js';

describe.runIf(isLinux)('native fd operations (Linux only: the addon builds only there)', () => {
  const track = closedAfterEach();

  it('open adds O_CLOEXEC; close releases the fd; close twice reports EBADF', () => {
    const a = addon();
    const fd = a.open('/dev/null', a.constants.O_RDONLY);
    expect(fdTarget(fd)).toBe('/dev/null');
    expect(a.testHooks.getFdFlags(fd) & a.constants.FD_CLOEXEC).toBe(a.constants.FD_CLOEXEC);
    a.close(fd);
    expect(fdTarget(fd)).toBeUndefined();
    const error = expectErrno(() => a.close(fd), 'EBADF', 'close');
    expect(error).toBeInstanceOf(DmaBufError);
    expect(error.errno).toBe(9);
    expect(error.message).toBe('close failed: Bad file descriptor');
  });

  it('fdKind: memfds, sockets and anonymous inodes other than sync_file are "other", asked twice (the second answer from the per-filesystem cache); a closed fd is EBADF', () => {
    const a = addon();
    const memfd = track(a.memfdCreate('kind', 0));
    const [s1, s2] = a.socketPair();
    track(s1);
    track(s2);
    // libuv's own epoll and eventfd fds: anonymous inodes, like a sync_file, but named otherwise.
    const anon = readdirSync('/proc/self/fd')
      .map(Number)
      .filter((fd) => fdTarget(fd)?.startsWith('anon_inode:'));
    expect(anon.length).toBeGreaterThan(0);
    for (const fd of [memfd, s1, ...anon, memfd, s1, ...anon]) expect(a.fdKind(fd), `${fd} ${fdTarget(fd)}`).toBe(0);
    const closed = a.dup(memfd);
    a.close(closed);
    expectErrno(() => a.fdKind(closed), 'EBADF', 'fstat');
  });

  it("recvMsg writes into the caller's buffers: the bytes, the flags, the fds and their kinds; -1 when nothing is queued; MSG_TRUNC and MSG_CTRUNC when the room is short", () => {
    const a = addon();
    const { MSG_TRUNC, MSG_CTRUNC } = a.constants;
    const [tx, rx] = a.socketPair();
    track(tx);
    track(rx);
    const m1 = track(a.memfdCreate('one', 0));
    const m2 = track(a.memfdCreate('two', 0));
    const data = new Uint8Array(8);
    const meta = new Int32Array(2 + 2 * 4).fill(-99);
    expect(a.recvMsg(rx, data, meta)).toBe(-1);
    a.sendMsg(tx, new Uint8Array([1, 2, 3]), [m1, m2]);
    expect(a.recvMsg(rx, data, meta)).toBe(3);
    expect([...data.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(meta[0]).toBe(0);
    expect(meta[1]).toBe(2);
    const got = [meta[2], meta[3]] as number[];
    for (const fd of got) track(fd);
    expect(got.map((fd) => a.fstat(fd).ino)).toEqual([a.fstat(m1).ino, a.fstat(m2).ino]);
    expect([meta[4], meta[5]]).toEqual([0, 0]);
    // Cut on both counts: 12 bytes into 8, 2 fds into room for 1 (the one that came is ours).
    a.sendMsg(tx, new Uint8Array(12).fill(7), [m1, m2]);
    const small = new Int32Array(2 + 2 * 1);
    expect(a.recvMsg(rx, data, small)).toBe(12);
    expect((small[0] as number) & MSG_TRUNC).toBe(MSG_TRUNC);
    expect((small[0] as number) & MSG_CTRUNC).toBe(MSG_CTRUNC);
    expect(small[1]).toBe(1);
    track(small[2] as number);
    expect(small[3]).toBe(0);
  });

  it('errors carry code, errno and syscall', () => {
    const a = addon();
    const error = expectErrno(() => a.close(-1), 'EBADF', 'close');
    expect(error.errno).toBe(9);
    const missing = expectErrno(() => a.open('/nonexistent/dmabuf', a.constants.O_RDONLY), 'ENOENT', 'open');
    expect(missing.errno).toBe(2);
  });

  it('dup gives a new O_CLOEXEC fd on the same file', () => {
    const a = addon();
    const fd = track(a.open('/dev/null', a.constants.O_RDWR));
    const copy = track(a.dup(fd));
    expect(copy).not.toBe(fd);
    expect(a.testHooks.getFdFlags(copy) & a.constants.FD_CLOEXEC).toBe(a.constants.FD_CLOEXEC);
    expect(a.fstat(copy).rdev).toBe(a.fstat(fd).rdev);
    expectErrno(() => a.dup(-1), 'EBADF', 'fcntl');
  });

  it('adopt accepts open fds and refuses numbers that are not', () => {
    const a = addon();
    const fd = track(a.open('/dev/null', a.constants.O_RDONLY));
    a.adopt(fd);
    expectErrno(() => a.adopt(1 << 20), 'EBADF', 'fcntl');
  });

  it('fstat, fstatfsType, lseek, read and write work on a memfd', () => {
    const a = addon();
    const fd = track(a.memfdCreate('fd-test', 0));
    a.ftruncate(fd, 8192);
    const st = a.fstat(fd);
    expect(st.size).toBe(8192);
    expect(st.mode & 0o170000).toBe(0o100000); // S_IFREG
    expect(typeof st.dev).toBe('number');
    expect(typeof st.ino).toBe('number');
    expect(a.fstatfsType(fd)).toBe(0x01021994); // TMPFS_MAGIC: memfds live on shmem
    expect(a.testHooks.lseek(fd, 0, a.constants.SEEK_END)).toBe(8192);
    expect(a.testHooks.lseek(fd, 0, a.constants.SEEK_SET)).toBe(0);
    // read and write are node's (they take any fd); they move the offset lseek sets.
    expect(writeSync(fd, new Uint8Array([1, 2, 3]))).toBe(3);
    expect(a.testHooks.lseek(fd, 0, a.constants.SEEK_SET)).toBe(0);
    const four = new Uint8Array(4);
    expect(readSync(fd, four)).toBe(4);
    expect([...four]).toEqual([1, 2, 3, 0]);
    expect(a.testHooks.lseek(fd, 0, a.constants.SEEK_END)).toBe(8192);
    expect(readSync(fd, new Uint8Array(16))).toBe(0);
    expectErrno(() => a.testHooks.lseek(fd, -1, a.constants.SEEK_SET), 'EINVAL', 'lseek');
  });

  it('ioctlRaw passes the buffer (or NULL) and reports errors as syscall "ioctl"', () => {
    const a = addon();
    const fd = track(a.memfdCreate('ioctl-test', 0));
    expectErrno(() => a.ioctlRaw(fd, a.constants.DMA_BUF_IOCTL_SYNC, new Uint8Array(8)), 'ENOTTY', 'ioctl');
    expectErrno(() => a.ioctlRaw(fd, BigInt(a.constants.DMA_BUF_IOCTL_SYNC), null), 'ENOTTY', 'ioctl');
    // FIONREAD on a FIFO writes an int through the pointer.
    const fifo = track(a.open(makeFifoPath(), a.constants.O_RDWR | a.constants.O_NONBLOCK));
    writeSync(fifo, new Uint8Array(5));
    const count = new Uint8Array(4);
    expect(a.ioctlRaw(fifo, 0x541b /* FIONREAD */, count)).toBe(0);
    expect(new DataView(count.buffer).getInt32(0, true)).toBe(5);
    expectErrno(() => a.ioctlRaw(fifo, 0x541b, null), 'EFAULT', 'ioctl');
    // A buffer shorter than the size the request encodes would be overrun: refused before the ioctl.
    expect(() => a.ioctlRaw(fd, a.constants.DMA_BUF_IOCTL_SYNC, new Uint8Array(7))).toThrow(RangeError);
    expect(() => a.ioctlRaw(fd, a.constants.SYNC_IOC_FILE_INFO, new Uint8Array(8))).toThrow(/shorter than the request's _IOC_SIZE/);
  });

  it('numbers must be safe integers: NaN is no fd 0, 1e300 no size, 0.5 no offset', () => {
    const a = addon();
    for (const bad of [NaN, Infinity, -Infinity, 0.5, 2 ** 53, 1e300]) {
      expect(() => a.close(bad), String(bad)).toThrow(RangeError);
      expect(() => a.ftruncate(0, bad), String(bad)).toThrow(RangeError);
    }
    const [s1, s2] = a.socketPair();
    track(s1);
    track(s2);
    expect(() => a.recvMsg(s1, new Uint8Array(16), new Int32Array(2 + 2 * 254))).toThrow(/SCM_MAX_FD/);
    expect(() => a.recvMsg(s1, new Uint8Array(16), new Int32Array(1))).toThrow(/room for the flags/);
    expect(() => a.recvMsg(s1, new Uint16Array(16) as unknown as Uint8Array, new Int32Array(2))).toThrow(TypeError);
    expect(() => a.recvMsg(s1, new Uint8Array(16), new Uint32Array(2) as unknown as Int32Array)).toThrow(TypeError);
  });

  it('poll returns revents, or 0 after the timeout', () => {
    const a = addon();
    const { POLLIN, POLLOUT, O_RDWR, O_NONBLOCK } = a.constants;
    const fifo = track(a.open(makeFifoPath(), O_RDWR | O_NONBLOCK));
    expect(a.poll(fifo, POLLOUT, 0)).toBe(POLLOUT);
    const start = performance.now();
    expect(a.poll(fifo, POLLIN, 60)).toBe(0);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(55);
    expect(elapsed).toBeLessThan(1000);
    writeSync(fifo, new Uint8Array([1]));
    expect(a.poll(fifo, POLLIN, -1)).toBe(POLLIN);
  });

  it('poll retries EINTR with the remaining time, not the whole timeout', async () => {
    const a = addon();
    const { POLLIN, O_RDWR, O_NONBLOCK } = a.constants;
    const fifo = track(a.open(makeFifoPath(), O_RDWR | O_NONBLOCK));
    let signals = 0;
    const onSignal = (): void => {
      signals++;
    };
    process.on('SIGUSR2', onSignal);
    try {
      const { spawn } = await import('node:child_process');
      const killer = spawn('sh', ['-c', `sleep 1; kill -USR2 ${process.pid}`], { stdio: 'ignore' });
      const exited = new Promise((resolve) => killer.once('exit', resolve));
      // Give the child time to start before blocking the thread.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const start = performance.now();
      expect(a.poll(fifo, POLLIN, 2000)).toBe(0);
      const elapsed = performance.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(1995);
      // Restarting with the full timeout after the signal (~1 s in) would take ~3 s; the margin
      // is for a software CPU shared with another VM (CI).
      expect(elapsed).toBeLessThan(2700);
      await exited;
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(signals).toBe(1);
    } finally {
      process.off('SIGUSR2', onSignal);
    }
  });

  it('wrong JS types throw TypeError, negative sizes RangeError', () => {
    const a = addon();
    expect(() => a.close('3' as unknown as number)).toThrow(TypeError);
    expect(() => a.open(3 as unknown as string, 0)).toThrow(TypeError);
    expect(() => a.sendMsg(0, [1] as unknown as Uint8Array, [])).toThrow(TypeError);
    expect(() => a.ioctlRaw(0, 0, new Uint16Array(2) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => a.ftruncate(0, -1)).toThrow(RangeError);
  });

  it('does not leak fds across open/dup/close', () => {
    const a = addon();
    const fds = fdSnapshot();
    for (let i = 0; i < 200; i++) {
      const fd = a.open('/dev/null', a.constants.O_RDONLY);
      a.close(a.dup(fd));
      a.close(fd);
    }
    expect(fdsMadeSince(fds)).toEqual([]);
  });
});
