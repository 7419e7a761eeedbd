/**
 * Dependency-free SVG charts for report.md: a line chart (numeric x, linear
 * or log2/log10, or categories) and a grouped bar chart, both with min/max
 * error bars, tick labels with units, a legend and a fixed size, so a browser
 * shows the file as is and reports from different runs look alike.
 */
import type { Series, SeriesPoint } from '../suite.js';
import { bandScale, makeScale, plottable, tickLabel, type Scale } from './axis.js';
import { num } from './format.js';
import {
  bottomRoom, c, CHAR_W, color, dash, errorBar, esc, frame, HEIGHT, leftForLabels, legend, legendWidth, marks, noData,
  svgDocument, type Plot, WIDTH, xLabels,
} from './svg-parts.js';

export function renderChart(s: Series): string {
  return s.kind === 'bar' ? barChart(s) : lineChart(s);
}

const TOP = 44;

function allPoints(s: Series): SeriesPoint[] { return s.lines.flatMap((l) => l.points); }

/** Everything y has to show: medians, whiskers, reference lines and, for bars, their foot. */
function yValues(s: Series): number[] {
  return allPoints(s).flatMap((p) => [p.median, p.min, p.max]).filter((v): v is number => typeof v === 'number');
}

/** Categories in order of appearance, or ascending when they are all numbers (sizes, QP counts). */
function categories(s: Series): (number | string)[] {
  const seen: (number | string)[] = [];
  for (const p of allPoints(s)) if (!seen.includes(p.x)) seen.push(p.x);
  return seen.every((x) => typeof x === 'number') ? (seen as number[]).sort((a, b) => a - b) : seen;
}

function catLabel(s: Series, x: number | string): string {
  return typeof x === 'number' ? tickLabel(s.x, x) : x;
}

/** Left margin wide enough for the y tick labels, which do not depend on pixel positions. */
function leftRoom(s: Series, include: number[]): number {
  const labels = makeScale(s.y, yValues(s), 0, 1, include).ticks.map((t) => t.label);
  return Math.max(56, 34 + Math.max(...labels.map((l) => l.length)) * CHAR_W);
}

function yInclude(s: Series, foot: boolean): number[] {
  const inc = (s.marks ?? []).map((m) => m.y);
  const positive = yValues(s).every((v) => v >= 0);
  // linear charts start at 0 so heights compare honestly; bars on a log axis grow from 1 (parity for ratios)
  if (s.y.scale === 'log2' || s.y.scale === 'log10') { if (foot) inc.push(1); } else if (foot || positive) inc.push(0);
  return inc;
}

function tip(s: Series, line: string, p: SeriesPoint): string {
  const unit = s.y.unit ? ` ${s.y.unit}` : '';
  const range = p.min !== undefined && p.max !== undefined ? ` (min ${num(p.min)}, max ${num(p.max)}${p.n ? `, n=${p.n}` : ''})` : '';
  return `<title>${esc(`${line}: ${catLabel(s, p.x)} → ${num(p.median)}${unit}${range}`)}</title>`;
}

function whisker(y: Scale, x: number, p: SeriesPoint, stroke: string, floor: number): string {
  const at = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? undefined : y.ok(v) ? y.at(v) : floor);
  return errorBar(x, at(p.min), at(p.max), stroke);
}

