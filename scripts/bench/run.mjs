#!/usr/bin/env node
// The dmabuf benchmarks (`npm run bench`). Every figure is measured in this run: a median over
// repeated rounds, as a ratio against a baseline measured in the same process (or VM run).
//
//   node scripts/bench/run.mjs                 emulated figures on this machine (P2e, P3, P4, P6),
//                                              and on Linux fd passing (P8)
//   node scripts/bench/run.mjs --kernel        also the kernel figures (P1, P2k, P5, P6k, P7, P9, P10, P11);
//                                              needs /dev/dma_heap/system and vgem, as root; P10 also
//                                              the GStreamer root (npm run gst:prepare, x86_64)
//   node scripts/bench/run.mjs --vm            build here (dist/, the C baselines), then run
//                                              `run.mjs --kernel --where vm` in the real-kernel VM
//                                              (scripts/vm/run.mjs): `npm run bench -- --vm`
// options: --where <name> (the JSON's name, default host or kernel), --only P1,P3,…, --rounds <n>,
//          --frames <n> (P10's and P11's frames per round; P10 default 1000, Node's 400 in the VM; P11
//          default 2000, 500 in the VM),
//          --no-build (use dist/ and bench-results/bin/ as they are), --software-cpu (fewer,
//          shorter rounds; --vm passes it to the guest whatever --where names the results).
// Output: a table on stdout and bench-results/<where>.json. The C baselines (scripts/bench/c/)
// are compiled with the host's cc into bench-results/bin/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gstRootPath } from '../gst/root.mjs';
import { buildC, formatNs } from './measure.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const OUT = join(ROOT, 'bench-results');
const BIN = join(OUT, 'bin');

