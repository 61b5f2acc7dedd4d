// At the fd limit every public call fails as a DmaBufError (EMFILE), or succeeds, and leaves the fd
// table as it was. A child process fills its own table (test/fixtures/at-fd-limit.mjs); in the
// VMs the same run covers the kernel backend's calls too.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { addonLoads, requireKernel, vmSlowdown } from '../helpers/env.js';
import { fixturePath } from '../helpers/fixtures.js';

describe.runIf(addonLoads)('at RLIMIT_NOFILE', () => {
  it('every call that needs an fd throws a DmaBufError (EMFILE) or succeeds, and leaks nothing', () => {
    const fixture = fixturePath('at-fd-limit.mjs');
    // Under vitest's own timeout for the test (120 s × the slowdown in a VM): the child took about
    // a minute under the arm64 profile's software CPU, and past 120 s on a busy machine.
    const r = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 110_000 * vmSlowdown });
    expect(r.status, r.stderr).toBe(0);
    const { calls: results, brackets } = JSON.parse(r.stdout) as {
      calls: { op: string; free: number; outcome: string; leaked: number }[];
      brackets: { what: string; outcome: string }[];
    };
    const ops = new Set(results.map((x) => x.op));
    expect(ops).toContain('Memfd.create');
    if (requireKernel) expect(ops).toContain('DmaBuf.fromFd');
    for (const x of results) {
      expect(x.outcome, `${x.op} with ${x.free} free`).toMatch(/^(ok|EMFILE)$/);
      expect(x.leaked, `${x.op} with ${x.free} free`).toBe(0);
    }
    // With no slot free, nothing that needs an fd can succeed.
    for (const x of results.filter((y) => y.free === 0 && !['buf.cpuAccess', 'DmaHeap.list details'].includes(y.op))) {
      expect(x.outcome, x.op).toBe('EMFILE');
    }
    // What the program already holds keeps working with no fd free: brackets need none.
    if (requireKernel) expect(brackets.map((b) => b.what)).toHaveLength(12);
    for (const b of brackets) expect(b.outcome, b.what).toBe('ok');
  });
});
