/**
 * Real GStreamer 1.26 for the unixfd tests: the Debian 13 root that `npm run gst:prepare`
 * (scripts/gst/root.mjs) makes and caches, its gst-launch-1.0 run through the root's own loader,
 * on the host and in the x86_64 VM (which sees the host's cache read-only). With
 * DMABUF_REQUIRE_GST=1 a missing root fails the tests instead of skipping them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface RootModule {
  gstRootPath(): string | null;
  gstCommand(root: string, tool: string, args: string[], options?: { registryDir?: string }): { file: string; args: string[]; env: NodeJS.ProcessEnv };
}

const rootModule = join(import.meta.dirname, '..', '..', 'scripts', 'gst', 'root.mjs');
const mod = (await import(rootModule)) as RootModule;
export const gstRoot = mod.gstRootPath();
// In a VM the profile declares it (DMABUF_VM_PROVIDES, scripts/vm/profiles.mjs): the x86_64
// profiles provide it, so a missing root fails there; the arm64 ones (the root is amd64) do not,
// so the tests are out of those profiles by declaration.
const declared = process.env['DMABUF_VM_PROVIDES']?.split(',');
export const requireGst = process.env['DMABUF_REQUIRE_GST'] === '1' || (declared?.includes('gst') ?? false);
export const hasGst = declared ? declared.includes('gst') : (gstRoot !== null && existsSync(gstRoot)) || requireGst;
export const NEEDS_GST = '[needs the GStreamer root: npm run gst:prepare]';

export interface Launched {
  readonly child: ChildProcess;
  /** Resolves when it exits: its status and what it printed. */
  readonly done: Promise<{ code: number | null; output: string }>;
}

/** gst-launch-1.0 with `pipeline` (one element or property per word, as gst-launch takes them). */
export function gstLaunch(pipeline: string[], options: { env?: NodeJS.ProcessEnv } = {}): Launched {
  if (!gstRoot) throw new Error('no GStreamer root: run `npm run gst:prepare` (as root, once)');
  const c = mod.gstCommand(gstRoot, 'gst-launch-1.0', ['-q', ...pipeline]);
  const child = spawn(c.file, c.args, { env: { ...c.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d));
  child.stderr?.on('data', (d: Buffer) => (output += d));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, output }));
    child.on('error', (e) => resolve({ code: -1, output: `${output}\n${e.message}` }));
  });
  return { child, done };
}

/** Retries `connect` until the pipeline listens (unixfdsink binds once it starts). */
export async function connectWhenListening<T>(connect: () => Promise<T>, timeoutMs = 90000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (Date.now() > deadline || (code !== 'ECONNREFUSED' && code !== 'ENOENT')) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let unique = 0;
/** A fresh abstract socket name (no shared path between the host, the VM and the root). */
export function abstractName(): string {
  return `dmabuf-gst-${process.pid}-${Date.now()}-${unique++}`;
}
