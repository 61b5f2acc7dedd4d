#!/usr/bin/env node
// `npm run test:all`, the README's test command and what CI runs after installing: every suite, in
// stages whose times it prints, with the two VM suites at once (each VM is one TCG thread; the
// machine has two cores):
//
//   gst        the Debian 13 GStreamer root the unixfd tests run (scripts/gst/root.mjs, cached in
//              ~/.cache/dmabuf-dev); once it exists the host and x86_64 suites require it
//              (DMABUF_REQUIRE_GST=1: a missing GStreamer fails them rather than skipping)
//   host       npm test (vitest on this machine; builds dist/ and the addon first)
//   prebuilds  npm run prebuilds (cached by native/'s hash; the tarball needs both)
//   package    the consumer suite: the packed tarball installed into apps, TypeScript apps
//              compiled and run on Node.js 20, 22, 24 (scripts/consumer/prepare.mjs, test/package)
//   vm-prepare qemu, kernels, the arm64 userland, initramfs (scripts/vm/run.mjs --prepare), one
//              profile after the other so that apt never runs twice at once
//   vms        the x86_64 suite and the arm64 suite (what differs on arm64) concurrently, each
//              line prefixed with its profile; once x86_64 is done, arm64-16k's page-size suite
//              (the files that depend on the page size and the devices) takes its core
//
// A failed stage does not stop the later ones (each says what it found); the exit status is
// non-zero if any failed. The summary sums every suite (`total: N passed, N failed, N skipped`),
// then names each failed test with the first line of why (`[vm x86_64] failed: file > test: …`).
// Options: --skip <stage>[,<stage>…] (e.g. --skip vms on a machine that cannot run them).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printedFailures, reportFailures } from './failures.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const skipAt = process.argv.indexOf('--skip');
const skip = new Set((skipAt > 0 ? (process.argv[skipAt + 1] ?? '') : '').split(',').filter(Boolean));
const scratch = mkdtempSync(join(tmpdir(), 'dmabuf-test-all-'));
const started = Date.now();
const times = [];
const counts = [];
const failures = []; // [suite, line]: every failed test, printed again at the end
let failed = false;

const secs = (ms) => `${Math.round(ms / 1000)} s`;

/** Run a command in the repo, its output lines prefixed (or not), resolving to its exit status and output. */
function run(command, args, { prefix = '', env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const relay = (stream, target) => {
      let partial = '';
      stream.on('data', (chunk) => {
        const text = partial + chunk.toString();
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) target.write(`${prefix}${line}\n`);
        output += chunk.toString();
      });
      stream.on('end', () => {
        if (partial) target.write(`${prefix}${partial}\n`);
      });
    };
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
    child.on('error', (error) => resolve({ code: 127, output: String(error) }));
  });
}

/** A named stage: runs `fn` unless skipped, prints and records its time, notes a failure. */
async function stage(name, fn) {
  if (skip.has(name)) {
    console.log(`test-all: stage ${name} skipped (--skip)`);
    times.push([name, 'skipped']);
    return;
  }
  const t0 = Date.now();
  console.log(`test-all: stage ${name} …`);
  const ok = await fn();
  const took = Date.now() - t0;
  times.push([name, `${secs(took)}${ok ? '' : ' (failed)'}`]);
  console.log(`test-all: stage ${name} ${ok ? 'passed' : 'FAILED'} in ${secs(took)}`);
  if (!ok) failed = true;
}

/** vitest's JSON report → the counts of its tests. */
function vitestCounts(suite, file) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    counts.push([suite, report.numPassedTests, report.numFailedTests, report.numPendingTests + report.numTodoTests]);
    for (const line of reportFailures(report)) failures.push([suite, line]);
  } catch {
    counts.push([suite, 0, 1, 0]); // no report: the run itself failed
    failures.push([suite, 'failed: no vitest report (the run itself failed; its output above says why)']);
  }
}

