#!/usr/bin/env node
// Checks the prebuilt addons in prebuilds/: each one's ELF machine matches its folder, its highest
// GLIBC_ symbol version is at most the floor (2.31: Debian 11, Ubuntu 20.04, Raspberry Pi OS
// bullseye), and it was built from the sources in this checkout. Prints one line per prebuild with
// its highest GLIBC_ and GLIBCXX_ versions.
//
//   node scripts/prebuild/check.mjs              check whatever prebuilds exist (npm run lint)
//   node scripts/prebuild/check.mjs --require    also fail unless linux-x64 and linux-arm64 both exist (prepack)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PREBUILDS = join(REPO, 'prebuilds');
export const TARGETS = ['linux-x64', 'linux-arm64'];
export const GLIBC_FLOOR = '2.31';
const MACHINES = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' };
const STAMP = join(PREBUILDS, 'sources.sha256');

/** Compares dotted versions numerically: '2.9' < '2.31'. */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

const highest = (versions) => versions.sort(compareVersions).at(-1) ?? null;

/**
 * The ELF machine and the highest GLIBC_/GLIBCXX_ versions `file` needs, from its version-needs
 * section (readelf reads any architecture's ELF, unlike the host's objdump).
 */
export function elfNeeds(file) {
  const header = execFileSync('readelf', ['--file-header', '--wide', file], { encoding: 'utf8' });
  const machine = /^\s*Machine:\s*(.+)$/m.exec(header)?.[1].trim() ?? '?';
  const needs = execFileSync('readelf', ['--version-info', '--wide', file], { encoding: 'utf8' });
  const names = [...needs.matchAll(/Name: (GLIBC(?:XX)?)_([\d.]+)/g)];
  return {
    machine,
    glibc: highest(names.filter((m) => m[1] === 'GLIBC').map((m) => m[2])),
    glibcxx: highest(names.filter((m) => m[1] === 'GLIBCXX').map((m) => m[2])),
  };
}

/** What a build reads from the checkout: native/'s sources and its binding.gyp (not its build/). */
export function nativeSources() {
  return readdirSync(join(REPO, 'native'))
    .filter((f) => /\.(cc|h|gyp)$/.test(f))
    .sort()
    .map((f) => join('native', f));
}

/** A hash of everything a prebuild is made from: native/'s sources and binding.gyp, node-addon-api's version. */
export function sourcesHash() {
  const hash = createHash('sha256');
  for (const f of nativeSources())
    hash
      .update(`${f}\0`)
      .update(readFileSync(join(REPO, f)))
      .update('\0');
  hash.update(JSON.parse(readFileSync(join(REPO, 'node_modules', 'node-addon-api', 'package.json'), 'utf8')).version);
  return hash.digest('hex');
}

export function stampPath() {
  return STAMP;
}

/** Every prebuild under prebuilds/: { target, file }. */
export function listPrebuilds() {
  if (!existsSync(PREBUILDS)) return [];
  return readdirSync(PREBUILDS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(PREBUILDS, d.name))
        .filter((f) => f.endsWith('.node'))
        .map((f) => ({ target: d.name, file: join(PREBUILDS, d.name, f) })),
    );
}

/** Checks every prebuild; returns the problems found (empty: all good) after printing a line each. */
export function checkPrebuilds({ require = false, out = process.stdout } = {}) {
  const problems = [];
  const found = listPrebuilds();
  if (require) {
    for (const target of TARGETS) {
      if (!found.some((p) => p.target === target)) problems.push(`no prebuild for ${target}: run \`npm run prebuilds\``);
    }
  }
  if (found.length === 0) out.write('prebuilds: none in this checkout (`npm run prebuilds` makes them)\n');
  if (found.length > 0) {
    const stamp = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : null;
    if (stamp !== sourcesHash()) problems.push('the prebuilds were not built from the native sources in this checkout: run `npm run prebuilds`');
  }
  for (const { target, file } of found) {
    const { machine, glibc, glibcxx } = elfNeeds(file);
    out.write(`prebuild ${relative(REPO, file)}: ${machine}, highest GLIBC_${glibc ?? '-'}, GLIBCXX_${glibcxx ?? '-'} (floor GLIBC_${GLIBC_FLOOR})\n`);
    if (MACHINES[target] && machine !== MACHINES[target]) problems.push(`${relative(REPO, file)} is built for ${machine}, not ${target}`);
    if (!MACHINES[target]) problems.push(`${relative(REPO, file)}: unexpected target ${target}`);
    if (glibc && compareVersions(glibc, GLIBC_FLOOR) > 0) {
      problems.push(`${relative(REPO, file)} needs GLIBC_${glibc}, above the floor GLIBC_${GLIBC_FLOOR}: build it in the old-glibc root (npm run prebuilds)`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkPrebuilds({ require: process.argv.includes('--require') });
  for (const p of problems) process.stderr.write(`prebuild check: ${p}\n`);
  process.exit(problems.length ? 1 : 0);
}