export function lineChart(s: Series): string {
  const names = s.lines.map((l) => l.name);
  const include = yInclude(s, false);
  const right = WIDTH - legendWidth(names) - 8;
  const numeric = allPoints(s).every((p) => typeof p.x === 'number');
  const cats = numeric ? [] : categories(s);
  const left = leftForLabels(leftRoom(s, include), right, cats.map((x) => catLabel(s, x)));

  // x first: how much room its labels need decides where the plot ends
  let xAt: (x: number | string) => number | undefined;
  let ticks: { x: number; label: string }[];
  let band: number;
  if (numeric) {
    const xs = makeScale(s.x, allPoints(s).map((p) => p.x as number), left + 12, right - 12);
    xAt = (x) => (typeof x === 'number' && xs.ok(x) ? xs.at(x) : undefined);
    ticks = xs.ticks.map((t) => ({ x: xs.at(t.v), label: t.label }));
    band = (right - left) / Math.max(1, ticks.length);
  } else {
    const bs = bandScale(cats.length, left, right);
    xAt = (x) => { const i = cats.indexOf(x); return i < 0 ? undefined : bs.at(i); };
    ticks = cats.map((x, i) => ({ x: bs.at(i), label: catLabel(s, x) }));
    band = bs.band;
  }
  const bottom = HEIGHT - bottomRoom(ticks.map((t) => t.label), band);
  const p: Plot = { left, top: TOP, right, bottom };
  const y = makeScale(s.y, yValues(s), bottom, TOP, include);

  const body = [...frame(p, s.y, y, s.x), ...xLabels(p, ticks, band), ...marks(p, y, s.marks)];
  let drawn = 0;
  s.lines.forEach((line, i) => {
    const pts = line.points
      .map((pt) => ({ pt, px: xAt(pt.x) }))
      .filter((q): q is { pt: SeriesPoint; px: number } => q.px !== undefined && y.ok(q.pt.median))
      .sort((a, b) => a.px - b.px);
    if (!pts.length) return;
    drawn += pts.length;
    const col = color(i);
    const g = [`<g class="line" data-name="${esc(line.name)}">`];
    for (const q of pts) g.push(whisker(y, q.px, q.pt, col, bottom));
    const d = pts.map((q, k) => `${k ? 'L' : 'M'}${c(q.px)} ${c(y.at(q.pt.median))}`).join('');
    g.push(`<path d="${d}" fill="none" stroke="${col}" stroke-width="2"${dash(i) ? ` stroke-dasharray="${dash(i)}"` : ''}/>`);
    for (const q of pts) g.push(`<circle cx="${c(q.px)}" cy="${c(y.at(q.pt.median))}" r="3" fill="${col}">${tip(s, line.name, q.pt)}</circle>`);
    g.push('</g>');
    body.push(...g);
  });
  if (!drawn) body.push(noData(p));
  body.push(...legend(names, right + 16, TOP, 'line'));
  return svgDocument(s.title, body);
}

export function barChart(s: Series): string {
  const names = s.lines.map((l) => l.name);
  const include = yInclude(s, true);
  const right = WIDTH - legendWidth(names) - 8;
  const cats = categories(s);
  // a category with nothing drawable (a NaN ratio) says so rather than look like a zero
  const drawable = (x: number | string) => s.lines.some((l) => l.points.some((q) => q.x === x && plottable(s.y, q.median)));
  const labels = cats.map((x) => (drawable(x) ? catLabel(s, x) : `${catLabel(s, x)} (no data)`));
  const left = leftForLabels(leftRoom(s, include), right, labels);
  const bs = bandScale(cats.length, left, right);
  const bottom = HEIGHT - bottomRoom(labels, bs.band);
  const p: Plot = { left, top: TOP, right, bottom };
  const y = makeScale(s.y, yValues(s), bottom, TOP, include);
  const foot = y.at(s.y.scale === 'log2' || s.y.scale === 'log10' ? 1 : 0);

  const body = [...frame(p, s.y, y, s.x), ...xLabels(p, cats.map((_, i) => ({ x: bs.at(i), label: labels[i]! })), bs.band)];
  // a few categories would otherwise give slabs; 56 px per bar is wide enough to read
  const inner = Math.min(bs.band * 0.8, 56 * Math.max(1, s.lines.length));
  const w = inner / Math.max(1, s.lines.length);
  let drawn = 0;
  s.lines.forEach((line, li) => {
    const col = color(li);
    const g = [`<g class="bars" data-name="${esc(line.name)}">`];
    cats.forEach((cat, ci) => {
      const pt = line.points.find((q) => q.x === cat);
      if (!pt || !y.ok(pt.median)) return;
      drawn++;
      const x = bs.at(ci) - inner / 2 + li * w;
      const top = y.at(pt.median);
      g.push(`<rect x="${c(x + 1)}" y="${c(Math.min(top, foot))}" width="${c(Math.max(1, w - 2))}" height="${c(Math.max(1, Math.abs(foot - top)))}" fill="${col}">${tip(s, line.name, pt)}</rect>`);
      g.push(whisker(y, x + w / 2, pt, '#222222', bottom));
    });
    g.push('</g>');
    body.push(...g);
  });
  body.push(...marks(p, y, s.marks));
  if (!drawn) body.push(noData(p));
  body.push(...legend(names, right + 16, TOP, 'bar'));
  return svgDocument(s.title, body);
}