/** The `vm: N passed, N failed, N skipped` line scripts/vm/suite.mjs prints, as counts. */
function vmCounts(suite, output) {
  const m = /^vm: (\d+) passed, (\d+) failed, (\d+) skipped/m.exec(output);
  counts.push(m ? [suite, Number(m[1]), Number(m[2]), Number(m[3])] : [suite, 0, 1, 0]);
  for (const line of printedFailures(output)) failures.push([suite, line]);
  if (!m) failures.push([suite, 'failed: no summary from the VM (its output above says why)']);
}

let gst = false;
await stage('gst', async () => {
  gst = (await run('node', ['scripts/gst/root.mjs'])).code === 0;
  return gst;
});
const gstEnv = gst ? { DMABUF_REQUIRE_GST: '1' } : {};

await stage('host', async () => {
  const report = join(scratch, 'host.json');
  const r = await run('npm', ['test', '--', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { env: gstEnv });
  vitestCounts('host', report);
  return r.code === 0;
});

await stage('prebuilds', async () => (await run('npm', ['run', 'prebuilds'])).code === 0);

await stage('package', async () => {
  if ((await run('node', ['scripts/consumer/prepare.mjs'])).code !== 0) {
    counts.push(['package', 0, 1, 0]);
    return false;
  }
  const report = join(scratch, 'package.json');
  const r = await run('npx', ['vitest', 'run', 'test/package', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);
  vitestCounts('package', report);
  return r.code === 0;
});

const PROFILES = ['x86_64', 'arm64'];
// 16K pages (Debian's arm64-16k kernel, as on a Raspberry Pi 5) change what udmabuf, mmap and
// the drivers accept (docs/TESTING.md): those files run there too, after x86_64, so that no more
// than two VMs run at once and the stage takes no longer than the arm64 suite.
const PAGE_16K = {
  profile: 'arm64-16k',
  files: [
    'test/kernel/devices.test.ts',
    'test/kernel/udmabuf.test.ts',
    'test/kernel/mmap.test.ts',
    'test/kernel/frame.test.ts',
    'test/kernel/vivid.test.ts',
    'test/kernel/vivid-loop.test.ts',
  ],
};
let prepared = true;
await stage('vm-prepare', async () => {
  for (const profile of [...PROFILES, PAGE_16K.profile]) {
    if ((await run('node', ['scripts/vm/run.mjs', '--profile', profile, '--prepare'], { prefix: `[${profile}] ` })).code !== 0) prepared = false;
  }
  return prepared;
});

await stage('vms', async () => {
  if (!prepared) return false;
  const suite = async (profile, files = []) => {
    const t0 = Date.now();
    // The GStreamer root is amd64: only the x86_64 guest runs it.
    const env = profile === 'x86_64' ? gstEnv : {};
    const r = await run('node', ['scripts/vm/run.mjs', '--profile', profile, '--test', ...files], { prefix: `[${profile}] `, env });
    vmCounts(`vm ${profile}`, r.output);
    times.push([`  vm ${profile}`, secs(Date.now() - t0)]);
    return r.code === 0;
  };
  const results = await Promise.all([(async () => [await suite('x86_64'), await suite(PAGE_16K.profile, PAGE_16K.files)])(), suite('arm64')]);
  return results.flat().every(Boolean);
});

rmSync(scratch, { recursive: true, force: true });
console.log('\ntest-all: stage times');
for (const [name, took] of times) console.log(`  ${name.padEnd(12)} ${took}`);
console.log(`  ${'total'.padEnd(12)} ${secs(Date.now() - started)}`);
for (const [suite, p, f, s] of counts) console.log(`${suite}: ${p} passed, ${f} failed, ${s} skipped`);
const sum = (i) => counts.reduce((a, c) => a + c[i], 0);
console.log(`total: ${sum(1)} passed, ${sum(2)} failed, ${sum(3)} skipped`);
for (const [suite, line] of failures) console.log(`[${suite}] ${line}`);
process.exit(failed || sum(2) > 0 ? 1 : 0);
