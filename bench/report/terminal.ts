/**
 * The run's figures as aligned text for the terminal, the same numbers
 * report.md shows. Sweeps produce hundreds of figures: past `maxRows` per
 * table the terminal shows the first ones and points to report.md, which
 * has them all.
 */
import type { SuiteResult } from '../suite.js';
import { num, textTable } from './format.js';
import { measurementMeta } from './metrics.js';

const MAX_ROWS = 40;

function capped<T>(rows: T[], max: number): { shown: T[]; more: string[] } {
  return rows.length <= max ? { shown: rows, more: [] } : { shown: rows.slice(0, max), more: [`  ... ${rows.length - max} more in report.md`] };
}

export function suiteText(s: SuiteResult, maxRows = MAX_ROWS): string {
  const out = [`== ${s.name}${typeof s.seconds === 'number' ? ` (${Math.round(s.seconds)} s)` : ''}`];
  const m = capped(Object.entries(s.measurements), maxRows);
  if (m.shown.length) {
    out.push(textTable(['measurement', 'median', 'min', 'max', 'n', 'unit'],
      m.shown.map(([k, v]) => [k, num(v.median), num(v.min), num(v.max), String(v.n), measurementMeta(s, k).unit]),
      ['left', 'right', 'right', 'right', 'right', 'left']), ...m.more);
  }
  const r = capped(Object.entries(s.ratios), maxRows);
  if (r.shown.length) out.push('', textTable(['ratio', 'measured/baseline'], r.shown.map(([k, v]) => [k, Number.isFinite(v) ? `${num(v)}x` : 'n/a']), ['left', 'right']), ...r.more);
  if (s.goals.length) out.push('', textTable(['goal', 'value', 'status'], s.goals.map((g) => [g.what, num(g.value), g.met ? 'MET' : 'NOT MET']), ['left', 'right', 'left']));
  return out.join('\n');
}
