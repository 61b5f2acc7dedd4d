// FdChannel over real Unix sockets: this runs wherever the addon loads (Linux), devices or not;
// memfds, sockets and pipes stand in for dma-bufs here, and the kernel suite sends real ones.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, FdChannel, MAX_FDS_PER_MESSAGE, Memfd, type OwnedFd, type ChannelMessage } from '../../lib/index.js';
import { addonLoads } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { ticksDuring } from '../helpers/loop.js';
import { rejection, thrown } from '../helpers/errors.js';
import { rounds } from '../helpers/rounds.js';

function closeMessage(message: ChannelMessage): void {
  for (const h of message.handles) h.close();
}

describe.runIf(addonLoads)('FdChannel (needs the native addon: Linux)', () => {
  let dir: string;
  expectNothingLeftEachTest();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dmabuf-channel-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("pair(): bytes and text cross whole, with the peer's credentials", async () => {
    const [a, b] = FdChannel.pair();
    try {
      expect(a.peer).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
      await a.send(new Uint8Array([1, 2, 3]));
      await a.send('héllo');
      expect([...(await b.receive({ timeoutMs: 1000 })).data]).toEqual([1, 2, 3]);
      expect((await b.receive({ timeoutMs: 1000 })).text()).toBe('héllo');
    } finally {
      a.close();
      b.close();
    }
  });

  it('fds arrive typed, in order, owned and close-on-exec; the sender keeps its own', async () => {
    const [a, b] = FdChannel.pair();
    const [x, y] = FdChannel.pair();
    using memfd = Memfd.create(4096, { name: 'sent-memfd' });
    try {
      await a.send('two', [memfd, x.fd]);
      const message = await b.receive({ timeoutMs: 1000 });
      expect(message.handles.map((h) => h.constructor.name)).toEqual(['OwnedFd', 'OwnedFd']);
      expect(message.fds[0]?.kind).toMatch(/^\/memfd:sent-memfd/);
      expect(message.fds[1]?.kind).toMatch(/^socket:\[\d+\]$/);
      for (const owned of message.fds) {
        expect(owned.fd).not.toBe(memfd.fd);
        expect(addon().testHooks.getFdFlags(owned.fd) & addon().constants.FD_CLOEXEC).toBe(addon().constants.FD_CLOEXEC);
      }
      expect(memfd.closed).toBe(false);
      // take() hands the fd over: the object forgets it, the caller closes it.
      const taken = (message.fds[0] as OwnedFd).take();
      expect(message.fds[0]?.closed).toBe(true);
      addon().close(taken);
      closeMessage(message);
    } finally {
      for (const ch of [a, b, x, y]) ch.close();
    }
  });

  it(`refuses more than ${MAX_FDS_PER_MESSAGE} fds and bad arguments before any syscall`, async () => {
    const [a, b] = FdChannel.pair();
    try {
      const tooMany = new Array<number>(MAX_FDS_PER_MESSAGE + 1).fill(a.fd);
      expect(await rejection(a.send('x', tooMany))).toMatchObject({ code: 'EINVAL', argument: 'handles', syscall: 'sendmsg' });
      expect(await rejection(a.send(42 as unknown as string))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', argument: 'data' });
      expect(await rejection(a.send('x', [{} as unknown as number]))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', argument: 'handles[0]' });
      expect(await rejection(a.send('x', [-1]))).toMatchObject({ code: 'EINVAL', argument: 'handles[0]' });
      expect(await rejection(b.receive({ maxFds: 254 }))).toMatchObject({ code: 'EINVAL', argument: 'maxFds' });
      // 253 is the kernel's own limit, and works.
      await a.send('x', new Array<number>(MAX_FDS_PER_MESSAGE).fill(a.fd));
      const message = await b.receive({ timeoutMs: 1000 });
      expect(message.fds.length).toBe(MAX_FDS_PER_MESSAGE);
      closeMessage(message);
    } finally {
      a.close();
      b.close();
    }
  });

  it('more fds than maxFds: ERR_DMABUF_FDS_TRUNCATED, and the fds that did arrive are closed', async () => {
    const [a, b] = FdChannel.pair();
    try {
      await a.send('five', [a.fd, a.fd, a.fd, a.fd, a.fd]);
      await a.send('next');
      const fds = fdSnapshot();
      expect(await rejection(b.receive({ maxFds: 2, timeoutMs: 1000 }))).toMatchObject({ code: 'ERR_DMABUF_FDS_TRUNCATED' });
      expect(fdsMadeSince(fds)).toEqual([]);
      expect((await b.receive({ timeoutMs: 1000 })).text()).toBe('next');
    } finally {
      a.close();
      b.close();
    }
  });

  it('a payload over maxBytes: ERR_DMABUF_MESSAGE_TRUNCATED, fds closed, the channel goes on', async () => {
    const [a, b] = FdChannel.pair();
    try {
      await a.send(new Uint8Array(100), [a.fd]);
      await a.send('next');
      const fds = fdSnapshot();
      expect(await rejection(b.receive({ maxBytes: 10, timeoutMs: 1000 }))).toMatchObject({ code: 'ERR_DMABUF_MESSAGE_TRUNCATED' });
      expect(fdsMadeSince(fds)).toEqual([]);
      expect((await b.receive({ timeoutMs: 1000 })).text()).toBe('next');
    } finally {
      a.close();
      b.close();
    }
  });

  it('backpressure: a full socket makes send() wait on the event loop, in order, until the peer reads', async () => {
    const [a, b] = FdChannel.pair();
    try {
      // Send until a send stays pending: how much fits depends on the kernel's socket accounting.
      const sends: Promise<void>[] = [];
      let settled = 0;
      let pending = false;
      for (let i = 0; i < 4096 && !pending; i++) {
        const payload = new Uint8Array(32 * 1024);
        payload[0] = i & 0xff;
        const send = a.send(payload, [a.fd]).then(() => void settled++);
        sends.push(send);
        pending = !(await Promise.race([send.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]));
      }
      expect(pending).toBe(true);
      const { ticks } = await ticksDuring(new Promise((resolve) => setTimeout(resolve, 100)));
      expect(ticks).toBeGreaterThan(3); // the loop kept turning while the send waited
      expect(settled).toBe(sends.length - 1);
      for (let i = 0; i < sends.length; i++) {
        const message = await b.receive({ timeoutMs: 5000 });
        expect(message.data[0]).toBe(i & 0xff);
        closeMessage(message);
      }
      await Promise.all(sends);
      expect(settled).toBe(sends.length);
    } finally {
      a.close();
      b.close();
    }
  });

  it('the peer closing ends a pending receive with ERR_DMABUF_CHANNEL_CLOSED, and for await ends', async () => {
    const [a, b] = FdChannel.pair();
    try {
      await a.send('last');
      const seen: string[] = [];
      const loop = (async () => {
        for await (const message of b) seen.push(message.text());
      })();
      await new Promise((resolve) => setTimeout(resolve, 20));
      a.close();
      await loop;
      expect(seen).toEqual(['last']);
      expect(await rejection(b.receive())).toMatchObject({ code: 'ERR_DMABUF_CHANNEL_CLOSED' });
      // An empty message is a message, not the end.
      const [c, d] = FdChannel.pair();
      await c.send('');
      expect((await d.receive({ timeoutMs: 1000 })).data.length).toBe(0);
      c.close();
      d.close();
    } finally {
      a.close();
      b.close();
    }
  });

  it('closing this end rejects its pending receive and send with ERR_DMABUF_CLOSED', async () => {
    const [a, b] = FdChannel.pair();
    const pending = b.receive();
    b.close();
    expect(await rejection(pending)).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    expect(await rejection(b.send('x'))).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    // A peer that never reads: a send waiting for room is released by close().
    const [c, d] = FdChannel.pair();
    const big = new Uint8Array(64 * 1024);
    let waiting: Promise<void> | undefined;
    for (let i = 0; i < 256 && !waiting; i++) {
      const send = c.send(big);
      const done = await Promise.race([send.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);
      if (!done) waiting = send;
    }
    expect(waiting).toBeDefined();
    c.close();
    expect(await rejection(waiting!)).toMatchObject({ code: 'ERR_DMABUF_CLOSED' });
    d.close();
    a.close();
  });

  it('receive() times out with ETIMEDOUT and aborts with an AbortError', async () => {
    const [a, b] = FdChannel.pair();
    try {
      expect(await rejection(b.receive({ timeoutMs: 30 }))).toMatchObject({ code: 'ETIMEDOUT', syscall: 'recvmsg' });
      const controller = new AbortController();
      const pending = b.receive({ signal: controller.signal });
      controller.abort();
      expect(await rejection(pending)).toBeInstanceOf(AbortError);
      await a.send('still works');
      expect((await b.receive({ timeoutMs: 1000 })).text()).toBe('still works');
    } finally {
      a.close();
      b.close();
    }
  });

  it('listen(path) is 0600 unless told, accept() gives a channel per connection, close() removes the path', async () => {
    const path = join(dir, 'sock');
    const server = FdChannel.listen(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const accepted = server.accept({ timeoutMs: 2000 });
    const client = await FdChannel.connect(path);
    const peer = await accepted;
    await client.send('over a path');
    expect((await peer.receive({ timeoutMs: 1000 })).text()).toBe('over a path');
    expect(peer.peer.pid).toBe(process.pid);
    client.close();
    peer.close();
    server.close();
    expect(() => statSync(path)).toThrow();
    const open = FdChannel.listen(join(dir, 'group'), { mode: 0o660 });
    expect(statSync(join(dir, 'group')).mode & 0o777).toBe(0o660);
    open.close();
    expect(await rejection(FdChannel.connect(join(dir, 'missing')))).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
    expect(() => FdChannel.listen('x'.repeat(200))).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'path' }));
  });

  it('abstract names ("\\0name") need no file', async () => {
    const name = `\0dmabuf-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const server = FdChannel.listen(name);
    const accepted = server.accept({ timeoutMs: 2000 });
    const client = await FdChannel.connect(name);
    const peer = await accepted;
    await peer.send('abstract');
    expect((await client.receive({ timeoutMs: 1000 })).text()).toBe('abstract');
    for (const c of [client, peer, server]) c.close();
  });

  it('listen on a path a crashed process left: EADDRINUSE saying the path exists and how to tell stale from live', async () => {
    const path = join(dir, 'stale.sock');
    // A process that listened and died without removing its socket file (the kernel never removes one).
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    await new Promise((resolve) => child.on('exit', resolve));
    expect(statSync(path).isSocket()).toBe(true);
    const error = thrown(() => FdChannel.listen(path));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect(error.message).toContain(`${path} already exists`);
    expect(error.message).toMatch(/ECONNREFUSED.*remove it.*another server is live/);
    // The test the message suggests tells a stale file from a live server.
    expect(await rejection(FdChannel.connect(path))).toMatchObject({ code: 'ECONNREFUSED' });
    const live = FdChannel.listen(join(dir, 'live.sock'));
    expect(thrown(() => FdChannel.listen(join(dir, 'live.sock')))).toMatchObject({ code: 'EADDRINUSE' });
    const client = await FdChannel.connect(join(dir, 'live.sock'));
    client.close();
    live.close();
  });

  it('a child gets an end through stdio and FdChannel.fromFd(3) on it', async () => {
    const [mine, theirs] = FdChannel.pair();
    const script = `
      import { FdChannel } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
      const ch = FdChannel.fromFd(3, { dup: false });
      const m = await ch.receive({ timeoutMs: 10000 });
      await ch.send('echo:' + m.text(), m.handles);
      for (const h of m.handles) h.close();
      ch.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit', theirs.fd] });
    theirs.close();
    using memfd = Memfd.create(4096);
    await mine.send('ping', [memfd]);
    const reply = await mine.receive({ timeoutMs: 20000 });
    expect(reply.text()).toBe('echo:ping');
    expect(reply.fds[0]?.kind).toMatch(/memfd:/);
    closeMessage(reply);
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    mine.close();
    expect(() => FdChannel.fromFd(memfd.fd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
  });

  const MESSAGES = rounds(10_000, 2_000);
  it(`${MESSAGES} messages with fds leave the fd table as it was`, async () => {
    const [a, b] = FdChannel.pair();
    try {
      const fds = fdSnapshot();
      for (let i = 0; i < MESSAGES; i++) {
        await a.send('m', [a.fd, b.fd]);
        closeMessage(await b.receive({ timeoutMs: 1000 }));
      }
      expect(fdsMadeSince(fds)).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });
});
