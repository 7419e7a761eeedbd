/** Number and table formatting shared by the terminal output, report.md and the charts. */

/**
 * Four significant digits without exponent for the usual range: enough to see
 * a few % change, few enough to read. results.json stores non-finite values
 * as null (JSON has no NaN), so null prints like NaN.
 */
export function num(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e7 || a < 1e-4) return v.toExponential(2);
  const digits = Math.max(0, 3 - Math.floor(Math.log10(a)));
  return v.toFixed(digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** Sizes the way perftest users read them: 2 B, 4 KiB, 8 MiB. */
export function bytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${num(x)} ${units[i]}`;
}

export function percent(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return 'n/a';
  return `${v > 0 ? '+' : ''}${v.toFixed(1)}%`;
}

export type Align = 'left' | 'right';

/** A table for a terminal: columns padded to their widest cell, numbers right-aligned. */
export function textTable(header: string[], rows: string[][], align: Align[]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells
    .map((c, i) => (align[i] === 'right' ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
    .join('  ')
    .trimEnd();
  return [line(header), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Markdown table cell: a `|` or a newline would break the row. */
export function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function mdTable(header: string[], rows: string[][], align: Align[]): string {
  const sep = align.map((a) => (a === 'right' ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`;
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}
