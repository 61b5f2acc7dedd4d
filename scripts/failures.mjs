// One line per failed test, the same in every suite's summary (scripts/vm/suite.mjs in a VM,
// scripts/test-all.mjs for the host and package suites, and all of them again at the very end of
// test-all): CI shows only the tail of a run, so a failure must be named there, with why.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = 'failed: ';

// The first line of an error, without colours, cut so that each failure stays one line.
function firstLine(message = '') {
  const line = (
    stripVTControlCharacters(message)
      .split('\n')
      .find((l) => l.trim()) ?? '(no message)'
  ).trim();
  // A test that fails inside a `using` block whose disposal then throws too (a bracket left open)
  // ends with a SuppressedError without a message; the test's own error is in its report above.
  if (line === 'SuppressedError:') return 'SuppressedError: a disposal threw after the test failed; its report in the log above has both errors';
  return line.slice(0, 300);
}

/**
 * The failure lines of a vitest JSON report (its parsed object): one per failed test,
 * `failed: test/kernel/x.test.ts > describe > test: AssertionError: …`, and one per file that
 * failed without a failed test (an import or a hook that threw).
 */
export function reportFailures(report) {
  return report.testResults.flatMap((file) => {
    const where = relative(REPO, file.name);
    const tests = file.assertionResults.filter((t) => t.status === 'failed');
    if (tests.length === 0 && file.status === 'failed') return [`${PREFIX}${where}: ${firstLine(file.message)}`];
    return tests.map((t) => `${PREFIX}${where} > ${[...t.ancestorTitles, t.title].join(' > ')}: ${firstLine(t.failureMessages?.[0])}`);
  });
}

/** The failure lines in a suite's printed output (a VM's, whose report stays in the guest). */
export const printedFailures = (output) => output.split(/\r?\n/).filter((line) => line.startsWith(PREFIX));
