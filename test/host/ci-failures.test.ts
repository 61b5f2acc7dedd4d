// CI keeps only the tail of a run, so test-all's summary names every failed test with the first
// line of why (scripts/failures.mjs). Here a real vitest run of three fixtures (a failing test, a
// file that throws on import, a failure followed by a throwing disposal) writes the JSON report
// these lines are made from.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script of the CI tooling, without types
import { printedFailures, reportFailures } from '../../scripts/failures.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'dmabuf-ci-failures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the failure lines at the end of CI', () => {
  it('name each failed test and failed file of a real vitest report, with the first line of why', () => {
    const report = join(dir, 'report.json');
    const run = spawnSync(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/ci-failures/vitest.config.mjs', '--reporter=json', `--outputFile.json=${report}`],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } },
    );
    expect(run.status, run.stderr).toBe(1);
    const lines: string[] = reportFailures(JSON.parse(readFileSync(report, 'utf8')));
    expect(lines.sort()).toEqual([
      'failed: test/fixtures/ci-failures/broken.fixture.mjs: the file itself failed',
      'failed: test/fixtures/ci-failures/failing.fixture.mjs > fails with a reason: Error: the first line of why',
      expect.stringMatching(/^failed: test\/fixtures\/ci-failures\/suppressed.fixture.ts > fails, then its disposal throws: SuppressedError: \S/),
    ]);
  });

  it("are found again in a VM's printed output, serial-console line ends included", () => {
    const output = 'vm: 1 passed, 1 failed, 0 skipped\r\nfailed: a.test.ts > b: Error: c\r\n [x] failed: not at the start\nfailed: d.test.ts: e\n';
    expect(printedFailures(output)).toEqual(['failed: a.test.ts > b: Error: c', 'failed: d.test.ts: e']);
  });
});
