/** Several holders of one buffer (DmaBuf.fromFd): one buffer, one set of bytes, a bracket each. */
import { describe, expect, it } from 'vitest';
import { DmaBuf, region } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { KiB, readAll } from './shared.js';

export function holders(b: ConformanceBackend): void {
  describe('holders', () => {
    it('a second holder from DmaBuf.fromFd(buf.fd) sees the data, both ways', () => {
      using buf = b.allocate(8 * KiB, { name: 'shared' });
      buf.withCpuAccess('write', (access) => access.bytes.fill(0x5a));
      using second = DmaBuf.fromFd(buf.fd);
      if (b.supports.realFds) expect(second.fd).not.toBe(buf.fd);
      expect(second.size).toBe(buf.size);
      expect(second.exporter).toBe(buf.exporter);
      expect(readAll(second).every((x) => x === 0x5a)).toBe(true);
      second.withCpuAccess('write', region.linear({ offset: 100, length: 10 }), (access) => access.bytes.fill(0xa5));
      const back = readAll(buf);
      expect([...back.subarray(98, 112)]).toEqual([0x5a, 0x5a, ...Array(10).fill(0xa5), 0x5a, 0x5a]);
      // Closing one holder leaves the other working.
      second.close();
      expect(readAll(buf)[105]).toBe(0xa5);
    });

    it('two holders may each have a read bracket open at once', () => {
      using buf = b.udmabuf(4096);
      buf.withCpuAccess('write', (access) => access.bytes.fill(3));
      using second = DmaBuf.fromFd(buf.fd);
      using first = buf.beginCpuAccess('read');
      using other = second.beginCpuAccess('read', region.linear({ offset: 10, length: 20 }));
      expect(first.bytes[0]).toBe(3);
      expect([...other.bytes]).toEqual(Array(20).fill(3));
    });
  });
}
