/** Output for people: sizes in KiB/MiB, aligned tables, colour only on a terminal that wants it. */

/** 4096 → '4 KiB', 1572864 → '1.5 MiB'; below 1 KiB in bytes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${text} ${units[unit]}`;
}

export interface Column {
  readonly title: string;
  /** Numbers and sizes read best right-aligned. */
  readonly align?: 'left' | 'right';
}

/** Rows of cells under their titles, each column as wide as its widest cell, two spaces apart. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (columns[i]?.align === 'right' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n');
}

/** One CSV line (RFC 4180 quoting). */
export function csvLine(cells: readonly (string | number)[]): string {
  return cells.map((cell) => (/[",\n]/.test(String(cell)) ? `"${String(cell).replaceAll('"', '""')}"` : String(cell))).join(',');
}

const STYLES = { bold: [1, 22], red: [31, 39], yellow: [33, 39], green: [32, 39], dim: [2, 22] } as const;
export type Style = keyof typeof STYLES;

/** A painter for `stream`: ANSI styles on a TTY unless NO_COLOR is set or TERM is dumb, plain text otherwise. */
export function painter(stream: { isTTY?: boolean }): (style: Style, text: string) => string {
  const colour = stream.isTTY === true && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
  return (style, text) => (colour ? `\u001b[${STYLES[style][0]}m${text}\u001b[${STYLES[style][1]}m` : text);
}
