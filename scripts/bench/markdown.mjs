// Renders bench-results/<where>.json files as one Markdown table, for docs/PERFORMANCE.md:
// `node scripts/bench/markdown.mjs host vm`. Every number comes from those runs.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNs } from './measure.mjs';

const OUT = resolve(fileURLToPath(new URL('../../bench-results', import.meta.url)));
const runs = process.argv.slice(2).map((where) => JSON.parse(readFileSync(join(OUT, `${where}.json`), 'utf8')));

const goal = (f) => (f.goal ? `${f.goal.op === '<=' ? '≤' : '≥'} ${f.goal.value}${f.kind === 'ms' ? ' ms' : '×'}` : 'reported');
const value = (f) =>
  f.kind === 'ms' ? `${(f.subjectNs / 1e6).toFixed(2)} ms (idle loop ${(f.baselineNs / 1e6).toFixed(2)} ms)` : `${f.ratio.toFixed(f.ratio < 10 ? 2 : 0)}×`;
const mark = (f) => (f.met === undefined ? '' : f.met ? '✓' : '✗');

console.log('| where | figure | measured | baseline | result | goal | |');
console.log('|---|---|---|---|---|---|---|');
for (const run of runs) {
  for (const f of run.figures) {
    console.log(`| ${run.where} | ${f.id} ${f.title} | ${formatNs(f.subjectNs)} | ${formatNs(f.baselineNs)} | ${value(f)} | ${goal(f)} | ${mark(f)} |`);
  }
}
for (const run of runs)
  console.log(`\n- ${run.where}: ${run.date.slice(0, 10)}, Node ${run.node}, Linux ${run.kernel}, ${run.cpu}.${run.note ? ` ${run.note}` : ''}`);
