import { afterEach, describe, expect, it } from 'vitest';
import { readSync } from 'node:fs';
import type { NativeMapping } from '../../lib/native/addon.js';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { fdSnapshot, fdsMadeSince, memfdMappings } from '../helpers/proc.js';
import { collect } from '../helpers/gc.js';
import { expectErrno } from '../helpers/errors.js';

describe.runIf(isLinux)('native Mapping (Linux only: the addon builds only there)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  let memfdCount = 0;
  function memfd(pages = 2): { fd: number; name: string; size: number } {
    const a = addon();
    const name = `mapping-${process.pid}-${memfdCount++}`;
    const fd = a.memfdCreate(name, 0);
    const size = pages * a.constants.PAGE_SIZE;
    a.ftruncate(fd, size);
    cleanups.push(() => a.close(fd));
    return { fd, name, size };
  }

  function map(fd: number, size: number, offset = 0): NativeMapping {
    const a = addon();
    const m = new a.Mapping(fd, size, a.constants.PROT_READ | a.constants.PROT_WRITE, offset);
    cleanups.push(() => m.unmap());
    return m;
  }

  it('views read and write the file: seen by read() and by a second mapping', () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    expect(m.length).toBe(size);
    expect(m.mapped).toBe(true);
    const bytes = new Uint8Array(m.view(100, 4));
    bytes.set([1, 2, 3, 4]);
    const got = new Uint8Array(4);
    expect(readSync(fd, got, 0, 4, 100)).toBe(4);
    expect([...got]).toEqual([1, 2, 3, 4]);
    const other = map(fd, size);
    expect([...new Uint8Array(other.view(100, 4))]).toEqual([1, 2, 3, 4]);
    new Uint8Array(other.view(size - 1, 1))[0] = 9;
    expect(new Uint8Array(m.view(0, size))[size - 1]).toBe(9);
  });

  it('maps at a page offset, and MAP_PRIVATE writes stay private', () => {
    const a = addon();
    const { fd, size } = memfd(2);
    const page = a.constants.PAGE_SIZE;
    const shared = map(fd, size);
    new Uint8Array(shared.view(page, 1))[0] = 5;
    const second = map(fd, page, page);
    expect(new Uint8Array(second.view(0, 1))[0]).toBe(5);
    const priv = new a.Mapping(fd, size, a.constants.PROT_READ | a.constants.PROT_WRITE, 0, a.constants.MAP_PRIVATE);
    new Uint8Array(priv.view(0, 1))[0] = 77;
    expect(new Uint8Array(shared.view(0, 1))[0]).toBe(0);
    priv.unmap();
  });

  it('unmap detaches every live view; views after unmap are refused; unmap is idempotent', () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    const v1 = m.view(0, 16);
    const v2 = m.view(16, 32);
    const u8 = new Uint8Array(v2);
    m.unmap();
    expect(m.mapped).toBe(false);
    expect(m.length).toBe(size);
    expect(v1.byteLength).toBe(0);
    expect(v2.byteLength).toBe(0);
    expect(u8.length).toBe(0);
    expect(u8[0]).toBeUndefined(); // reads nothing, touches nothing
    expectErrno(() => m.view(0, 1), 'EINVAL', 'view');
    m.unmap();
    m.detach(v1); // already detached: fine
  });

  it('detach() detaches one view and refuses buffers that are not its views', () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    const keep = m.view(0, 8);
    const drop = m.view(0, 8);
    m.detach(drop);
    expect(drop.byteLength).toBe(0);
    expect(keep.byteLength).toBe(8);
    expect(() => m.detach(new ArrayBuffer(4))).toThrow(TypeError);
    expect(() => m.detach(new Uint8Array(4) as never)).toThrow(TypeError);
    const other = map(fd, size);
    expect(() => other.detach(keep)).toThrow(TypeError);
  });

  it('checks view bounds (EINVAL, syscall "view") and allows empty views', () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    expectErrno(() => m.view(0, size + 1), 'EINVAL', 'view');
    expectErrno(() => m.view(size, 1), 'EINVAL', 'view');
    expectErrno(() => m.view(size + 1, 0), 'EINVAL', 'view');
    expectErrno(() => m.view(1, Number.MAX_SAFE_INTEGER), 'EINVAL', 'view');
    expect(() => m.view(-1, 1)).toThrow(RangeError);
    expect(m.view(size, 0).byteLength).toBe(0);
    expect(m.view(0, size).byteLength).toBe(size);
  });

  it('mmap errors: length 0 or negative is EINVAL without mmap; bad fd is EBADF', () => {
    const a = addon();
    const { fd } = memfd();
    const rw = a.constants.PROT_READ | a.constants.PROT_WRITE;
    expectErrno(() => new a.Mapping(fd, 0, rw, 0), 'EINVAL', 'mmap');
    expectErrno(() => new a.Mapping(fd, -4096, rw, 0), 'EINVAL', 'mmap');
    expectErrno(() => new a.Mapping(-1, 4096, rw, 0), 'EBADF', 'mmap');
    expectErrno(() => new a.Mapping(fd, 4096, rw, 1), 'EINVAL', 'mmap'); // unaligned offset
    const ro = a.open('/dev/null', a.constants.O_RDONLY);
    cleanups.push(() => a.close(ro));
    // MAP_SHARED + PROT_WRITE needs an fd open for writing.
    expectErrno(() => new a.Mapping(ro, 4096, rw, 0), 'EACCES', 'mmap');
  });

  it('views cannot be transferred away from the mapping (Node copies untransferable buffers)', () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    const view = m.view(0, 8);
    const clone = structuredClone(view, { transfer: [view] });
    new Uint8Array(clone)[0] = 1;
    expect(new Uint8Array(view)[0]).toBe(0);
    m.unmap();
    expect(view.byteLength).toBe(0);
    expect(clone.byteLength).toBe(8);
  });

  it('leaves no mapping and no fd behind after 1000 map/view/unmap cycles', () => {
    const a = addon();
    const { fd, name, size } = memfd();
    const fds = fdSnapshot();
    for (let i = 0; i < 1000; i++) {
      const m = new a.Mapping(fd, size, a.constants.PROT_READ | a.constants.PROT_WRITE, 0);
      const view = new Uint8Array(m.view(0, 64));
      view[0] = i & 0xff;
      m.unmap();
      expect(view.length).toBe(0);
    }
    expect(memfdMappings(name)).toEqual([]);
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('a view keeps the memory mapped after its Mapping is garbage-collected', async () => {
    const a = addon();
    const { fd, name, size } = memfd();
    let view: Uint8Array | undefined = (() => {
      const m = new a.Mapping(fd, size, a.constants.PROT_READ | a.constants.PROT_WRITE, 0);
      const bytes = new Uint8Array(m.view(0, size));
      bytes.fill(0xab);
      return bytes;
    })();
    await collect();
    expect(memfdMappings(name).length).toBe(1);
    expect(view.length).toBe(size);
    expect(view.every((byte) => byte === 0xab)).toBe(true);
    view[size - 1] = 1; // still writable, no SIGSEGV
    const last = new Uint8Array(1);
    expect(readSync(fd, last, 0, 1, size - 1)).toBe(1);
    expect([...last]).toEqual([1]);
    view = undefined;
    await collect();
    expect(memfdMappings(name)).toEqual([]);
  });

  it('munmaps when both the Mapping and its views are garbage-collected', async () => {
    const a = addon();
    const { fd, name, size } = memfd();
    (() => {
      for (let i = 0; i < 50; i++) {
        const m = new a.Mapping(fd, size, a.constants.PROT_READ, 0);
        new Uint8Array(m.view(0, 8));
      }
    })();
    expect(memfdMappings(name).length).toBeGreaterThan(0);
    await collect();
    expect(memfdMappings(name)).toEqual([]);
  });

  it('a long-lived mapping handing out many short-lived views stays bounded and correct', async () => {
    const { fd, size } = memfd();
    const m = map(fd, size);
    const kept = m.view(0, 4);
    for (let i = 0; i < 5000; i++) m.view(i % size, 1);
    await collect();
    m.view(0, 1);
    m.unmap();
    expect(kept.byteLength).toBe(0);
  });
});
