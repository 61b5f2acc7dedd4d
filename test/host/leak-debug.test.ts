// NODE_DEBUG=dmabuf names what a program dropped without close() when the finalizer closes it,
// with the line of the program that made it: how to find a leak.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addonLoads } from '../helpers/env.js';
import { fixturePath } from '../helpers/fixtures.js';

describe.runIf(addonLoads)('NODE_DEBUG=dmabuf and dropped objects (needs the native addon: Linux)', () => {
  it('the finalizer says which object was dropped, its fd, and the line that made it', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', fixturePath('drops-a-memfd.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, NODE_DEBUG: 'dmabuf' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /a Memfd \(\?, fd \d+\) was dropped without close\(\): its finalizer closes it; made at makeAndForget \(.*drops-a-memfd\.mjs:6:\d+\)/,
    );
  });

  it('without NODE_DEBUG it says nothing', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', fixturePath('drops-a-memfd.mjs')], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
