// The addon's test-only calls live on one object, `testHooks`, that the library never touches: the
// public exports stay what lib/ needs, and a raw knob cannot be reached by accident.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinux } from '../helpers/env.js';
import { addon } from '../helpers/addon.js';
import { closedAfterEach } from '../helpers/tracked-fds.js';

const HOOKS = ['getFdFlags', 'heapAllocRaw', 'lseek', 'monotonicNs', 'syncFileInfoRaw', 'syncFileMergeRaw', 'syncFileSetDeadlineRaw'];

describe.runIf(isLinux)('native test hooks (Linux only: the addon builds only there)', () => {
  const track = closedAfterEach();

  it('are these, frozen, and none of them is also a public export', () => {
    const a = addon();
    expect(Object.keys(a.testHooks).sort()).toEqual(HOOKS);
    expect(Object.isFrozen(a.testHooks)).toBe(true);
    for (const name of HOOKS) expect(name in a, name).toBe(false);
    for (const name of ['read', 'write']) expect(name in a || name in a.testHooks, name).toBe(false);
  });

  it('the raw twins require the fields they set; the public calls have no such argument', () => {
    const a = addon();
    const fd = track(a.memfdCreate('hooks', 0));
    const { O_RDWR, O_CLOEXEC } = a.constants;
    expect(() => a.testHooks.heapAllocRaw(fd, 4096, O_RDWR | O_CLOEXEC, 0, undefined as never)).toThrow(TypeError);
    expect(() => a.testHooks.syncFileInfoRaw(fd, undefined as never)).toThrow(TypeError);
    expect(() => a.testHooks.syncFileMergeRaw(fd, fd, 'x', undefined as never)).toThrow(TypeError);
    expect(() => a.testHooks.syncFileSetDeadlineRaw(fd, 1n, undefined as never)).toThrow(TypeError);
    // Extra arguments to the public calls are ignored, not read as knobs: a bad one changes nothing.
    const call = (f: () => unknown): unknown => {
      try {
        f();
      } catch (error) {
        return (error as { code?: string }).code ?? (error as Error).name;
      }
      return 'ok';
    };
    const extra = (name: string, args: unknown[]) => (a as unknown as Record<string, (...xs: unknown[]) => unknown>)[name]!(...args);
    expect(call(() => extra('heapAlloc', [fd, 4096, O_RDWR | O_CLOEXEC, 0, 'not a number']))).toBe('ENOTTY');
    expect(call(() => extra('syncFileInfo', [fd, 'not an object']))).toBe('ENOTTY');
    expect(call(() => extra('syncFileMerge', [fd, fd, 'x', 'not an object']))).toBe('ENOTTY');
    expect(call(() => extra('syncFileSetDeadline', [fd, 1n, 'not a number']))).toBe('ENOTTY');
  });

  it('lib/ never uses them', () => {
    const lib = new URL('../../lib/', import.meta.url).pathname;
    const users = readdirSync(lib, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && file !== join('native', 'addon.ts'))
      .filter((file) => readFileSync(join(lib, file), 'utf8').includes('testHooks'));
    expect(users).toEqual([]);
  });
});
