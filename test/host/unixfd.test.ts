// GStreamer's unixfd protocol on the host: real GStreamer 1.26 (the cached Debian 13 root) as the
// sink, whose buffers arrive here as memfds (unixfdsink copies system memory into "gst-shm"
// memfds); and hostile peers built from raw stream sockets. Real dma-bufs both ways run in the
// x86_64 VM (test/kernel/unixfd.test.ts).
import { readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DmaBufError, Memfd, OwnedFd, UnixFdSink, UnixFdSrc } from '../../lib/index.js';
import { CAPS, EOS, encodeCaps, encodeMessage, encodeNewBuffer, MEMORY_DEFAULT, NEW_BUFFER, NONE, RELEASE_BUFFER } from '../../lib/unixfd/protocol.js';
import { addon } from '../helpers/addon.js';
import { addonLoads } from '../helpers/env.js';
import { rejection } from '../helpers/errors.js';
import { abstractName, connectWhenListening, gstLaunch, hasGst, NEEDS_GST } from '../helpers/gst.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { ticksDuring } from '../helpers/loop.js';

function readMemory(fd: number, offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let got = 0;
  while (got < size) got += readSync(fd, out, got, size - got, offset + got);
  return out;
}

describe.runIf(addonLoads)('unixfd (needs the native addon: Linux)', () => {
  expectNothingLeftEachTest();

  describe.runIf(hasGst)(`GStreamer → UnixFdSrc ${NEEDS_GST}`, () => {
    it('videotestsrc ! unixfdsink: CAPS, NV12 buffers in memfds with the pattern, EOS; every release reaches GStreamer', async () => {
      const name = abstractName();
      const gst = gstLaunch([
        'videotestsrc',
        'num-buffers=5',
        'pattern=white',
        '!',
        'video/x-raw,format=NV12,width=64,height=48,framerate=30/1',
        '!',
        'unixfdsink',
        `socket-path=${name}`,
        'socket-type=abstract',
        'wait-for-connection=true',
      ]);
      try {
        const src = await connectWhenListening(() => UnixFdSrc.connect(`\0${name}`));
        let n = 0;
        for await (const b of src) {
          expect(b.caps).toMatch(/^video\/x-raw, format=\(string\)NV12, width=\(int\)64, height=\(int\)48/);
          expect(b.frame).toBeNull();
          expect(b.memories).toHaveLength(1);
          const m = b.memories[0]!;
          expect(m.handle).toBeInstanceOf(OwnedFd);
          expect((m.handle as OwnedFd).kind).toMatch(/^\/memfd:gst-shm/);
          expect(m.size).toBe(64 * 48 * 1.5);
          const bytes = readMemory(m.handle.fd, m.offset, m.size);
          // White in limited-range NV12: Y 235, Cb = Cr = 128.
          expect(bytes.subarray(0, 64 * 48).every((y) => y === 235)).toBe(true);
          expect(bytes.subarray(64 * 48).every((c) => c === 128)).toBe(true);
          expect(typeof b.pts).toBe('bigint');
          b.release();
          n++;
        }
        expect(n).toBe(5);
        expect(src.held).toBe(0);
        src.close();
        expect(await gst.done).toMatchObject({ code: 0 });
      } finally {
        gst.child.kill();
        await gst.done;
      }
    }, 180000);
  });

  describe('hostile sinks: ERR_DMABUF_PROTOCOL, fds closed, the loop keeps ticking', () => {
    const a = addon();
    async function withSink(peer: (fd: number) => unknown, check: (src: UnixFdSrc) => Promise<void>): Promise<void> {
      const name = abstractName();
      const listening = a.socketListen(name, true, 0o600, 4, true);
      try {
        const src = await UnixFdSrc.connect(`\0${name}`);
        const fd = a.socketAccept(listening);
        let closed = false;
        try {
          closed = peer(fd) === true;
          await check(src);
        } finally {
          src.close();
          if (!closed) a.close(fd);
        }
      } finally {
        a.close(listening);
      }
    }
    const caps = encodeCaps('video/x-raw, format=(string)NV12, width=(int)64, height=(int)48, framerate=(fraction)0/1');
    const buffer = (nMemory: number) =>
      encodeNewBuffer({
        id: 7n,
        pts: NONE,
        dts: NONE,
        duration: NONE,
        offset: NONE,
        offsetEnd: NONE,
        flags: 0,
        memoryType: MEMORY_DEFAULT,
        memories: Array.from({ length: nMemory }, () => ({ size: 4608, offset: 0 })),
        videoMeta: undefined,
      });

    it('a payload size of 2 GiB', async () => {
      await withSink(
        (fd) => {
          const m = encodeMessage(CAPS);
          new DataView(m.buffer).setUint32(4, 2 ** 31, true);
          a.sendMsg(fd, m, []);
        },
        async (src) => {
          expect(await rejection(src.receive({ timeoutMs: 2000 }))).toMatchObject({ code: 'ERR_DMABUF_PROTOCOL' });
          expect(src.closed).toBe(true);
        },
      );
    });

    it('a NEW_BUFFER of two memories with one fd: the fd is closed', async () => {
      const memfd = Memfd.create(4608);
      try {
        await withSink(
          (fd) => {
            a.sendMsg(fd, caps, []);
            a.sendMsg(fd, buffer(2), [memfd.fd]);
          },
          async (src) => {
            const e = await rejection(src.receive({ timeoutMs: 2000 }));
            expect(e).toBeInstanceOf(DmaBufError);
            expect(e).toMatchObject({ code: 'ERR_DMABUF_PROTOCOL', message: expect.stringMatching(/2 memories came with 1 fds/) });
          },
        );
      } finally {
        memfd.close();
      }
    });

    it('a NEW_BUFFER shorter than its memory table, CAPS without NUL, a message cut by a hang-up', async () => {
      await withSink(
        (fd) => {
          const m = buffer(1);
          new DataView(m.buffer).setUint32(4, 60, true);
          a.sendMsg(fd, m.subarray(0, 68), []);
        },
        async (src) => expect(await rejection(src.receive({ timeoutMs: 2000 }))).toMatchObject({ code: 'ERR_DMABUF_PROTOCOL' }),
      );
      await withSink(
        (fd) => {
          a.sendMsg(fd, encodeMessage(CAPS, new Uint8Array([0x76, 0x69])), []);
        },
        async (src) => expect(await rejection(src.receive({ timeoutMs: 2000 }))).toMatchObject({ code: 'ERR_DMABUF_PROTOCOL' }),
      );
      await withSink(
        (fd) => {
          a.sendMsg(fd, caps.subarray(0, 20), []);
          a.close(fd);
          return true;
        },
        async (src) =>
          expect(await rejection(src.receive({ timeoutMs: 2000 }))).toMatchObject({
            code: 'ERR_DMABUF_PROTOCOL',
            message: expect.stringMatching(/inside a message/),
          }),
      );
    });

    it('half a message, then nothing: receive() waits on the loop (it keeps ticking), times out or is aborted; the rest completes it', async () => {
      let sink = -1;
      await withSink(
        (fd) => {
          sink = fd;
          a.sendMsg(fd, caps.subarray(0, 20), []);
        },
        async (src) => {
          const { value, ticks } = await ticksDuring(rejection(src.receive({ timeoutMs: 500 })));
          expect(value).toMatchObject({ code: 'ETIMEDOUT', message: expect.stringMatching(/a message began but its rest did not arrive within 500 ms/) });
          // A read that blocked the thread for the rest of the message would leave no tick.
          expect(ticks).toBeGreaterThanOrEqual(3);
          expect(src.closed).toBe(false);
          // An abort in the middle of the message keeps its part too.
          const ac = new AbortController();
          setTimeout(() => ac.abort(), 50);
          expect(await rejection(src.receive({ signal: ac.signal }))).toMatchObject({ name: 'AbortError' });
          a.sendMsg(sink, caps.subarray(20), []);
          a.sendMsg(sink, encodeMessage(EOS), []);
          for await (const b of src) throw new Error(`a buffer came: ${b.caps}`);
          expect(src.caps).toMatch(/NV12/);
        },
      );
    });

    it('a NEW_BUFFER cut after its fd came, then nothing: receive() times out, and close() closes that fd', async () => {
      const memfd = Memfd.create(4608);
      try {
        await withSink(
          (fd) => {
            a.sendMsg(fd, caps, []);
            a.sendMsg(fd, buffer(1).subarray(0, 30), [memfd.fd]);
          },
          async (src) => {
            expect(await rejection(src.receive({ timeoutMs: 300 }))).toMatchObject({ code: 'ETIMEDOUT' });
            // The received copy of the fd is held for the message's rest; the leak check after
            // this test finds it if close() does not close it.
            src.close();
          },
        );
      } finally {
        memfd.close();
      }
    });

    it('EOS ends the iteration; an unknown message type is skipped', async () => {
      await withSink(
        (fd) => {
          a.sendMsg(fd, encodeMessage(99, new Uint8Array(3)), []);
          a.sendMsg(fd, caps, []);
          a.sendMsg(fd, encodeMessage(EOS), []);
        },
        async (src) => {
          const got = [];
          for await (const b of src) got.push(b);
          expect(got).toEqual([]);
          expect(src.caps).toMatch(/NV12/);
        },
      );
    });
  });

  it("UnixFdSink.listen checks its options before binding: the booleans, framerate's form, an unknown key", () => {
    const name = `\0${abstractName()}`;
    for (const key of ['waitForConnection', 'drmCaps', 'trustVideoMeta']) {
      expect(() => UnixFdSink.listen(name, { [key]: 'yes' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', argument: key }));
    }
    expect(() => UnixFdSink.listen(name, { framerate: '30' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', argument: 'framerate' }));
    expect(() => UnixFdSink.listen(name, { trustVideoMetadata: true } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('trustVideoMeta') }),
    );
  });

  describe('hostile clients of a UnixFdSink: dropped with ERR_DMABUF_PROTOCOL', () => {
    const a = addon();
    for (const [what, message] of [
      ['a release of a buffer it never got', encodeMessage(RELEASE_BUFFER, new Uint8Array(8).fill(1))],
      ['a NEW_BUFFER (only sinks send them)', encodeMessage(NEW_BUFFER, new Uint8Array(56))],
      ['a short release', encodeMessage(RELEASE_BUFFER, new Uint8Array(3))],
    ] as const) {
      it(what, async () => {
        const name = abstractName();
        const errors: DmaBufError[] = [];
        const sink = UnixFdSink.listen(`\0${name}`, { onClientError: (e) => errors.push(e) });
        const fd = a.socketConnect(name, true, true);
        try {
          await ticksDuring(
            (async () => {
              for (let i = 0; i < 100 && sink.clients === 0; i++) await new Promise((r) => setTimeout(r, 10));
              expect(sink.clients).toBe(1);
              a.sendMsg(fd, message, []);
              for (let i = 0; i < 100 && sink.clients === 1; i++) await new Promise((r) => setTimeout(r, 10));
            })(),
          );
          expect(sink.clients).toBe(0);
          expect(errors).toHaveLength(1);
          expect(errors[0]).toMatchObject({ code: 'ERR_DMABUF_PROTOCOL' });
        } finally {
          a.close(fd);
          sink.close();
        }
      });
    }

    it('a client that hangs up is dropped quietly', async () => {
      const name = abstractName();
      const errors: DmaBufError[] = [];
      const sink = UnixFdSink.listen(`\0${name}`, { onClientError: (e) => errors.push(e) });
      try {
        const fd = a.socketConnect(name, true, true);
        for (let i = 0; i < 100 && sink.clients === 0; i++) await new Promise((r) => setTimeout(r, 10));
        a.close(fd);
        for (let i = 0; i < 100 && sink.clients === 1; i++) await new Promise((r) => setTimeout(r, 10));
        expect(sink.clients).toBe(0);
        expect(errors).toEqual([]);
      } finally {
        sink.close();
      }
    });
  });
});
