/**
 * Two results documents side by side. The rule (also in RESULTS-SCHEMA.md):
 *
 *   δ    = max(noise × |old median|, declared absolute noise of the metric)
 *   band = [old min − δ, old max + δ]
 *
 * A new median inside the band is "within noise". Outside it, the metric's
 * direction decides: a move the wrong way is a "regression", the right way
 * an "improvement"; metrics without a direction are "changed". The old
 * min/max is the spread the old run itself showed; δ widens it because with
 * few repetitions (one in --quick) that spread understates the true noise.
 */
import type { Better, SeriesPoint, SuiteResult } from '../suite.js';
import type { Summary } from '../stats.js';
import { mdTable, num, percent, textTable, type Align } from './format.js';
import { measurementMeta, seriesMeta, type ResolvedMeta } from './metrics.js';
import { tickLabel } from './axis.js';
import { busyWarning, type ResultsDocument } from './schema.js';

export const DEFAULT_NOISE = 0.05;

export type Verdict = 'regression' | 'improvement' | 'within noise' | 'changed' | 'n/a';

export interface CompareRow {
  suite: string;
  /** A measurement name, or `<series id>: <line> @ <x>` for a chart point. */
  name: string;
  unit: string;
  better: Better;
  old: Summary;
  new: Summary;
  /** (new − old) / |old| × 100; null when the old median is 0 or either is not a number. */
  changePct: number | null;
  band: [number, number];
  verdict: Verdict;
}

export interface Side { label: string; when: string; quick: boolean; commit?: string }

export interface Comparison {
  a: Side;
  b: Side;
  noise: number;
  rows: CompareRow[];
  /** `suite/name` present on one side only: renamed or new metrics, not compared. */
  onlyInA: string[];
  onlyInB: string[];
  /** Reasons the two runs are less comparable than they look. */
  notes: string[];
}

function finite(v: unknown): v is number { return typeof v === 'number' && Number.isFinite(v); }

export function judge(old: Summary, next: Summary, better: Better, noise: number, absNoise = 0): { verdict: Verdict; band: [number, number] } {
  if (![old.median, old.min, old.max, next.median].every(finite)) return { verdict: 'n/a', band: [Number.NaN, Number.NaN] };
  const d = Math.max(noise * Math.abs(old.median), absNoise);
  const band: [number, number] = [old.min - d, old.max + d];
  if (next.median >= band[0] && next.median <= band[1]) return { verdict: 'within noise', band };
  if (better === 'none') return { verdict: 'changed', band };
  const up = next.median > band[1];
  return { verdict: up === (better === 'higher') ? 'improvement' : 'regression', band };
}

/** Chart points keyed so the same point of the same chart meets itself across runs. */
function seriesPoints(suite: SuiteResult): Map<string, { s: Summary; meta: ResolvedMeta }> {
  const out = new Map<string, { s: Summary; meta: ResolvedMeta }>();
  for (const ser of suite.series ?? []) {
    const meta = seriesMeta(ser);
    for (const line of ser.lines) {
      for (const p of line.points) {
        const x = typeof p.x === 'number' ? tickLabel(ser.x, p.x) : p.x;
        out.set(`${ser.id}: ${line.name} @ ${x}`, { s: pointSummary(p), meta });
      }
    }
  }
  return out;
}

function pointSummary(p: SeriesPoint): Summary {
  return { median: p.median, min: p.min ?? p.median, max: p.max ?? p.median, n: p.n ?? 1 };
}

function metrics(suite: SuiteResult): Map<string, { s: Summary; meta: ResolvedMeta }> {
  const out = new Map<string, { s: Summary; meta: ResolvedMeta }>();
  for (const [k, s] of Object.entries(suite.measurements)) out.set(k, { s, meta: measurementMeta(suite, k) });
  for (const [k, v] of seriesPoints(suite)) if (!out.has(k)) out.set(k, v);
  return out;
}

function side(label: string, d: ResultsDocument): Side {
  return { label, when: d.when, quick: d.quick, ...(d.commit ? { commit: d.commit } : {}) };
}

function notes(a: ResultsDocument, b: ResultsDocument): string[] {
  const n: string[] = [];
  if (a.quick !== b.quick) n.push(`old is ${a.quick ? 'quick' : 'full'}, new is ${b.quick ? 'quick' : 'full'}: quick runs have one repetition, so their bands are a single point.`);
  const ma = a.machine, mb = b.machine;
  if (ma.cpus !== mb.cpus || ma.cpuModel !== mb.cpuModel || ma.kernel !== mb.kernel || ma.memBytes !== mb.memBytes) {
    n.push(`different machines: old ${ma.cpus}x ${ma.cpuModel ?? '?'}, kernel ${ma.kernel}; new ${mb.cpus}x ${mb.cpuModel ?? '?'}, kernel ${mb.kernel}.`);
  }
  for (const [l, d] of [['old', a], ['new', b]] as const) { const w = busyWarning(d.machine); if (w) n.push(`${l}: ${w}`); }
  return n;
}

