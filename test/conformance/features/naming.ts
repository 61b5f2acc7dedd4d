/** Buffer names (DMA_BUF_SET_NAME): set at allocation or later, read back, refused when too long. */
import { describe, expect, it } from 'vitest';
import { DmaBuf } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { thrown } from '../../helpers/errors.js';
import { shape } from './shared.js';

export function naming(b: ConformanceBackend): void {
  describe('names', () => {
    it('names: empty at first, set at allocation or with setName, 31 bytes of UTF-8 at most', () => {
      using buf = b.allocate(4096);
      expect(buf.name).toBe('');
      buf.setName('frame-0');
      expect(buf.name).toBe('frame-0');
      const ascii31 = 'a'.repeat(31);
      buf.setName(ascii31);
      expect(buf.name).toBe(ascii31);
      // 15 two-byte characters and one one-byte: 31 bytes, 16 characters.
      const utf31 = `${'é'.repeat(15)}x`;
      buf.setName(utf31);
      expect(buf.name).toBe(utf31);
      for (const [name, code] of [
        ['a'.repeat(32), 'EINVAL'],
        ['é'.repeat(16), 'EINVAL'],
        ['nul\0inside', 'EINVAL'],
        [42, 'ERR_INVALID_ARG_TYPE'],
        [undefined, 'ERR_INVALID_ARG_TYPE'],
      ] as const) {
        const error = thrown(() => buf.setName(name as string));
        expect(shape(error), `setName(${String(name)})`).toEqual({ code, argument: 'name' });
        expect(error.syscall).toBe('DMA_BUF_SET_NAME');
        expect(buf.name).toBe(utf31);
      }
      buf.setName('');
      expect(buf.name).toBe('');

      using named = b.allocate(4096, { name: 'at-allocation' });
      expect(named.name).toBe('at-allocation');
      using namedU = b.udmabuf(4096, { name: 'udmabuf-name' });
      expect(namedU.name).toBe('udmabuf-name');
      // A second holder sees the buffer's name: it belongs to the buffer, not the holder.
      using second = DmaBuf.fromFd(named.fd);
      expect(second.name).toBe('at-allocation');
      second.setName('renamed');
      expect(named.name).toBe('renamed');
    });

    it('names with spaces and non-ASCII characters read back unchanged', () => {
      using buf = b.allocate(4096);
      for (const name of [' leading', 'trailing ', 'two  spaces', 'ünïcødé → ✓', '日本語']) {
        buf.setName(name);
        expect(buf.name, JSON.stringify(name)).toBe(name);
      }
    });

    it('a bad name at allocation is refused before anything is allocated', () => {
      for (const make of [(o: { name: string }) => b.allocate(4096, o), (o: { name: string }) => b.udmabuf(4096, o)]) {
        const error = thrown(() => make({ name: 'n'.repeat(32) }));
        expect(shape(error)).toEqual({ code: 'EINVAL', argument: 'name' });
        expect(error.syscall).toBe('DMA_BUF_SET_NAME');
      }
    });
  });
}
