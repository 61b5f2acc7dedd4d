import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Inside the real-kernel VM (DMABUF_REQUIRE_KERNEL=1) every node start costs seconds of software
// CPU, so the suite runs in one worker there, reused across files unless the profile asks for a
// fresh process per file (DMABUF_VM_ISOLATE, the arm64 profiles); on the host, files run in parallel.
const inVm = process.env['DMABUF_REQUIRE_KERNEL'] === '1';
// The arm64 profiles emulate a slower CPU still (scripts/vm/profiles.mjs): their timeouts scale.
const slowdown = Number(process.env['DMABUF_VM_SLOWDOWN'] ?? 1);

export default defineConfig({
  // Vite's cache (vitest keeps its results there) goes to the guest's own /tmp in a VM: the x86_64
  // and arm64 VMs share the checkout and run at once in CI.
  ...(inVm ? { cacheDir: join(tmpdir(), 'dmabuf-vitest-cache') } : {}),
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // GC tests (finalizers, F2) need global.gc.
    execArgv: ['--expose-gc'],
    testTimeout: inVm ? 120_000 * slowdown : 20_000,
    hookTimeout: inVm ? 120_000 * slowdown : 20_000,
    ...(inVm ? { maxWorkers: 1, isolate: process.env['DMABUF_VM_ISOLATE'] === '1' } : {}),
  },
});
