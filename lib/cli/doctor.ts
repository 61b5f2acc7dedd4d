/** `dmabuf doctor` for people: the report of lib/system/doctor.ts as sections and tables. */
import type { DoctorReport } from '../system/doctor.js';
import { formatBytes, formatTable, type Style } from './format.js';

type Paint = (style: Style, text: string) => string;

function yesNo(value: boolean | null, paint: Paint): string {
  if (value === null) return paint('dim', 'untried');
  return value ? paint('green', 'yes') : paint('red', 'no');
}

export function renderDoctor(report: DoctorReport, paint: Paint): string {
  const out: string[] = [];
  const { kernel, user, backend } = report;
  out.push(
    report.usable
      ? paint('green', 'dmabuf doctor: the kernel backend can serve this user here')
      : paint('red', 'dmabuf doctor: the kernel backend cannot serve this user here'),
    '',
  );
  const page = kernel.pageSize === null ? 'page size unknown (no addon)' : `${formatBytes(kernel.pageSize)} pages`;
  out.push(`System   Linux ${kernel.release}, ${kernel.arch}, ${page}; user ${user.name} (uid ${user.uid}, groups ${user.groups.join(', ') || 'none'})`);
  out.push(`Backend  ${backend.backend}: ${backend.reason}`);
  out.push(`Addon    ${backend.addon.origin}${backend.addon.path ? ` (${backend.addon.path})` : backend.addon.reason ? `: ${backend.addon.reason}` : ''}`);
  out.push('');

  out.push(paint('bold', `Heaps (${report.heaps.directory})`));
  if (report.heaps.list.length > 0) {
    const rows = report.heaps.list.map((h) => [h.name, h.kind, h.mode, h.owner, h.group, yesNo(h.accessible, paint), yesNo(h.cpuMappable, paint)]);
    out.push(
      formatTable(
        [{ title: 'NAME' }, { title: 'KIND' }, { title: 'MODE' }, { title: 'OWNER' }, { title: 'GROUP' }, { title: 'OPEN' }, { title: 'CPU-MAP' }],
        rows,
      ),
    );
  } else {
    out.push(report.heaps.present ? 'none in the directory' : 'none: this kernel has no dma-heaps');
  }
  if (report.heaps.emulated.length > 0) out.push(`emulated heaps serve DmaHeap here: ${report.heaps.emulated.join(', ')}`);
  out.push('');

  const u = report.udmabuf;
  out.push(paint('bold', 'udmabuf'));
  if (u.device) {
    const limits = [
      u.sizeLimitMb === null ? 'no size limit' : `size_limit_mb ${u.sizeLimitMb}`,
      u.listLimit === null ? undefined : `list_limit ${u.listLimit}`,
    ].filter(Boolean);
    out.push(
      `${u.device.path}  ${u.device.mode} ${u.device.owner}:${u.device.group}  usable: ${yesNo(u.usable, paint)}${limits.length ? `  ${limits.join(', ')}` : ''}`,
    );
  } else {
    out.push('none: this kernel has no /dev/udmabuf');
  }
  out.push('');

  const p = report.probes;
  out.push(paint('bold', `Capabilities${p.on ? ` (tried on a page of ${p.on})` : ''}`));
  out.push(
    formatTable(
      [
        { title: 'SYNC' },
        { title: 'SET_NAME' },
        { title: 'EXPORT_SYNC_FILE' },
        { title: 'IMPORT_SYNC_FILE' },
        { title: 'FILE_INFO' },
        { title: 'SET_DEADLINE' },
      ],
      [[p.sync, p.setName, p.exportSyncFile, p.importSyncFile, p.syncFileInfo, p.setDeadline].map((v) => yesNo(v, paint))],
    ),
  );
  out.push(`vgem     ${report.vgem.present ? report.vgem.path : 'none'}`);
  out.push(`vivid    ${report.vivid.present ? report.vivid.path : 'none'}`);

  for (const level of ['problem', 'note'] as const) {
    const findings = report.findings.filter((f) => f.level === level);
    if (findings.length === 0) continue;
    out.push('', paint('bold', level === 'problem' ? 'Problems' : 'Notes'));
    for (const f of findings) {
      out.push(`${level === 'problem' ? paint('red', '✗') : '-'} ${f.what}`);
      if (f.fix) out.push(`  fix: ${f.fix}`);
    }
  }
  return out.join('\n');
}
