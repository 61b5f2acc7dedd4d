// Every type a public signature of the published declarations names can be imported from
// 'dmabuf' or 'dmabuf/testing' (scripts/api/check-types.mjs reads dist/*.d.ts with the TypeScript
// compiler API). npm test builds dist/ first (pretest).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const built = existsSync(join(ROOT, 'dist', 'index.d.ts'));

describe.runIf(built)('the published types (dist/, from npm run build)', () => {
  it('name no type that cannot be imported from the package', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'api', 'check-types.mjs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
