// Child processes of the VM runner. Every child is tracked so that a timeout, a signal or an
// exception can kill it: the runner must never leave a qemu (or apt) behind.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

const live = new Set();
const temps = new Set();

/** Registers a temp path for removal on every exit path; returns it. */
export function temp(path) {
  temps.add(path);
  return path;
}

/** Removes a temp path now. */
export function dropTemp(path) {
  rmSync(path, { recursive: true, force: true });
  temps.delete(path);
}

/** Progress line on stderr. */
export function log(msg) {
  process.stderr.write(`[vm] ${msg}\n`);
}

/** Seconds since `t0` (ms), one decimal. */
export function secs(t0) {
  return ((Date.now() - t0) / 1000).toFixed(1);
}

/** Starts a tracked child; it is forgotten when it exits. */
export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, opts);
  live.add(child);
  child.on('exit', () => live.delete(child));
  child.on('error', () => live.delete(child));
  return child;
}

/**
 * Runs a command to completion and returns its stdout. Throws with the command's stderr on a
 * non-zero exit (or when it cannot be started), unless `allowFail` is set.
 */
export function run(cmd, args, { allowFail = false, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const child = start(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0 || allowFail) resolve({ code, out, err });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${err.trim() || out.trim()}`));
    });
  });
}

/**
 * Kills every live child and waits (up to 3 s) until they are reaped, so that no zombie qemu is
 * left for a moment after we exit; then exits with `code` (the 'exit' handler cleans up).
 */
let exiting = false;
export const isExiting = () => exiting;
export async function exitAfterKill(code) {
  exiting = true;
  const gone = [...live].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r))));
  for (const child of live) child.kill('SIGKILL');
  await Promise.race([Promise.all(gone), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(code);
}

/** SIGKILLs every live child and removes the temp paths. Synchronous: safe in an 'exit' handler. */
export function cleanupAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const path of temps) rmSync(path, { recursive: true, force: true });
  temps.clear();
}
