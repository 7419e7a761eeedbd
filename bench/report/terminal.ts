/** The run's figures as aligned text for the terminal, the same numbers report.md shows. */
import type { SuiteResult } from '../suite.js';
import { num, textTable } from './format.js';
import { measurementMeta } from './metrics.js';

export function suiteText(s: SuiteResult): string {
  const out = [`== ${s.name}`];
  const m = Object.entries(s.measurements);
  if (m.length) {
    out.push(textTable(['measurement', 'median', 'min', 'max', 'n', 'unit'],
      m.map(([k, v]) => [k, num(v.median), num(v.min), num(v.max), String(v.n), measurementMeta(s, k).unit]),
      ['left', 'right', 'right', 'right', 'right', 'left']));
  }
  const r = Object.entries(s.ratios);
  if (r.length) out.push('', textTable(['ratio', 'measured/baseline'], r.map(([k, v]) => [k, Number.isFinite(v) ? `${num(v)}x` : 'n/a']), ['left', 'right']));
  if (s.goals.length) out.push('', textTable(['goal', 'value', 'status'], s.goals.map((g) => [g.what, num(g.value), g.met ? 'MET' : 'NOT MET']), ['left', 'right', 'left']));
  return out.join('\n');
}
