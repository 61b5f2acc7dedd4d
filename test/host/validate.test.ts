import { describe, expect, it, vi } from 'vitest';
import { DmaBufError, AbortError } from '../../lib/index.js';
import { errnoName, errnoOf } from '../../lib/common/errors.js';
import { checkAccessMode, checkName, checkTimeout, checkFenceMode, checkInteger } from '../../lib/validate.js';

describe('argument validation', () => {
  it('modes', () => {
    expect(checkAccessMode('s', 'read')).toBe('read');
    expect(() => checkAccessMode('s', 'rw')).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'mode', syscall: 's' }));
    expect(() => checkAccessMode('s', 3)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => checkFenceMode('s', 'readwrite')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('names: at most 31 bytes of UTF-8, no NUL', () => {
    expect(checkName('s', 'a'.repeat(31))).toHaveLength(31);
    expect(() => checkName('s', 'a'.repeat(32))).toThrow(expect.objectContaining({ code: 'EINVAL', argument: 'name' }));
    // 16 two-byte characters are 32 bytes: too long, though only 16 characters.
    expect(() => checkName('s', 'é'.repeat(16))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => checkName('s', 'a\0b')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('integers', () => {
    expect(() => checkInteger('s', 'size', 2 ** 53, 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => checkInteger('s', 'size', 1.5, 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => checkInteger('s', 'size', 10n as never, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('timeouts', () => {
    expect(checkTimeout('s', undefined)).toBe(-1);
    expect(checkTimeout('s', { timeoutMs: 1.2 })).toBe(2);
    expect(() => checkTimeout('s', { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => checkTimeout('s', { timeoutMs: NaN })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('instanceof DmaBufError holds for errors from another copy of the module, and only for those', async () => {
    vi.resetModules();
    const copy = await import('../../lib/common/errors.js');
    expect(copy.DmaBufError).not.toBe(DmaBufError);
    expect(new copy.DmaBufError('EINVAL', 'x')).toBeInstanceOf(DmaBufError);
    expect(new DmaBufError('EINVAL', 'x')).toBeInstanceOf(copy.DmaBufError);
    expect(new Error('x')).not.toBeInstanceOf(DmaBufError);
    expect(Object.assign(new Error('x'), { code: 'EINVAL' })).not.toBeInstanceOf(DmaBufError);
    expect(null).not.toBeInstanceOf(DmaBufError);
  });

  it('errors are shaped like SystemError', () => {
    const e = new DmaBufError('EINVAL', 'bad', { syscall: 'DMA_BUF_IOCTL_SYNC' });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'DmaBufError', code: 'EINVAL', errno: 22, syscall: 'DMA_BUF_IOCTL_SYNC' });
    expect(new DmaBufError('ERR_DMABUF_CLOSED', 'x').errno).toBeUndefined();
    expect(errnoOf('EBADFD')).toBe(77);
    expect(errnoName(524)).toBe('ENOTSUPP');
    expect(errnoName(25)).toBe('ENOTTY');
    expect(new AbortError()).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });
});
