import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { csvLine, formatBytes, formatTable, painter } from '../../lib/cli/format.js';
import { renderHolders, holdersCsv } from '../../lib/cli/ls.js';
import type { HoldersReport } from '../../lib/system/holders.js';
import { heapUdevRule } from '../../lib/system/doctor.js';
import { NEEDS_NO_DEVICES, runNoDevices } from '../helpers/env.js';

const BIN = new URL('../../bin/dmabuf.js', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function dmabuf(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: '', ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the dmabuf command: arguments', () => {
  it('--help and -h print the usage and exit 0; --version prints the package version', () => {
    for (const flag of ['--help', '-h']) {
      const r = dmabuf([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: dmabuf <command>/);
      expect(r.stdout).toMatch(/doctor \[--json\]/);
      expect(r.stdout).toMatch(/ls \[--pid N\] \[--json \| --csv\]/);
    }
    expect(dmabuf(['--version'])).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
    expect(dmabuf(['-v']).stdout).toBe(`${VERSION}\n`);
  });

  it('each command has its own help', () => {
    expect(dmabuf(['doctor', '--help'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: dmabuf doctor \[--json\]/) });
    expect(dmabuf(['help', 'ls'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: dmabuf ls/) });
  });

  it.each([
    [[], /no command given/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['toString'], /unknown command 'toString'/], // a name of Object.prototype is no command
    [['doctor', '--bogus'], /Unknown option '--bogus'/],
    [['doctor', 'extra'], /positional argument/],
    [['ls', '--pid'], /--pid/],
    [['ls', '--pid', 'abc'], /--pid must be a process id, got 'abc'/],
    [['ls', '--pid', '0'], /--pid must be a process id, got '0'/],
    [['ls', '--pid', '-3'], /--pid must be a process id, got '-3'/],
    [['ls', '--pid=-3'], /--pid must be a process id, got '-3'/],
    [['ls', '--json', '--csv'], /--json and --csv cannot be combined/],
  ])('bad arguments %j exit 2 with the reason and the usage on stderr', (args, reason) => {
    const r = dmabuf(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(reason);
    expect(r.stderr).toMatch(/Usage: dmabuf <command>/);
  });
});

describe('dmabuf ls --pid for a process that is not there', () => {
  it('says so and exits 1 (pid_max is at most 2^22, so 4194305 never exists)', () => {
    const r = dmabuf(['ls', '--pid', '4194305']);
    expect(r).toMatchObject({ status: 1, stdout: '' });
    expect(r.stderr).toBe('dmabuf ls: ESRCH: no process 4194305 (it may have exited)\n');
  });
});

describe.runIf(runNoDevices)(`the dmabuf command on a machine without dma-buf devices ${NEEDS_NO_DEVICES}`, () => {
  it('doctor says the heaps are emulated and the kernel backend cannot serve: exit 1', () => {
    const r = dmabuf(['doctor', '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.usable).toBe(false);
    expect(report.backend.backend).toBe('emulated');
    expect(report.heaps).toMatchObject({ present: false, list: [], emulated: ['system'] });
    expect(report.probes.sync).toBeNull();
    expect(report.findings[0]).toMatchObject({ level: 'problem', what: expect.stringMatching(/emulated buffers here, from emulated heaps/) });
    for (const finding of report.findings) {
      expect(['problem', 'note']).toContain(finding.level);
      if (finding.level === 'problem') expect(finding.fix, finding.what).toEqual(expect.any(String));
    }
  });

  it('doctor in text: sections, the verdict first, and no colour when not on a terminal', () => {
    const r = dmabuf(['doctor']);
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe('dmabuf doctor: the kernel backend cannot serve this user here');
    for (const section of ['Heaps (/dev/dma_heap)', 'udmabuf', 'Capabilities', 'Problems', 'Notes']) expect(r.stdout).toContain(`\n${section}`);
    expect(r.stdout).toContain('emulated heaps serve DmaHeap here: system');
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('ls with nothing to list says so; --json and --csv are empty but well-formed', () => {
    const self = String(process.pid);
    expect(dmabuf(['ls', '--pid', self])).toMatchObject({ status: 0, stdout: 'No dma-buf is held by any process this user can read.\n' });
    expect(JSON.parse(dmabuf(['ls', '--pid', self, '--json']).stdout)).toEqual({
      processes: [],
      buffers: [],
      exporters: [],
      total: { buffers: 0, size: 0 },
      unreadable: 0,
    });
    expect(dmabuf(['ls', '--csv']).stdout).toBe('pid,command,inode,size,exporter,name,mapped,holders\n');
  });
});

describe('the dmabuf command: output format', () => {
  it('sizes read in B, KiB, MiB, GiB', () => {
    expect([0, 1000, 1024, 4096, 1536 * 1024, 64 * 2 ** 20, 3 * 2 ** 30 + 2 ** 29].map(formatBytes)).toEqual([
      '0 B',
      '1000 B',
      '1 KiB',
      '4 KiB',
      '1.5 MiB',
      '64 MiB',
      '3.5 GiB',
    ]);
    expect(formatBytes(1234567)).toBe('1.18 MiB');
  });

  it('tables align each column to its widest cell, numbers to the right', () => {
    const text = formatTable(
      [{ title: 'NAME' }, { title: 'SIZE', align: 'right' }],
      [
        ['system', '4 KiB'],
        ['linux,cma', '64 MiB'],
      ],
    );
    expect(text).toBe(['NAME         SIZE', 'system      4 KiB', 'linux,cma  64 MiB'].join('\n'));
  });

  it('CSV quotes what needs quoting', () => {
    expect(csvLine([1, 'a,b', 'say "hi"', 'plain'])).toBe('1,"a,b","say ""hi""",plain');
  });

  it('colour only on a terminal, and not with NO_COLOR', () => {
    expect(painter({ isTTY: false })('red', 'x')).toBe('x');
    expect(painter({ isTTY: true })('red', 'x')).toBe('\u001b[31mx\u001b[39m');
    process.env['NO_COLOR'] = '1';
    try {
      expect(painter({ isTTY: true })('red', 'x')).toBe('x');
    } finally {
      delete process.env['NO_COLOR'];
    }
  });

  it('ls tables: per process with PSS, per buffer with holders and mappings, per exporter, and the unreadable count', () => {
    const report: HoldersReport = {
      processes: [
        { pid: 10, command: 'camera', buffers: 2, size: 3 * 2 ** 20, mappedSize: 2 ** 20, pss: 2 * 2 ** 20 },
        { pid: 20, command: 'encoder', buffers: 1, size: 2 * 2 ** 20, mappedSize: 0, pss: 2 ** 20 },
      ],
      buffers: [
        { inode: 7, size: 2 ** 20, exporter: 'system', name: 'preview', holders: [10], fds: 1, mappedBy: [10] },
        { inode: 9, size: 2 * 2 ** 20, exporter: 'linux,cma', name: '', holders: [10, 20], fds: 2, mappedBy: [] },
      ],
      exporters: [
        { exporter: 'linux,cma', buffers: 1, size: 2 * 2 ** 20 },
        { exporter: 'system', buffers: 1, size: 2 ** 20 },
      ],
      total: { buffers: 2, size: 3 * 2 ** 20 },
      unreadable: 3,
    };
    const text = renderHolders(report, (_s, t) => t);
    expect(text).toContain(
      'Processes\nPID  COMMAND  BUFFERS   SIZE  MAPPED    PSS\n 10  camera         2  3 MiB   1 MiB  2 MiB\n 20  encoder        1  2 MiB     0 B  1 MiB',
    );
    expect(text).toMatch(/\n\s+9\s+2 MiB\s+linux,cma\s+2\s+10,20\s+-/);
    expect(text).toContain('Total: 2 buffers, 3 MiB');
    expect(text).toContain('3 processes could not be read');
    expect(holdersCsv(report).split('\n')).toEqual([
      'pid,command,inode,size,exporter,name,mapped,holders',
      '10,camera,7,1048576,system,preview,yes,1',
      '10,camera,9,2097152,"linux,cma",,no,2',
      '20,encoder,9,2097152,"linux,cma",,no,2',
    ]);
  });

  it('the udev rule doctor proposes for a heap grants a group read access (ALLOC needs only O_RDONLY)', () => {
    expect(heapUdevRule('system')).toBe('SUBSYSTEM=="dma_heap", KERNEL=="system", GROUP="video", MODE="0640"');
  });
});
