import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { addonPath, loadAddon, tryLoad } from '../../lib/native/load.js';

describe('native addon loader', () => {
  it('says the addon is Linux-only elsewhere', () => {
    const result = tryLoad(addonPath(), 'darwin');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/only on Linux.*DMABUF_BACKEND=emulated/);
  });

  it('says how to build it when the binary is missing', () => {
    const result = tryLoad('/nonexistent/dmabuf.node', 'linux');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/not built.*npm rebuild dmabuf.*g\+\+/);
  });

  it('says to rebuild when the binary does not load', () => {
    const result = tryLoad(new URL('../fixtures/child-reads-fd3.mjs', import.meta.url).pathname, 'linux');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/failed to load.*npm rebuild dmabuf/);
  });

  it.runIf(process.platform === 'linux')('loads the built addon on Linux (npm ci builds it)', () => {
    expect(existsSync(addonPath())).toBe(true);
    const result = loadAddon();
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.addon.constants.PAGE_SIZE).toBeGreaterThanOrEqual(4096);
  });
});
