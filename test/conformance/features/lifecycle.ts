/** Closing a buffer: refused inside a bracket, twice is fine, and every method of a closed one throws. */
import { describe, expect, it } from 'vitest';
import { MisuseCode } from '../../../lib/index.js';
import type { ConformanceBackend } from '../../helpers/backends.js';
import { rejection, thrown } from '../../helpers/errors.js';
import { shape, readAll } from './shared.js';

export function lifecycle(b: ConformanceBackend): void {
  describe('lifecycle', () => {
    it('close() is refused while a bracket is open; the buffer stays usable; close twice is fine', () => {
      const buf = b.allocate(4096);
      const access = buf.beginCpuAccess('write');
      access.bytes[0] = 7;
      const error = thrown(() => buf.close());
      expect(error.code).toBe(MisuseCode.CLOSE_IN_BRACKET);
      expect(buf.closed).toBe(false);
      access.end();
      expect(readAll(buf)[0]).toBe(7);
      buf.close();
      expect(buf.closed).toBe(true);
      buf.close();
    });

    it('every method of a closed DmaBuf throws ERR_DMABUF_CLOSED, also the async ones', async () => {
      const buf = b.allocate(4096);
      using other = b.allocate(4096);
      using sync = other.exportSyncFile('read');
      buf.close();
      const closed = { code: MisuseCode.CLOSED, argument: undefined };
      const calls: [string, () => unknown][] = [
        ['fd', () => buf.fd],
        ['size', () => buf.size],
        ['name', () => buf.name],
        ['exporter', () => buf.exporter],
        ['backend', () => buf.backend],
        ['setName', () => buf.setName('x')],
        ['beginCpuAccess', () => buf.beginCpuAccess('read')],
        ['withCpuAccess', () => buf.withCpuAccess('read', () => 0)],
        ['exportSyncFile', () => buf.exportSyncFile('read')],
        ['importSyncFile', () => buf.importSyncFile(sync, 'read')],
      ];
      for (const [what, call] of calls) expect(shape(thrown(call)), what).toEqual(closed);
      expect(shape(await rejection(buf.cpuAccess('read')))).toEqual(closed);
      expect(shape(await rejection(buf.waitIdle('read')))).toEqual(closed);
      // A closed object says so before it looks at the arguments (test/host/closed.test.ts checks every class).
      expect(thrown(() => buf.beginCpuAccess('bogus' as 'read')).code).toBe(MisuseCode.CLOSED);
      buf.close();
    });
  });
}
