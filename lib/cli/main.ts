/**
 * The `dmabuf` command (package.json bin). Exit status: 0 success (doctor: the kernel backend can
 * serve this user); 1 doctor found it cannot, or a command failed; 2 bad arguments.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { doctor } from '../system/doctor.js';
import { listHolders } from '../system/holders.js';
import { renderDoctor } from './doctor.js';
import { painter } from './format.js';
import { holdersCsv, renderHolders } from './ls.js';

interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
}

/** One command: adding a command is one entry here (usage lines, options, run). */
interface Command {
  /** Its line in `dmabuf --help`: the synopsis and what it does. */
  readonly summary: readonly [synopsis: string, ...what: string[]];
  /** `dmabuf <command> --help`. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** The exit status (0, or 1 where the command says so). */
  run(values: Record<string, unknown>, io: Io): number;
}

class UsageError extends Error {}

const COMMANDS: Record<string, Command> = {
  doctor: {
    summary: [
      'doctor [--json]',
      'what this machine and user can do with dma-bufs, and how to fix',
      'what they cannot (exit 0: the kernel backend can serve, 1: not)',
    ],
    usage: `Usage: dmabuf doctor [--json]

Opens each dma-heap and /dev/udmabuf, allocates and CPU-maps a page of each, and tries the dma-buf
and sync-file ioctls on it (ENOTTY: missing; anything else: present). Prints what works, what does
not, and the fix for each problem. --json prints the report as JSON.
Exit status: 0 when the kernel backend can serve this user, 1 when not, 2 on bad arguments.`,
    options: { json: { type: 'boolean' } },
    run(values, io) {
      const report = doctor();
      io.stdout.write(values['json'] ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report, painter(io.stdout))}\n`);
      return report.usable ? 0 : 1;
    },
  },
  ls: {
    summary: ['ls [--pid N] [--json | --csv]', 'who holds which dma-buf: per process, buffer and exporter'],
    usage: `Usage: dmabuf ls [--pid N] [--json | --csv]

Lists the dma-bufs held by every process this user can inspect (or only by pid N), from
/proc/<pid>/fd, fdinfo and maps: per process (buffers, size, mapped size, PSS: each buffer's size
divided by the number of processes holding it), per buffer (inode, size, exporter, name, holders,
mappings) and per exporter. Other users' processes need root; their number is reported.`,
    options: { pid: { type: 'string' }, json: { type: 'boolean' }, csv: { type: 'boolean' } },
    run(values, io) {
      if (values['json'] && values['csv']) throw new UsageError('--json and --csv cannot be combined');
      let pid: number | undefined;
      if (values['pid'] !== undefined) {
        const text = String(values['pid']);
        pid = Number(text);
        if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid < 1) throw new UsageError(`--pid must be a process id, got '${text}'`);
      }
      const report = listHolders(pid);
      if (values['json']) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (values['csv']) io.stdout.write(`${holdersCsv(report)}\n`);
      else io.stdout.write(`${renderHolders(report, painter(io.stdout))}\n`);
      return 0;
    },
  },
};

/** The table's command called `name` (never an Object.prototype member: `dmabuf toString` is unknown). */
function commandNamed(name: string | undefined): Command | undefined {
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

/** `dmabuf --help`, from the table. */
function usage(): string {
  const lines = Object.values(COMMANDS).flatMap(({ summary: [synopsis, ...what] }) =>
    what.map((text, i) => `  ${(i === 0 ? synopsis : '').padEnd(33)}${text}`),
  );
  return `Usage: dmabuf <command> [options]

Commands:
${lines.join('\n')}

Options:
  -h, --help       this help (also: dmabuf <command> --help)
  -v, --version    the package version

NODE_DEBUG=dmabuf logs the package's decisions; see the README's Troubleshooting section.`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, unknown> {
  // `--pid -5`: parseArgs would take -5 for an option and answer in its own words; joined as
  // `--pid=-5`, the value reaches the command's own check and message.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && i + 1 < args.length) joined.push(`${arg}=${args[++i]}`);
    else joined.push(arg);
  }
  try {
    return parseArgs({ args: joined, options: { help: { type: 'boolean', short: 'h' }, ...options }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Run the command line `args` (without node and the script); returns the exit status. */
export function main(args: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): number {
  const [command, ...rest] = args;
  try {
    const known = commandNamed(command);
    if (known) {
      const values = parse(rest, known.options);
      if (values['help']) {
        io.stdout.write(`${known.usage}\n`);
        return 0;
      }
      return known.run(values, io);
    }
    switch (command) {
      case 'help':
        io.stdout.write(`${commandNamed(rest[0])?.usage ?? usage()}\n`);
        return 0;
      case '-h':
      case '--help':
        io.stdout.write(`${usage()}\n`);
        return 0;
      case '-v':
      case '--version':
        io.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
        throw new UsageError('no command given');
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`dmabuf: ${error.message}\n\n${usage()}\n`);
      return 2;
    }
    // A failure of the command itself (EMFILE, an unreadable /proc): say it, without a stack.
    const code = (error as { code?: unknown }).code;
    io.stderr.write(`dmabuf ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
