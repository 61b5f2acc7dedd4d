// C++ lint: clang-format (from the clang-format npm package, so no system install) must find
// nothing to change in native/. `--fix` rewrites the files instead.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const files = readdirSync(join(root, 'native'))
  .filter((f) => /\.(cc|h)$/.test(f))
  .map((f) => join('native', f));
const clangFormat = createRequire(import.meta.url).resolve('clang-format/index.js');
const fix = process.argv.includes('--fix');
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const result = spawnSync(process.execPath, [clangFormat, ...args], { cwd: root, stdio: 'inherit' });
if (result.status !== 0 && !fix) console.error('lint-cpp: run `node scripts/lint-cpp.mjs --fix` to format native/');
process.exit(result.status ?? 1);
