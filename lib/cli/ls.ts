/** `dmabuf ls` for people and spreadsheets: the report of lib/system/holders.ts as tables or CSV. */
import type { HoldersReport } from '../system/holders.js';
import { csvLine, formatBytes, formatTable, type Style } from './format.js';

type Paint = (style: Style, text: string) => string;

export function renderHolders(report: HoldersReport, paint: Paint): string {
  const out: string[] = [];
  if (report.total.buffers === 0) {
    out.push('No dma-buf is held by any process this user can read.');
    if (report.unreadable > 0) out.push(unreadableLine(report.unreadable, paint));
    return out.join('\n');
  }
  out.push(paint('bold', 'Processes'));
  out.push(
    formatTable(
      [
        { title: 'PID', align: 'right' },
        { title: 'COMMAND' },
        { title: 'BUFFERS', align: 'right' },
        { title: 'SIZE', align: 'right' },
        { title: 'MAPPED', align: 'right' },
        { title: 'PSS', align: 'right' },
      ],
      report.processes.map((p) => [String(p.pid), p.command, String(p.buffers), formatBytes(p.size), formatBytes(p.mappedSize), formatBytes(p.pss)]),
    ),
  );
  out.push('', paint('bold', 'Buffers'));
  out.push(
    formatTable(
      [
        { title: 'INODE', align: 'right' },
        { title: 'SIZE', align: 'right' },
        { title: 'EXPORTER' },
        { title: 'NAME' },
        { title: 'FDS', align: 'right' },
        { title: 'HELD BY' },
        { title: 'MAPPED BY' },
      ],
      report.buffers.map((b) => [
        String(b.inode),
        formatBytes(b.size),
        b.exporter,
        b.name,
        String(b.fds),
        b.holders.join(',') || '-',
        b.mappedBy.join(',') || '-',
      ]),
    ),
  );
  out.push('', paint('bold', 'Exporters'));
  out.push(
    formatTable(
      [{ title: 'EXPORTER' }, { title: 'BUFFERS', align: 'right' }, { title: 'SIZE', align: 'right' }],
      report.exporters.map((e) => [e.exporter, String(e.buffers), formatBytes(e.size)]),
    ),
  );
  out.push('', `Total: ${report.total.buffers} buffer${report.total.buffers === 1 ? '' : 's'}, ${formatBytes(report.total.size)}`);
  if (report.unreadable > 0) out.push(unreadableLine(report.unreadable, paint));
  return out.join('\n');
}

function unreadableLine(count: number, paint: Paint): string {
  return paint('yellow', `${count} process${count === 1 ? '' : 'es'} could not be read (another user's); run as root to see them`);
}

/** One row per buffer × holder, as dmabuf_dump -o csv: a table a spreadsheet can pivot. */
export function holdersCsv(report: HoldersReport): string {
  const commands = new Map(report.processes.map((p) => [p.pid, p.command]));
  const lines = [csvLine(['pid', 'command', 'inode', 'size', 'exporter', 'name', 'mapped', 'holders'])];
  for (const b of report.buffers) {
    for (const pid of b.holders) {
      lines.push(csvLine([pid, commands.get(pid) ?? '?', b.inode, b.size, b.exporter, b.name, b.mappedBy.includes(pid) ? 'yes' : 'no', b.holders.length]));
    }
  }
  return lines.join('\n');
}
