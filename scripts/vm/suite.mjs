// Runs inside the VM (`run.mjs --test`): the vitest suite (less the host-only suites run.mjs
// leaves out), then a count of what ran. In the
// VM every device the profile declares is present, so a skipped test means a gate is wrong: it
// fails the run, as does a kernel suite that ran no test at all. The one exception is declared:
// on a profile without dma-heaps or python3 (DMABUF_VM_PROVIDES lacks them), tests marked
// '[needs dma-heaps]' or '[needs python3]' are out of the profile and counted apart, never as
// skipped or passed; so are '[needs a machine without dma-buf devices]' (the host's case) everywhere.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportFailures } from '../failures.mjs';

const dir = mkdtempSync(join(tmpdir(), 'dmabuf-suite-'));
const report = join(dir, 'vitest.json');
let status;
let results;
try {
  const args = ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
  // The kernel backend runs checked (DMABUF_CHECK=1), so the conformance suite asserts the same
  // bracket violations on both backends; tests of unchecked behaviour ask for `checked: false`.
  const env = { ...process.env, DMABUF_CHECK: process.env.DMABUF_CHECK ?? '1' };
  status = spawnSync(process.execPath, args, { stdio: 'inherit', env }).status ?? 1;
  results = JSON.parse(readFileSync(report, 'utf8'));
} catch (error) {
  console.error(`suite: no vitest report (${error.message})`);
  process.exit(status || 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const tests = results.testResults.flatMap((file) =>
  file.assertionResults.map((t) => ({ file: file.name, name: [...t.ancestorTitles, t.title].join(' > '), status: t.status })),
);
const isKernel = (t) => /\/test\/kernel\//.test(t.file) || /\bkernel\b/.test(t.name);
const count = (list, status) => list.filter((t) => t.status === status).length;
const kernel = tests.filter(isKernel);
// The marks of test/helpers/env.ts, for the features a profile may declare absent.
const MARKS = {
  heaps: '[needs dma-heaps]',
  'virtio-gpu': '[needs virtio-gpu]',
  python3: '[needs python3]',
  gst: '[needs the GStreamer root: npm run gst:prepare]',
};
const provided = (process.env.DMABUF_VM_PROVIDES ?? Object.keys(MARKS).join(',')).split(',');
const absentMarks = Object.entries(MARKS)
  .filter(([feature]) => !provided.includes(feature))
  .map(([, mark]) => mark);
// And the heap-less case's own tests are out of a profile whose kernel has heaps.
if (provided.includes('heaps')) absentMarks.push('[needs a kernel without dma-heaps]');
// Every profile has udmabuf, so the tests of a machine without dma-buf devices are out of all of them.
absentMarks.push('[needs a machine without dma-buf devices]');
const notRun = (t) => t.status !== 'passed' && t.status !== 'failed';
const declaredOut = tests.filter((t) => notRun(t) && absentMarks.some((mark) => t.name.includes(mark)));
const skipped = tests.filter((t) => notRun(t) && !declaredOut.includes(t));

const kernelSkipped = kernel.filter((t) => skipped.includes(t)).length;
console.log(`\nkernel tests: ${count(kernel, 'passed')} passed, ${count(kernel, 'failed')} failed, ${kernelSkipped} skipped`);
if (declaredOut.length)
  console.log(`out of profile ${process.env.DMABUF_VM_PROFILE} by declaration (it lacks ${absentMarks.join(' ')}): ${declaredOut.length} tests`);
for (const t of skipped) console.log(`  not run (${t.status}): ${t.name}`);
const failed = count(tests, 'failed');
// Each failure again, one line each, among the last lines of the run: CI keeps only a run's tail.
for (const line of reportFailures(results)) console.log(line);
console.log(`vm: ${count(tests, 'passed')} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(status !== 0 || failed > 0 || skipped.length > 0 || count(kernel, 'passed') === 0 ? 1 : 0);
