// Boots the VM and relays its serial console. The guest's /init (init.sh) prints
// @@DMABUF_VM_START@@ right before the command and @@DMABUF_VM_EXIT=<n>@@ after it; what lies
// between goes to our stdout, the boot chatter before it is only kept for error reports.
import { log, secs, start } from './proc.mjs';

const START = '@@DMABUF_VM_START@@';
const EXIT = /@@DMABUF_VM_EXIT=(\d+)@@/;
const TAIL = 40;

// qemu's option lists split on commas; a literal comma is written twice.
const opt = (s) => s.replaceAll(',', ',,');

/**
 * Boots `kernel` + `initramfs` of `profile` (profiles.mjs) with `root` (read-only: the guest's /),
 * `jobDir` (read-only) and `repo` (writable) shared, and runs the job. Resolves to { status } (the
 * command's exit status) or { error, tail, booted } when the guest stopped without reporting one
 * (booted: the command had started).
 */
export function boot({ profile, kernel, initramfs, root, repo, jobDir, accel, memory = '2048', verbose = false, qmpSocket }) {
  const args = [
    ...profile.machine,
    '-accel',
    accel,
    '-m',
    memory,
    '-smp',
    '2',
    '-nographic',
    '-no-reboot', // panic=-1 reboots at once on a panic; -no-reboot turns that into a qemu exit
    '-net',
    'none',
    '-kernel',
    kernel,
    '-initrd',
    initramfs,
    '-append',
    `console=${profile.console} quiet loglevel=3 panic=-1`,
    // multidevs=remap: / spans several host filesystems; remap keeps their inode numbers apart.
    '-virtfs',
    `local,path=${opt(root)},mount_tag=host,security_model=none,readonly=on,multidevs=remap`,
    '-virtfs',
    `local,path=${opt(jobDir)},mount_tag=job,security_model=none,readonly=on`,
    '-virtfs',
    `local,path=${opt(repo)},mount_tag=repo,security_model=none,multidevs=remap`,
    // The profile's own devices (x86_64: virtio-gpu-pci, a KMS screen the suite scans out to).
    ...(profile.devices ?? []),
    // QMP, for the screendumps the guest asks for (screen.mjs); -nographic keeps the consoles
    // headless, and screendump reads a console's surface all the same.
    ...(qmpSocket ? ['-qmp', `unix:${opt(qmpSocket)},server=on,wait=off`] : []),
  ];
  const t0 = Date.now();
  let tStart = 0;
  const tail = [];
  let started = false;
  let status = null;
  let partial = ''; // the unterminated last line
  let sent = 0; // how much of `partial` already went to stdout

  const line = (raw) => {
    // SeaBIOS resets the terminal and turns off line wrap (ESC c, ESC [?7l): never pass boot
    // chatter's escape sequences on to the user's terminal.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
    const text = started ? raw : raw.replace(/\x1b(\[[0-9;?]*[ -/]*[@-~]|.)/g, '');
    tail.push(text);
    if (tail.length > TAIL) tail.shift();
    const exit = EXIT.exec(text);
    if (exit) {
      const before = text.slice(sent, exit.index);
      if (started && exit.index > 0) process.stdout.write(`${before}\n`);
      status = Number(exit[1]);
      started = false;
      log(`command exited ${status} after ${secs(tStart)}s`);
    } else if (!started && text.includes(START)) {
      started = true;
      tStart = Date.now();
      log(`boot took ${secs(t0)}s`);
    } else if (started) {
      process.stdout.write(`${text.slice(sent)}\n`);
    } else if (verbose) {
      process.stderr.write(`[guest] ${text}\n`);
    }
  };

  return new Promise((resolve) => {
    // Own process group: a terminal's Ctrl-C reaches only us, and we stop qemu ourselves.
    const qemu = start(profile.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    qemu.stdout.setEncoding('utf8');
    qemu.stdout.on('data', (chunk) => {
      partial += chunk;
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        line(partial.slice(0, nl).replace(/\r$/, ''));
        partial = partial.slice(nl + 1);
        sent = 0;
      }
      // Pass an unterminated line (a prompt, a progress bar) through at once unless it could be
      // the start of a marker; hold back a lone trailing \r of a \r\n split across chunks.
      if (started && !partial.includes('@')) {
        const end = partial.length - (partial.endsWith('\r') ? 1 : 0);
        process.stdout.write(partial.slice(sent, end));
        sent = end;
      }
    });
    let stderr = '';
    qemu.stderr.on('data', (d) => (stderr += d));
    qemu.on('error', (e) => resolve({ error: `cannot start ${profile.qemu}: ${e.message}`, tail }));
    qemu.on('close', (code, signal) => {
      if (partial) line(partial.replace(/\r$/, ''));
      if (status !== null) return resolve({ status });
      const how = signal ? `was killed by ${signal}` : `exited ${code}`;
      const err = stderr.trim() ? `\nqemu stderr:\n${stderr.trim()}` : '';
      resolve({
        error: `qemu ${how} before the guest reported an exit status (guest crash, panic or failing /init)${err}`,
        tail,
        booted: tStart > 0,
      });
    });
  });
}
