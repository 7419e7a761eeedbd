/**
 * Is a results directory well formed? `npm run bench -- check DIR` (and CI
 * after `--quick`) uses this: results.json follows bench/RESULTS-SCHEMA.md,
 * every suite asked for is there with figures, and report.md links every
 * chart the document defines, each a standalone SVG a browser can show.
 * It judges form, never speed: a quick run's figures are a smoke test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Axis, Series, SuiteResult } from '../suite.js';
import { suiteCharts } from './charts.js';
import { readResults, resultsPath, type ResultsDocument } from './schema.js';

/** A JSON number or the null that NaN and Infinity become. */
function isNum(v: unknown): boolean {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Problems of one SVG file as a browser would meet them: the XML prolog and
 * namespace, every tag well formed and closed in order, no raw `&` or `<` in
 * text, every coordinate a number, and no NaN/undefined leaked into it.
 */
export function svgProblems(svg: string): string[] {
  const out: string[] = [];
  if (!svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" ')) out.push('no XML prolog or SVG namespace');
  const stack: string[] = [];
  const tag = /<[^>]*>/g;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (/[<>]|&(?!(amp|lt|gt|quot|apos);)/.test(between)) out.push(`unescaped text before ${m[0]}`);
    last = m.index + m[0].length;
    const t = m[0];
    if (t.startsWith('<?')) continue;
    if (!/^<\/?[a-zA-Z][\w:-]*(\s+[\w:-]+="[^"<]*")*\s*\/?>$/.test(t)) { out.push(`bad tag ${t}`); continue; }
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(t)) out.push(`unescaped & in ${t}`);
    const name = /^<\/?([\w:-]+)/.exec(t)![1]!;
    if (t.startsWith('</')) {
      const open = stack.pop();
      if (open !== name) out.push(`</${name}> closes <${open ?? 'nothing'}>`);
    } else if (!t.endsWith('/>')) stack.push(name);
  }
  if (stack.length) out.push(`unclosed <${stack.join('>, <')}>`);
  if (svg.slice(last).trim()) out.push('text after the root element');
  if (/NaN|undefined|Infinity|null/.test(svg)) out.push('NaN, undefined, Infinity or null in the drawing');
  for (const [, attr, v] of svg.matchAll(/\s(x|y|x1|y1|x2|y2|cx|cy|r|width|height)="([^"]*)"/g)) {
    if (!Number.isFinite(Number(v)) || v === '') out.push(`${attr}="${v}" is not a number`);
  }
  for (const [, d] of svg.matchAll(/\sd="([^"]*)"/g)) if (!/^([MLHV][-\d. ]+)+$/.test(d!)) out.push(`bad path d="${d}"`);
  return out;
}

function axisProblems(a: Axis | undefined, where: string): string[] {
  if (!a || typeof a.label !== 'string' || !a.label) return [`${where}: no label`];
  const out: string[] = [];
  if (a.scale !== undefined && !['linear', 'log2', 'log10'].includes(a.scale)) out.push(`${where}: scale ${String(a.scale)}`);
  if (a.format !== undefined && !['number', 'bytes'].includes(a.format)) out.push(`${where}: format ${String(a.format)}`);
  return out;
}

function seriesProblems(s: Series, where: string): string[] {
  const out: string[] = [];
  if (typeof s.id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(s.id)) out.push(`${where}: id ${JSON.stringify(s.id)} is not file-name safe`);
  if (typeof s.title !== 'string' || !s.title) out.push(`${where}: no title`);
  if (s.kind !== 'line' && s.kind !== 'bar') out.push(`${where}: kind ${String(s.kind)}`);
  out.push(...axisProblems(s.x, `${where} x`), ...axisProblems(s.y, `${where} y`));
  if (!Array.isArray(s.lines) || !s.lines.length) return [...out, `${where}: no lines`];
  let drawable = 0;
  for (const l of s.lines) {
    if (typeof l.name !== 'string' || !Array.isArray(l.points)) { out.push(`${where}: a line lacks name or points`); continue; }
    for (const p of l.points) {
      if (typeof p.x !== 'number' && typeof p.x !== 'string') out.push(`${where} ${l.name}: point without x`);
      if (!isNum(p.median) || !isNum(p.min ?? 0) || !isNum(p.max ?? 0)) out.push(`${where} ${l.name} @ ${String(p.x)}: not a number`);
      if (finite(p.median)) drawable++;
    }
  }
  if (!drawable) out.push(`${where}: not one point with a number`);
  return out;
}

