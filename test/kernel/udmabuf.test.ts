import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DmaBufError, Udmabuf } from '../../lib/index.js';
import { kernelAtLeast, PAGE, provides } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { expectNothingLeftEachTest } from '../helpers/leaks.js';
import { fdinfo, fdSnapshot, fdsMadeSince } from '../helpers/proc.js';
import { openFifo } from '../helpers/fifo.js';

describe.runIf(provides.udmabuf)('kernel: udmabuf (needs /dev/udmabuf)', () => {
  const c = () => addon().constants;
  let dev = -1;
  const toClose: number[] = [];
  // Registered first, so that its check runs after the hook below closes what the test left to it.
  expectNothingLeftEachTest();
  beforeEach(() => {
    dev = addon().open('/dev/udmabuf', c().O_RDWR);
  });
  afterEach(() => {
    for (const fd of toClose.splice(0)) addon().close(fd);
    addon().close(dev);
  });

  function memfd(size: number, seals: number, flags = c().MFD_ALLOW_SEALING): number {
    const fd = addon().memfdCreate('udmabuf-test', flags);
    toClose.push(fd);
    addon().ftruncate(fd, size);
    if (seals) addon().addSeals(fd, seals);
    return fd;
  }

  /** The kernel's answer to UDMABUF_CREATE, and that no fd was created. */
  function rawCreate(fd: number, offset: number, size: number): DmaBufError {
    const fds = fdSnapshot();
    let caught: unknown;
    try {
      addon().close(addon().udmabufCreate(dev, fd, offset, size, c().UDMABUF_FLAGS_CLOEXEC));
    } catch (error) {
      caught = error;
    }
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(caught).toBeInstanceOf(DmaBufError);
    return caught as DmaBufError;
  }

  /** The public API's answer, which must match the kernel's and come first. */
  function publicCreate(fd: number, offset: number, size: number): DmaBufError {
    const fds = fdSnapshot();
    let caught: unknown;
    try {
      Udmabuf.fromSegments([{ memfd: fd, offset, size }]).close();
    } catch (error) {
      caught = error;
    }
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(caught).toBeInstanceOf(DmaBufError);
    return caught as DmaBufError;
  }

  // Kernel case #11 (docs/kernel-cases.md).
  it('a memfd without MFD_ALLOW_SEALING → EINVAL', () => {
    const fd = memfd(PAGE, 0, 0);
    expect(rawCreate(fd, 0, PAGE).code).toBe('EINVAL');
    expect(publicCreate(fd, 0, PAGE).code).toBe('EINVAL');
  });

  // Kernel case #12 (docs/kernel-cases.md).
  it('a sealable memfd without F_SEAL_SHRINK → EINVAL', () => {
    const fd = memfd(PAGE, 0);
    expect(rawCreate(fd, 0, PAGE).code).toBe('EINVAL');
    expect(publicCreate(fd, 0, PAGE).code).toBe('EINVAL');
  });

  // Kernel case #13 (docs/kernel-cases.md).
  it('sealed F_SEAL_SHRINK|F_SEAL_WRITE → EINVAL', () => {
    const fd = memfd(PAGE, c().F_SEAL_SHRINK | c().F_SEAL_WRITE);
    expect(rawCreate(fd, 0, PAGE).code).toBe('EINVAL');
    expect(publicCreate(fd, 0, PAGE).code).toBe('EINVAL');
  });

  // Kernel case #14 (docs/kernel-cases.md).
  it('sealed F_SEAL_SHRINK|F_SEAL_FUTURE_WRITE → EINVAL', () => {
    const fd = memfd(PAGE, c().F_SEAL_SHRINK | c().F_SEAL_FUTURE_WRITE);
    expect(rawCreate(fd, 0, PAGE).code).toBe('EINVAL');
    expect(publicCreate(fd, 0, PAGE).code).toBe('EINVAL');
  });

  // Kernel case #15 #16 #17 #18 (docs/kernel-cases.md).
  it('unaligned offset, unaligned size, size 0, past EOF → EINVAL', () => {
    const fd = memfd(2 * PAGE, c().F_SEAL_SHRINK);
    expect(rawCreate(fd, 2048, PAGE).code).toBe('EINVAL');
    expect(rawCreate(fd, 0, 2048).code).toBe('EINVAL');
    expect(rawCreate(fd, 0, 0).code).toBe('EINVAL');
    expect(rawCreate(fd, PAGE, 2 * PAGE).code).toBe('EINVAL');
    expect(publicCreate(fd, 2048, PAGE)).toMatchObject({ code: 'EINVAL', argument: 'segments[0].offset' });
    expect(publicCreate(fd, 0, 2048)).toMatchObject({ code: 'EINVAL', argument: 'segments[0].size' });
    expect(publicCreate(fd, 0, 0)).toMatchObject({ code: 'EINVAL', argument: 'segments[0].size' });
    expect(publicCreate(fd, PAGE, 2 * PAGE)).toMatchObject({ code: 'EINVAL', argument: 'segments[0].memfd' });
  });

  // Kernel case #19 (docs/kernel-cases.md).
  it('a regular file or a pipe instead of a memfd → EBADFD (77), not EBADF', () => {
    const file = addon().open('/proc/self/exe', c().O_RDONLY);
    const [readEnd, writeEnd] = openFifo();
    toClose.push(file, readEnd, writeEnd);
    for (const fd of [file, readEnd]) {
      expect(rawCreate(fd, 0, PAGE)).toMatchObject({ code: 'EBADFD', errno: 77 });
      expect(publicCreate(fd, 0, PAGE)).toMatchObject({ code: 'EBADFD', errno: 77 });
    }
  });

  // Kernel case #20 (docs/kernel-cases.md).
  it('a closed fd as memfd → EBADFD', () => {
    const fd = memfd(PAGE, c().F_SEAL_SHRINK);
    toClose.pop();
    addon().close(fd);
    expect(rawCreate(fd, 0, PAGE)).toMatchObject({ code: 'EBADFD', errno: 77 });
    expect(publicCreate(fd, 0, PAGE)).toMatchObject({ code: 'EBADFD', errno: 77 });
  });

  // Kernel case #22 (docs/kernel-cases.md).
  it('CREATE_LIST with count 0 and 1025 → EINVAL (kernel and public)', () => {
    const fd = memfd(PAGE, c().F_SEAL_SHRINK);
    expect(() => addon().udmabufCreateList(dev, c().UDMABUF_FLAGS_CLOEXEC, [])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const many = Array.from({ length: 1025 }, () => ({ memfd: fd, offset: 0, size: PAGE }));
    expect(() => addon().udmabufCreateList(dev, c().UDMABUF_FLAGS_CLOEXEC, many)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => Udmabuf.fromSegments([])).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'segments' }));
    expect(() => Udmabuf.fromSegments(many)).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'segments' }));
  });

  // Kernel case #26 (docs/kernel-cases.md).
  it('MAP_PRIVATE of a udmabuf → EINVAL; the wrapper maps MAP_SHARED', () => {
    using buf = Udmabuf.create(PAGE);
    expect(() => new (addon().Mapping)(buf.fd, PAGE, c().PROT_READ, 0, c().MAP_PRIVATE)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    buf.withCpuAccess('readwrite', (a) => {
      a.bytes[0] = 1;
      expect(a.bytes[0]).toBe(1);
    });
  });

  it('create(): page-rounded, exporter udmabuf, FD_CLOEXEC, the memfd already closed', () => {
    const fds = fdSnapshot();
    const buf = Udmabuf.create(5000, { name: 'udma' });
    expect(buf.size).toBe(Math.ceil(5000 / PAGE) * PAGE); // 2 pages of 4K, 1 of 16K
    expect(buf.exporter).toBe('udmabuf');
    expect(fdinfo(buf.fd)['exp_name']).toBe('udmabuf');
    expect(buf.name).toBe('udma');
    expect(addon().testHooks.getFdFlags(buf.fd) & c().FD_CLOEXEC).toBe(c().FD_CLOEXEC);
    expect(fdsMadeSince(fds)).toHaveLength(1); // the udmabuf's own fd, not the memfd behind it
    buf.close();
    expect(fdsMadeSince(fds)).toEqual([]);
  });

  it('fromSegments: memfd pages are aliased both ways, across a CREATE_LIST of two segments', () => {
    const a = memfd(2 * PAGE, c().F_SEAL_SHRINK);
    const b = memfd(PAGE, c().F_SEAL_SHRINK);
    using buf = Udmabuf.fromSegments([
      { memfd: a, offset: PAGE, size: PAGE },
      { memfd: b, offset: 0, size: PAGE },
    ]);
    expect(buf.size).toBe(2 * PAGE);
    const mapA = new (addon().Mapping)(a, 2 * PAGE, c().PROT_READ | c().PROT_WRITE, 0);
    const mapB = new (addon().Mapping)(b, PAGE, c().PROT_READ | c().PROT_WRITE, 0);
    try {
      new Uint8Array(mapA.view(PAGE, PAGE)).fill(0x61); // 'a' through the memfd
      new Uint8Array(mapB.view(0, PAGE)).fill(0x62);
      buf.withCpuAccess('readwrite', (access) => {
        expect(access.bytes[0]).toBe(0x61);
        expect(access.bytes[PAGE]).toBe(0x62);
        access.bytes[PAGE + 1] = 0x63;
      });
      expect(new Uint8Array(mapB.view(0, 2))[1]).toBe(0x63);
    } finally {
      mapA.unmap();
      mapB.unmap();
    }
  });

  // size_limit_mb, the most MiB one buffer may hold: 64 by default up to Linux 7.2 (6.12 in the
  // x86_64 and arm64 VMs), INT_MAX, i.e. no limit, from 7.3 (x86_64-next). Each kernel's own default
  // is asserted; the limit itself is tested at 64 on both.
  const SIZE_LIMIT = '/sys/module/udmabuf/parameters/size_limit_mb';
  const noLimit = kernelAtLeast(7, 3);
  const MiB = 1024 * 1024;

  it(`size_limit_mb defaults to ${noLimit ? 'INT_MAX (no limit) from Linux 7.3' : '64 MiB before Linux 7.3'}`, () => {
    expect(readFileSync(SIZE_LIMIT, 'utf8').trim()).toBe(noLimit ? String(2 ** 31 - 1) : '64');
  });

  it(`at its default, a 65 MiB buffer is ${noLimit ? 'created (7.3 and later)' : 'EINVAL from the kernel and the public API, leaving nothing (before 7.3)'}`, () => {
    const size = 65 * MiB;
    if (noLimit) {
      // afterEach checks that nothing is left open.
      const fd = memfd(size, c().F_SEAL_SHRINK);
      addon().close(addon().udmabufCreate(dev, fd, 0, size, c().UDMABUF_FLAGS_CLOEXEC));
      using buf = Udmabuf.create(size);
      expect(buf.size).toBe(size);
      buf.withCpuAccess('write', undefined, (a) => {
        a.bytes[size - 1] = 7;
      });
    } else {
      const fd = memfd(size, c().F_SEAL_SHRINK);
      expect(rawCreate(fd, 0, size).code).toBe('EINVAL');
      expect(publicCreate(fd, 0, size).code).toBe('EINVAL');
      expect(() => Udmabuf.create(size)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining('size_limit_mb (64 MiB)') }));
    }
  });

  it('with size_limit_mb at 64 (set so from 7.3 on), 65 MiB is EINVAL from the kernel and from the public API first; 64 MiB is created', () => {
    const before = readFileSync(SIZE_LIMIT, 'utf8').trim();
    writeFileSync(SIZE_LIMIT, '64');
    try {
      const fd = memfd(65 * MiB, c().F_SEAL_SHRINK);
      expect(rawCreate(fd, 0, 65 * MiB).code).toBe('EINVAL');
      expect(publicCreate(fd, 0, 65 * MiB)).toMatchObject({ code: 'EINVAL', argument: 'size', message: expect.stringContaining('size_limit_mb (64 MiB)') });
      const fds = fdSnapshot();
      expect(() => Udmabuf.create(65 * MiB)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(fdsMadeSince(fds)).toEqual([]);
      using buf = Udmabuf.create(64 * MiB);
      expect(buf.size).toBe(64 * MiB);
    } finally {
      writeFileSync(SIZE_LIMIT, before);
    }
    expect(readFileSync(SIZE_LIMIT, 'utf8').trim()).toBe(before);
  });
});
