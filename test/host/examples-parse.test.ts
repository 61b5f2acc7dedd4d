// Every example parses on the Node.js this suite runs on (CI: the oldest major the package claims,
// 20): syntax newer than that (a `using` declaration, for one) would fail a user of Node 20 at
// once, and the VM tests that run the examples would only say "exited 1".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

describe(`examples/ parse on Node ${process.versions.node}`, () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs'));
  it('there are examples', () => expect(files.length).toBeGreaterThan(0));
  for (const file of files) {
    it(file, () => {
      const r = spawnSync(process.execPath, ['--check', join(EXAMPLES, file)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    });
  }
});
