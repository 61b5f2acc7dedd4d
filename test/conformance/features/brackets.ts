/** CPU access brackets: the data they carry, one per holder, views detached at END, the violations a backend can see. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, MisuseCode, region, SyncFile, type CpuAccess } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { sleep } from '../../helpers/loop.js';
import { rejection, thrown } from '../../helpers/errors.js';
import { KiB, shape, rowsOf, readAll } from './shared.js';

export function brackets(b: ConformanceBackend): void {
  describe('brackets', () => {
    it("a bracket's bytes cannot leave it: a transfer copies them, or (emulator) end() reports it; the bracket ends either way", async () => {
      using buf = b.allocate(4096);
      const { MessageChannel } = await import('node:worker_threads');
      const { port1, port2 } = new MessageChannel();
      try {
        const access = buf.beginCpuAccess('write', region.linear({ offset: 0, length: 64 }));
        access.bytes.fill(9);
        const ab = access.bytes.buffer as ArrayBuffer;
        const received = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
        port1.postMessage(ab, [ab]);
        const posted = await received;
        expect(new Uint8Array(posted).includes(9)).toBe(true);
        if (b.supports.untransferableBytes) {
          // A copy went out; the bracket's own view is still attached, and still the buffer's.
          const cloned = structuredClone(ab, { transfer: [ab] });
          expect(new Uint8Array(cloned).includes(9)).toBe(true);
          expect(access.bytes.length).toBe(64);
          access.bytes[0] = 7;
          access.end();
          buf.withCpuAccess('read', region.linear({ offset: 0, length: 2 }), (a) => expect([...a.bytes]).toEqual([7, 9]));
        } else {
          // The bytes left: end() ends the bracket and says what happened.
          expect(shape(thrown(() => access.end()))).toEqual({ code: 'ERR_DMABUF_BYTES_TRANSFERRED', argument: undefined });
          expect(access.ended).toBe(true);
          buf.withCpuAccess('write', region.linear({ offset: 0, length: 1 }), (a) => a.bytes.fill(1));
        }
        expect(access.bytes.length).toBe(0);
      } finally {
        port1.close();
        port2.close();
      }
    });

    it('share() gives a handle for another thread where supports.shareAcrossThreads, else ERR_DMABUF_UNSUPPORTED', () => {
      using buf = b.allocate(4096);
      using sync = buf.exportSyncFile('read');
      if (b.supports.shareAcrossThreads) {
        using again = DmaBuf.fromShared(buf.share());
        using fence = SyncFile.fromShared(sync.share());
        expect(again.size).toBe(buf.size);
        expect(fence.status).toBe('signaled');
      } else {
        expect(shape(thrown(() => buf.share()))).toEqual({ code: 'ERR_DMABUF_UNSUPPORTED', argument: undefined });
        expect(thrown(() => sync.share()).code).toBe('ERR_DMABUF_UNSUPPORTED');
      }
    });

    it('a write bracket then a read bracket: the data round-trips, on a heap buffer and a udmabuf', () => {
      for (const make of [() => b.allocate(16 * KiB), () => b.udmabuf(16 * KiB)]) {
        using buf = make();
        buf.withCpuAccess('write', (access) => {
          expect(access.mode).toBe('write');
          expect(access.bytes.length).toBe(16 * KiB);
          for (let i = 0; i < access.bytes.length; i++) access.bytes[i] = (i * 31) & 0xff;
        });
        const back = readAll(buf);
        expect(back.length).toBe(16 * KiB);
        expect(back.every((x, i) => x === ((i * 31) & 0xff))).toBe(true);
      }
    });

    it('a readwrite bracket sees the current data and keeps its changes', () => {
      using buf = b.allocate(4096);
      buf.withCpuAccess('write', (access) => access.bytes.fill(1));
      buf.withCpuAccess('readwrite', region.linear({ offset: 0, length: 256 }), (access) => {
        expect(access.bytes.every((x) => x === 1)).toBe(true);
        for (let i = 0; i < 256; i += 2) access.bytes[i] = 2;
      });
      const all = readAll(buf);
      expect(all[0]).toBe(2);
      expect(all[1]).toBe(1);
      expect(all[256]).toBe(1);
    });

    it('views are detached after end: bytes and kept views are empty, rows() refuses, writes cannot land', () => {
      using buf = b.allocate(4096);
      const access = buf.beginCpuAccess('write', region.linear({ offset: 0, length: 128 }));
      const kept = access.bytes;
      const [row] = [...access.rows()];
      kept.fill(9);
      expect(access.ended).toBe(false);
      access.end();
      expect(access.ended).toBe(true);
      expect(access.bytes.length).toBe(0);
      expect(kept.length).toBe(0);
      expect(row?.length).toBe(0);
      kept[0] = 1; // a write to a detached view goes nowhere
      expect(shape(thrown(() => [...access.rows()]))).toEqual({ code: MisuseCode.NOT_IN_BRACKET, argument: undefined });
      expect(readAll(buf)[0]).toBe(9);
    });

    it('one bracket per holder: a second START is refused whichever way it is asked for', async () => {
      using buf = b.allocate(4096);
      const access = buf.beginCpuAccess('read');
      expect(thrown(() => buf.beginCpuAccess('read')).code).toBe(MisuseCode.BRACKET_ACTIVE);
      expect(thrown(() => buf.withCpuAccess('write', () => 0)).code).toBe(MisuseCode.BRACKET_ACTIVE);
      expect((await rejection(buf.cpuAccess('read'))).code).toBe(MisuseCode.BRACKET_ACTIVE);
      access.end();
      (await buf.cpuAccess('write')).end();
    });

    it('END without START: a second end() is refused; `using` after end() is a no-op', () => {
      using buf = b.allocate(4096);
      {
        using access = buf.beginCpuAccess('readwrite');
        access.end();
        const error = thrown(() => access.end());
        expect(error.code).toBe(MisuseCode.NOT_IN_BRACKET);
        expect(error.syscall).toBe('DMA_BUF_IOCTL_SYNC');
      }
      buf.beginCpuAccess('read').end();
    });

    it('withCpuAccess ends the bracket when the callback throws or its promise rejects, and returns its value', async () => {
      using buf = b.allocate(4096);
      expect(() =>
        buf.withCpuAccess('write', () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      await expect(
        buf.withCpuAccess('write', async (access) => {
          await sleep(1);
          access.bytes[1] = 4;
          throw new Error('async boom');
        }),
      ).rejects.toThrow('async boom');
      expect(buf.withCpuAccess('read', region.linear({ offset: 1, length: 1 }), (access) => access.bytes[0])).toBe(4);
      expect(await buf.withCpuAccess('read', async (access) => access.bytes.length)).toBe(buf.size);
      expect(thrown(() => buf.withCpuAccess('read', undefined, 'nope' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
      buf.close(); // no bracket left open
    });

    it('a write inside a read bracket, or between the rows of a region, is reported where the backend can detect it', () => {
      using buf = b.allocate(4096, { name: 'violations' });
      // What a buffer detects is what it says: the emulator always, the kernel in checked mode.
      expect(buf.supports.detectsWriteInReadBracket).toBe(buf.checked);
      expect(buf.supports.detectsWriteOutsideRegion).toBe(buf.checked);
      buf.withCpuAccess('write', (access) => access.bytes.fill(1));

      const reading = buf.beginCpuAccess('read', region.linear({ offset: 100, length: 50 }));
      (reading.bytes as Uint8Array)[7] = 2;
      if (buf.supports.detectsWriteInReadBracket) {
        const error = thrown(() => reading.end());
        expect(error.code).toBe(MisuseCode.WRITE_IN_READ_BRACKET);
        expect(error.bufferName).toBe('violations');
        expect(error.offset).toBe(107);
      } else {
        reading.end();
      }
      // Either way the END happened: the holder is free and its views are detached.
      expect(reading.ended).toBe(true);
      expect(reading.bytes.length).toBe(0);

      const rect = region.rect({ x: 0, y: 0, width: 4, height: 2, stride: 64, bytesPerPixel: 1 });
      const writing = buf.beginCpuAccess('readwrite', rect);
      for (const row of writing.rows()) row.fill(3);
      writing.bytes[10] = 4; // in the span, between the two rows
      if (buf.supports.detectsWriteOutsideRegion) {
        const error = thrown(() => writing.end());
        expect(error.code).toBe(MisuseCode.WRITE_OUTSIDE_REGION);
        expect(error.offset).toBe(10);
      } else {
        writing.end();
      }
      // The rows of the region were written back on every backend.
      expect(buf.withCpuAccess('read', rect, rowsOf)).toEqual(Array(8).fill(3));
      buf.close();
    });

    it('`using` ends the bracket at the end of the scope', () => {
      using buf = b.allocate(4096);
      let seen: CpuAccess;
      {
        using access = buf.beginCpuAccess('write', region.linear({ offset: 8, length: 8 }));
        access.bytes.fill(0xee);
        seen = access;
      }
      expect(seen.ended).toBe(true);
      expect(seen.bytes.length).toBe(0);
      expect([...readAll(buf).subarray(6, 18)]).toEqual([0, 0, ...Array(8).fill(0xee), 0, 0]);
    });
  });
}