export function compare(a: ResultsDocument, b: ResultsDocument, opts: { noise?: number; labels?: [string, string] } = {}): Comparison {
  const noise = opts.noise ?? DEFAULT_NOISE;
  const rows: CompareRow[] = [], onlyInA: string[] = [], onlyInB: string[] = [];
  const bSuites = new Map(b.suites.map((s) => [s.name, s]));
  for (const sa of a.suites) {
    const sb = bSuites.get(sa.name);
    const ma = metrics(sa);
    if (!sb) { onlyInA.push(...[...ma.keys()].map((k) => `${sa.name}/${k}`)); continue; }
    const mb = metrics(sb);
    for (const [k, { s: old, meta: metaA }] of ma) {
      const nb = mb.get(k);
      if (!nb) { onlyInA.push(`${sa.name}/${k}`); continue; }
      // the newer run's declarations win: that is the code being judged
      const meta = nb.meta.source === 'declared' || metaA.source !== 'declared' ? nb.meta : metaA;
      const { verdict, band } = judge(old, nb.s, meta.better, noise, meta.noise);
      const changePct = finite(old.median) && finite(nb.s.median) && old.median !== 0 ? ((nb.s.median - old.median) / Math.abs(old.median)) * 100 : null;
      rows.push({ suite: sa.name, name: k, unit: meta.unit, better: meta.better, old, new: nb.s, changePct, band, verdict });
    }
    for (const k of mb.keys()) if (!ma.has(k)) onlyInB.push(`${sa.name}/${k}`);
  }
  const aNames = new Set(a.suites.map((s) => s.name));
  for (const sb of b.suites) if (!aNames.has(sb.name)) onlyInB.push(...[...metrics(sb).keys()].map((k) => `${sb.name}/${k}`));
  const [la, lb] = opts.labels ?? ['old', 'new'];
  return { a: side(la, a), b: side(lb, b), noise, rows, onlyInA, onlyInB, notes: notes(a, b) };
}

export function regressions(c: Comparison): CompareRow[] { return c.rows.filter((r) => r.verdict === 'regression'); }

function counts(c: Comparison): string {
  const n = (v: Verdict) => c.rows.filter((r) => r.verdict === v).length;
  const parts = [`${n('regression')} regression(s)`, `${n('improvement')} improvement(s)`, `${n('within noise')} within noise`];
  if (n('changed')) parts.push(`${n('changed')} changed (no direction known)`);
  if (n('n/a')) parts.push(`${n('n/a')} not comparable`);
  return parts.join(', ');
}

const HEAD = ['measurement', 'unit', 'better', 'old median', 'new median', 'change', 'band', 'verdict'];
const ALIGN: Align[] = ['left', 'left', 'left', 'right', 'right', 'right', 'left', 'left'];

function cells(r: CompareRow): string[] {
  const band = r.verdict === 'n/a' ? 'n/a' : `[${num(r.band[0])}, ${num(r.band[1])}]`;
  return [r.name, r.unit, r.better === 'none' ? '' : r.better, num(r.old.median), num(r.new.median), percent(r.changePct), band, r.verdict];
}

function describe(s: Side): string {
  return `${s.label} (${s.when}, ${s.quick ? 'quick' : 'full'}${s.commit ? `, ${s.commit}` : ''})`;
}

function rule(c: Comparison): string {
  return `A new median counts as a change when it leaves the old [min, max] band widened by ${(c.noise * 100).toFixed(1)}% of the old median (or the metric's declared absolute noise, if larger); the metric's direction then makes it a regression or an improvement.`;
}

export function comparisonText(c: Comparison): string {
  const out = [`old: ${describe(c.a)}`, `new: ${describe(c.b)}`, rule(c), ...c.notes.map((n) => `note: ${n}`)];
  for (const suite of new Set(c.rows.map((r) => r.suite))) {
    out.push('', `== ${suite}`, textTable(HEAD, c.rows.filter((r) => r.suite === suite).map(cells), ALIGN));
  }
  if (c.onlyInA.length) out.push('', `only in old (not compared): ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length) out.push('', `only in new (not compared): ${c.onlyInB.join(', ')}`);
  out.push('', `summary: ${counts(c)}`);
  return `${out.join('\n')}\n`;
}

export function comparisonMarkdown(c: Comparison): string {
  const out = ['# freeflow-ts benchmark comparison', '', `- **Old:** ${describe(c.a)}`, `- **New:** ${describe(c.b)}`, `- **Summary:** ${counts(c)}`, '', rule(c)];
  if (c.notes.length) out.push('', ...c.notes.flatMap((n) => [`> **Note:** ${n}`, '']));
  for (const suite of new Set(c.rows.map((r) => r.suite))) {
    const rows = c.rows.filter((r) => r.suite === suite).map((r) => {
      const x = cells(r);
      x[0] = `\`${x[0]}\``;
      if (r.verdict === 'regression') x[7] = '**regression**';
      return x;
    });
    out.push('', `## ${suite}`, '', mdTable(HEAD, rows, ALIGN));
  }
  if (c.onlyInA.length) out.push('', `Only in old (not compared): ${c.onlyInA.map((k) => `\`${k}\``).join(', ')}`);
  if (c.onlyInB.length) out.push('', `Only in new (not compared): ${c.onlyInB.map((k) => `\`${k}\``).join(', ')}`);
  return `${out.join('\n')}\n`;
}