function parseArgs(argv) {
  const o = { kernel: false, vm: false, softwareCpu: false, where: undefined, only: undefined, rounds: undefined, frames: undefined, build: true, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernel') o.kernel = true;
    else if (a === '--vm') o.vm = true;
    else if (a === '--where') o.where = argv[++i];
    else if (a === '--only') o.only = new Set(argv[++i].split(',').map((s) => s.trim().toUpperCase()));
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--frames') o.frames = Number(argv[++i]);
    else if (a === '--no-build') o.build = false;
    else if (a === '--software-cpu') o.softwareCpu = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: node scripts/bench/run.mjs [--kernel | --vm] [--where <name>] [--only P1,P3] [--rounds n] [--frames n] [--no-build] [--software-cpu]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
    if (a !== '--vm') o.rest.push(a, ...(a === '--where' || a === '--only' || a === '--rounds' || a === '--frames' ? [argv[i]] : []));
  }
  return o;
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The benchmarks run the built package (dist/), as users do: rebuild it when lib/ is newer. */
function ensureDist() {
  const index = join(ROOT, 'dist', 'index.js');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(ROOT, 'lib'))) return;
  process.stderr.write('[bench] dist/ is older than lib/: building (tsc -p tsconfig.build.json)\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}

function compileC() {
  try {
    return buildC(join(HERE, 'c'), BIN);
  } catch (error) {
    throw new Error(`compiling the C baselines failed (${error.message}); on the VM, run \`npm run bench -- --vm\` from the host, which compiles them first`);
  }
}

const GOAL_TEXT = (g) => (g ? `${g.op === '<=' ? '≤' : '≥'} ${g.value}${g.unit ?? '×'}` : '—');

function evaluate(f) {
  const value = f.kind === 'ms' ? f.subjectNs / 1e6 : f.ratio;
  const met = f.goal ? (f.goal.op === '<=' ? value <= f.goal.value : value >= f.goal.value) : undefined;
  return { ...f, value, met };
}

function table(figures) {
  const rows = figures.map((f) => [
    f.id,
    f.title,
    formatNs(f.subjectNs),
    formatNs(f.baselineNs),
    f.kind === 'ms' ? `${f.value.toFixed(2)} ms` : `${f.value.toFixed(f.value >= 100 ? 0 : 2)}×`,
    GOAL_TEXT(f.goal),
    f.met === undefined ? '·' : f.met ? '✓' : '✗',
  ]);
  const head = ['id', 'figure', 'measured', 'baseline', 'value', 'goal', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(head), widths.map((w) => '─'.repeat(w)).join('  ')];
  for (const [i, r] of rows.entries()) {
    out.push(line(r));
    out.push(`      measured: ${figures[i].subject}; baseline: ${figures[i].baseline}; ${figures[i].rounds} rounds`);
  }
  return out.join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.build) {
    ensureDist();
    if (o.kernel || o.vm) compileC();
  }
  if (o.vm) {
    // Everything is built here; the guest only runs (its software CPU is slow). P10 takes about
    // three minutes there (three processes a chain, GStreamer's started twice per round, after
    // 2,000 frames' warm-up), P11 about two (two processes and two C pairs per round, after 1,000).
    const args = ['scripts/vm/run.mjs', '--timeout', '900', '--', process.execPath, 'scripts/bench/run.mjs', '--kernel', '--no-build', '--software-cpu'];
    if (!o.rest.includes('--where')) args.push('--where', 'vm');
    const r = spawnSync(process.execPath, [...args, ...o.rest.filter((a) => a !== '--kernel')], { cwd: ROOT, stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const where = o.where ?? (o.kernel ? 'kernel' : 'host');
  // The guest's CPU is software (TCG) whatever name its results go under.
  const slow = o.softwareCpu || where === 'vm';
  // The VM's CPU is emulated (TCG): fewer, shorter rounds keep the whole run near a minute.
  const rounds = o.rounds ?? 9;
  const targetMs = slow ? 40 : 60;
  const windowMs = slow ? 300 : 500;
  const want = (id) => !o.only || o.only.has(id.toUpperCase()) || o.only.has(id.replace(/[ek]$/, '').toUpperCase());
  // P8 (fd passing) needs only sockets and memfds: wherever the addon loads.
  const channelBench = process.platform === 'linux';
  const bin = o.kernel || channelBench ? compileC() : undefined;
  if (o.kernel) process.env.DMABUF_BACKEND = 'kernel';
  const emulated = await import('./emulated.mjs');
  const kernel = o.kernel ? await import('./kernel.mjs') : undefined;
  const p6Goal = slow ? undefined : { op: '<=', value: 20, unit: ' ms' };

  const plan = [];
  const notRun = [];
  if (kernel) {
    plan.push(['P1', () => kernel.p1Bracket({ rounds, targetMs, bin })]);
    plan.push(['P2k', () => kernel.p2Kernel({ rounds, targetMs })]);
  }
  plan.push(['P2e', () => emulated.p2Emulated({ rounds, targetMs })]);
  plan.push(['P3', () => emulated.p3Region({ rounds, targetMs })]);
  plan.push(['P4', () => emulated.p4Bulk({ rounds, targetMs })]);
  if (kernel) plan.push(['P5', () => kernel.p5Wake({ rounds, perRound: slow ? 8 : 20, delayMs: slow ? 5 : 2, bin })]);
  plan.push(['P6e', () => emulated.p6Emulated({ rounds: Math.min(rounds, 5), windowMs, goal: p6Goal })]);
  if (kernel) {
    plan.push(['P6k', () => kernel.p6Kernel({ rounds: Math.min(rounds, 7), windowMs })]);
    plan.push(['P7', () => kernel.p7Alloc({ rounds, targetMs, bin })]);
    plan.push(['P9', () => kernel.p9Checked({ rounds, targetMs })]);
    // Three processes a chain, GStreamer's started twice per round (a run of 100 buffers is
    // subtracted from one of 1,100, so its start-up, which varies from run to run, weighs little):
    // in the VM 5 rounds, Node's of 400 frames after 2,000 frames of warm-up, take about three minutes.
    if (gstRootPath()) {
      const p10 = { rounds: Math.min(rounds, 5), frames: o.frames ?? (slow ? 400 : 1000), gstFrames: o.frames ?? 1000, warm: 2000 };
      const log = (s) => process.stderr.write(`[bench] P10: ${s}\n`);
      plan.push(['P10', async () => (await import('./gst-pipeline.mjs')).p10GstPipeline({ ...p10, bin, log })]);
    } else notRun.push(['P10', 'P10 (Node → GStreamer → Node) needs the GStreamer root, made on x86_64 by `npm run gst:prepare` (as root, once)']);
    // Two processes and a C pair per round: fewer rounds and frames under the VM's software CPU.
    const frames = o.frames ?? (slow ? 500 : 2000);
    plan.push(['P11', async () => (await import('./pipeline.mjs')).p11Pipeline({ rounds: slow ? Math.min(rounds, 5) : rounds, frames, bin })]);
  }
  if (channelBench) plan.push(['P8', async () => (await import('./channel.mjs')).p8Channel({ rounds, targetMs, bin })]);

  const t0 = Date.now();
  const figures = [];
  for (const [id, run] of plan) {
    if (!want(id)) continue;
    const started = Date.now();
    const result = await run();
    for (const f of [result].flat()) figures.push(evaluate(f));
    process.stderr.write(`[bench] ${id} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const header = {
    where,
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    cpu: cpus()[0]?.model ?? 'unknown',
    backend: o.kernel ? 'kernel + emulated' : 'emulated',
    seconds: (Date.now() - t0) / 1000,
    note: slow
      ? 'In the VM the CPU is emulated in software (QEMU TCG): absolute times are meaningless; ratios of like against like (the package against the raw addon, one size against another) hold, but the lines against C (P1, P5, P7 "vs C") are inflated, since TCG slows JIT-compiled code far more than C.'
      : undefined,
  };
  const say = (s = '') => process.stdout.write(`${s}\n`);
  say(`dmabuf benchmarks — ${where}: node ${header.node}, kernel ${header.kernel}, ${header.cpu}`);
  if (header.note) say(header.note);
  say(`each figure: the median over rounds of measured ÷ baseline (P3: whole ÷ region); P6: the median of the largest gaps`);
  say();
  say(table(figures));
  const missed = figures.filter((f) => f.met === false).map((f) => f.id);
  say();
  say(missed.length ? `goals missed: ${missed.join(', ')}` : 'every goal met');
  if (!kernel)
    say(
      'not run here: the kernel figures (P1, P2k, P5, P6k, P7, P9, P10, P11) need a dma-buf heap and vgem; `npm run bench -- --vm` runs them in the real-kernel VM',
    );
  for (const [id, why] of notRun) if (want(id)) say(`not run here: ${why}`);
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `${where}.json`);
  writeFileSync(file, `${JSON.stringify({ ...header, figures }, null, 2)}\n`);
  say(`wrote ${relative(process.cwd(), file) || file} (${header.seconds.toFixed(0)} s)`);
}

main().catch((error) => {
  process.stderr.write(`[bench] ${error.stack ?? error}\n`);
  process.exit(1);
});