function suiteProblems(s: SuiteResult): string[] {
  const out: string[] = [];
  const where = `suite ${s.name}`;
  const m = Object.entries(s.measurements);
  if (!m.length) out.push(`${where}: no measurements`);
  if (!m.some(([, v]) => finite(v?.median))) out.push(`${where}: no measurement has a number`);
  for (const [k, v] of m) {
    if (!v || !isNum(v.median) || !isNum(v.min) || !isNum(v.max) || !Number.isInteger(v.n) || v.n < 1) {
      out.push(`${where}: measurement ${k} is not {median, min, max, n}`);
    } else if (finite(v.min) && finite(v.max) && finite(v.median) && !(v.min <= v.median && v.median <= v.max)) {
      out.push(`${where}: measurement ${k} has median outside [min, max]`);
    }
  }
  for (const [k, v] of Object.entries(s.ratios)) if (!isNum(v)) out.push(`${where}: ratio ${k} is not a number`);
  for (const g of s.goals) {
    if (typeof g?.what !== 'string' || !isNum(g.value) || typeof g.met !== 'boolean') out.push(`${where}: a goal is not {what, value, met}`);
  }
  const ids = new Set<string>();
  for (const se of s.series ?? []) {
    if (ids.has(se.id)) out.push(`${where}: series id ${se.id} twice`);
    ids.add(se.id);
    out.push(...seriesProblems(se, `${where} series ${se.id}`));
  }
  for (const [k, meta] of Object.entries(s.meta ?? {})) {
    if (!(k in s.measurements) && !(k in s.ratios)) out.push(`${where}: meta for unknown name ${k}`);
    if (meta.better !== undefined && !['higher', 'lower', 'none'].includes(meta.better)) out.push(`${where}: meta ${k} better ${String(meta.better)}`);
  }
  return out;
}

/** What a run must hold besides being well formed. */
export interface Expectation {
  /** Suites that must be present, e.g. every registered suite after a plain `--quick`. */
  suites?: string[];
  /** The run must have the chart shapes of a full report somewhere (true when every suite ran). */
  shapes?: boolean;
}

/**
 * The chart shapes a full report must have somewhere: bandwidth against
 * size, latency percentiles, scaling curves (bench/suite.ts, Series).
 */
function missingShapes(doc: ResultsDocument): string[] {
  const all = doc.suites.flatMap((s) => s.series ?? []);
  const shapes: [string, (s: Series) => boolean][] = [
    ['bandwidth against message size', (s) => s.kind === 'line' && s.x.format === 'bytes' && s.y.unit === 'Gb/s'],
    ['latency percentiles', (s) => s.kind === 'bar' && s.y.unit === 'µs' && s.lines.some((l) => /p99/.test(l.name))],
    ['a scaling curve', (s) => s.kind === 'line' && s.x.format !== 'bytes' && s.x.scale === 'log2'],
  ];
  return shapes.filter(([, ok]) => !all.some(ok)).map(([what]) => `no chart of ${what}`);
}

/** Everything wrong with a results directory (or results.json path); empty when it is well formed. */
export function validateRun(path: string, expect: Expectation = {}): string[] {
  let doc: ResultsDocument;
  const file = resultsPath(path);
  try { doc = readResults(file); } catch (e) { return [(e as Error).message]; }
  const dir = file.replace(/results\.json$/, '');
  const out: string[] = [];
  if (Number.isNaN(Date.parse(doc.when))) out.push(`when ${JSON.stringify(doc.when)} is not a time`);
  if (typeof doc.quick !== 'boolean') out.push('quick is not a boolean');
  const mc = doc.machine;
  if (!finite(mc.cpus) || !finite(mc.memBytes) || typeof mc.kernel !== 'string') out.push('machine lacks cpus, memBytes or kernel');
  for (const l of [mc.loadavgBefore, mc.loadavgAfter]) if (!Array.isArray(l) || l.length !== 3 || !l.every(finite)) out.push('machine load averages are not three numbers');
  for (const f of doc.failed ?? []) out.push(`suite ${f.name} failed: ${f.error.split('\n')[0]}`);
  const names = doc.suites.map((s) => s.name);
  for (const want of expect.suites ?? []) if (!names.includes(want)) out.push(`suite ${want} missing (have: ${names.join(', ') || 'none'})`);
  if (new Set(names).size !== names.length) out.push(`a suite appears twice: ${names.join(', ')}`);
  for (const s of doc.suites) out.push(...suiteProblems(s));
  if (expect.shapes) out.push(...missingShapes(doc));

  const md = join(dir, 'report.md');
  if (!existsSync(md)) return [...out, 'report.md missing'];
  const report = readFileSync(md, 'utf8');
  const taken = new Set<string>();
  for (const s of doc.suites) {
    if (!report.includes(`\n## ${s.name}\n`)) out.push(`report.md has no section for ${s.name}`);
    let charts;
    try { charts = suiteCharts(s, taken); } catch (e) { out.push(`suite ${s.name}: charts do not render: ${(e as Error).message}`); continue; }
    if (!charts.length) out.push(`suite ${s.name}: no charts`);
    for (const c of charts) {
      if (!report.includes(`](${encodeURI(c.fileName)})`)) out.push(`report.md does not link ${c.fileName}`);
      const f = join(dir, c.fileName);
      if (!existsSync(f)) { out.push(`${c.fileName} missing`); continue; }
      for (const p of svgProblems(readFileSync(f, 'utf8'))) out.push(`${c.fileName}: ${p}`);
    }
  }
  return out;
}
