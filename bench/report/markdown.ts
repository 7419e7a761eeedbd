/**
 * report.md for one results document: how and where it was measured, then
 * per suite its measurements, ratios, goals and charts. The charts are
 * returned beside the text; the caller writes them next to report.md, which
 * links them by file name.
 */
import type { SuiteResult } from '../suite.js';
import { suiteCharts, type Chart } from './charts.js';
import { mdCell, mdTable, num } from './format.js';
import { measurementMeta, ratioMeta } from './metrics.js';
import { busyWarning, type ResultsDocument } from './schema.js';

export interface Report { markdown: string; charts: Chart[] }

function gib(b: number): string { return `${(b / 2 ** 30).toFixed(1)} GiB`; }

function duration(s: number): string {
  return s < 120 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

function load(l: number[] | undefined): string {
  return l?.length ? l.map((v) => v.toFixed(2)).join(' / ') : 'n/a';
}

function header(doc: ResultsDocument): string[] {
  const m = doc.machine;
  const lines = [
    '# freeflow-ts benchmark report',
    '',
    `- **Date:** ${doc.when}`,
    `- **Mode:** ${doc.quick ? 'quick (one repetition, short runs: a smoke test, not figures to quote)' : 'full (repeated runs: medians with min/max)'}`,
    `- **Machine:** ${m.cpus} CPUs${m.cpuModel ? ` (${m.cpuModel})` : ''}, ${gib(m.memBytes)} memory, kernel ${m.kernel}${m.arch ? `, ${m.arch}` : ''}${m.node ? `, node ${m.node}` : ''}`,
    `- **Load average (1 / 5 / 15 min):** before ${load(m.loadavgBefore)}, after ${load(m.loadavgAfter)}`,
  ];
  if (doc.commit) lines.push(`- **Commit:** ${doc.commit}`);
  const timed = doc.suites.filter((s) => typeof s.seconds === 'number');
  const took = timed.length ? ` (total ${duration(timed.reduce((a, s) => a + s.seconds!, 0))}: ${timed.map((s) => `${s.name} ${duration(s.seconds!)}`).join(', ')})` : '';
  lines.push(`- **Schema:** ${doc.schema}`, `- **Suites:** ${doc.suites.map((s) => s.name).join(', ') || 'none'}${took}`);
  for (const f of doc.failed ?? []) lines.push('', `> **Suite ${f.name} failed** and has no figures: ${mdCell(f.error.split('\n')[0] ?? '')}`);
  const warn = busyWarning(m);
  if (warn) lines.push('', `> **Note:** ${warn}`);
  lines.push('', 'Medians over repetitions with their min and max; each ratio divides two medians of the same run, pair by pair.');
  return lines;
}

function arrow(better: string): string {
  return better === 'higher' ? 'higher' : better === 'lower' ? 'lower' : '';
}

function measurementsTable(s: SuiteResult): string {
  const rows = Object.entries(s.measurements).map(([k, v]) => {
    const meta = measurementMeta(s, k);
    return [`\`${k}\``, num(v.median), num(v.min), num(v.max), String(v.n), meta.unit, arrow(meta.better)];
  });
  return mdTable(['measurement', 'median', 'min', 'max', 'n', 'unit', 'better'], rows, ['left', 'right', 'right', 'right', 'right', 'left', 'left']);
}

function ratiosTable(s: SuiteResult): string {
  const rows = Object.entries(s.ratios).map(([k, v]) => [`\`${k}\``, Number.isFinite(v) ? `${num(v)}x` : 'n/a', arrow(ratioMeta(s, k).better)]);
  return mdTable(['ratio', 'measured / baseline', 'better'], rows, ['left', 'right', 'left']);
}

function goalsTable(s: SuiteResult): string {
  const rows = s.goals.map((g) => [g.what, num(g.value), g.met ? 'met' : '**not met**']);
  return mdTable(['goal', 'value', 'status'], rows, ['left', 'right', 'left']);
}

function suiteSection(s: SuiteResult, charts: Chart[]): string[] {
  const met = s.goals.filter((g) => g.met).length;
  const out = [`## ${s.name}`, ''];
  if (s.goals.length) out.push(`Goals met: ${met} of ${s.goals.length}.`, '');
  out.push('### Measurements', '', Object.keys(s.measurements).length ? measurementsTable(s) : '_none_', '');
  out.push('### Ratios', '', Object.keys(s.ratios).length ? ratiosTable(s) : '_none_', '');
  out.push('### Goals', '', s.goals.length ? goalsTable(s) : '_none_', '');
  out.push('### Charts', '');
  if (!charts.length) out.push('_none_', '');
  // alt text sits between brackets: a bracket in a title would end it early
  for (const c of charts) out.push(`![${mdCell(c.title).replace(/[[\]]/g, '')}](${encodeURI(c.fileName)})`, '');
  return out;
}

export function renderReport(doc: ResultsDocument): Report {
  const taken = new Set<string>();
  const charts: Chart[] = [];
  const body = [...header(doc), ''];
  for (const s of doc.suites) {
    const mine = suiteCharts(s, taken);
    charts.push(...mine);
    body.push(...suiteSection(s, mine));
  }
  return { markdown: `${body.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`, charts };
}
