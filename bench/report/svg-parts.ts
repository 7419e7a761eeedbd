/**
 * The pieces every chart shares: escaping, the frame with its axes and grid,
 * the legend, error bars. Coordinates go through `c()` so a stray NaN shows
 * up as a thrown error in the tests instead of a silently broken drawing.
 */
import type { Axis } from '../suite.js';
import { axisTitle, type Scale } from './axis.js';

export const WIDTH = 800;
export const HEIGHT = 480;
const FONT = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';
/** Width of one 11 px character, a little generous (DejaVu Sans is wide), for layout without a font engine. */
export const CHAR_W = 6.6;
export const MAX_X_LABEL = 36;
const TILT_DEG = 35;
const TILT = (TILT_DEG * Math.PI) / 180;

/** Okabe–Ito: tells lines apart with the common colour-vision deficiencies; yellow last, it is faint on white. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

export function color(i: number): string { return PALETTE[i % PALETTE.length]!; }
/** Past the palette, lines repeat colours with a different dash pattern. */
export function dash(i: number): string { return DASHES[Math.floor(i / PALETTE.length) % DASHES.length]!; }

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A coordinate, rounded to what a screen can show. */
export function c(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`svg: non-finite coordinate ${v}`);
  return String(Math.round(v * 10) / 10);
}

export function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${c(x)}" y="${c(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s;
}

export interface Plot { left: number; top: number; right: number; bottom: number }

export function svgDocument(title: string, body: string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${esc(FONT)}" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(WIDTH / 2, 24, clip(title, 90), 'text-anchor="middle" font-size="15" font-weight="bold"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Horizontal grid at the y ticks, the y tick labels, both axis titles and the plot border. */
export function frame(p: Plot, yAxis: Axis, y: Scale, xAxis: Axis): string[] {
  const out: string[] = ['<g class="grid" stroke="#e3e3e3" stroke-width="1">'];
  for (const t of y.ticks) out.push(`<line x1="${c(p.left)}" y1="${c(y.at(t.v))}" x2="${c(p.right)}" y2="${c(y.at(t.v))}"/>`);
  out.push('</g>', '<g class="y-ticks" text-anchor="end" fill="#333333">');
  for (const t of y.ticks) out.push(text(p.left - 6, y.at(t.v) + 4, t.label));
  out.push('</g>');
  out.push(`<rect x="${c(p.left)}" y="${c(p.top)}" width="${c(p.right - p.left)}" height="${c(p.bottom - p.top)}" fill="none" stroke="#888888"/>`);
  const my = (p.top + p.bottom) / 2;
  out.push(text(18, my, axisTitle(yAxis), `text-anchor="middle" font-size="12" transform="rotate(-90 18 ${c(my)})"`));
  out.push(text((p.left + p.right) / 2, HEIGHT - 10, axisTitle(xAxis), 'text-anchor="middle" font-size="12"'));
  return out;
}

/** X labels under numeric ticks or categories; rotated when they would overlap, clipped when long. */
export function xLabels(p: Plot, at: { x: number; label: string }[], band: number): string[] {
  const rotate = rotated(at.map((a) => a.label), band);
  const out = [`<g class="x-ticks" fill="#333333" text-anchor="${rotate ? 'end' : 'middle'}">`];
  for (const a of at) {
    out.push(`<line x1="${c(a.x)}" y1="${c(p.bottom)}" x2="${c(a.x)}" y2="${c(p.bottom + 4)}" stroke="#888888"/>`);
    const y = p.bottom + 16;
    const label = clip(a.label, MAX_X_LABEL);
    const full = label === a.label ? '' : `<title>${esc(a.label)}</title>`;
    out.push(rotate
      ? `<text x="${c(a.x + 4)}" y="${c(y)}" transform="rotate(-${TILT_DEG} ${c(a.x + 4)} ${c(y)})">${full}${esc(label)}</text>`
      : `<text x="${c(a.x)}" y="${c(y)}">${full}${esc(label)}</text>`);
  }
  out.push('</g>');
  return out;
}

/** Labels wider than their slot are tilted. */
function rotated(labels: string[], band: number): boolean {
  return Math.max(0, ...labels.map((l) => l.length)) * CHAR_W > band - 4;
}

/** Room under the plot: tick labels and the axis title, more when labels are rotated. */
export function bottomRoom(labels: string[], band: number): number {
  const longest = Math.min(MAX_X_LABEL, Math.max(0, ...labels.map((l) => l.length)));
  return rotated(labels, band) ? 44 + longest * CHAR_W * Math.sin(TILT) : 50;
}

/** Left margin so the first rotated label, which reaches down and left from its tick, stays on the canvas. */
export function leftForLabels(left: number, right: number, labels: string[]): number {
  const band = (right - left) / Math.max(1, labels.length);
  if (!labels.length || !rotated(labels, band)) return left;
  const first = Math.min(MAX_X_LABEL, labels[0]!.length) * CHAR_W * Math.cos(TILT);
  return Math.max(left, Math.min(first - band / 2 + 8, (right - left) / 2));
}

export const LEGEND_MAX = 28;

/** Width the legend takes at the right edge. */
export function legendWidth(names: string[]): number {
  return names.length ? 40 + Math.min(LEGEND_MAX, Math.max(...names.map((n) => n.length))) * CHAR_W : 12;
}

/** One entry per line: its colour as a line (line charts) or a swatch (bar charts), then its name. */
export function legend(names: string[], x: number, top: number, kind: 'line' | 'bar'): string[] {
  const out = ['<g class="legend" fill="#222222">'];
  const fits = Math.floor((HEIGHT - top - 20) / 18);
  names.forEach((n, i) => {
    if (i >= fits) return;
    const y = top + 8 + i * 18;
    if (i === fits - 1 && names.length > fits) { out.push(text(x, y + 4, `+${names.length - i} more`)); return; }
    out.push(kind === 'line'
      ? `<line x1="${c(x)}" y1="${c(y)}" x2="${c(x + 22)}" y2="${c(y)}" stroke="${color(i)}" stroke-width="2"${dash(i) ? ` stroke-dasharray="${dash(i)}"` : ''}/><circle cx="${c(x + 11)}" cy="${c(y)}" r="3" fill="${color(i)}"/>`
      : `<rect x="${c(x + 4)}" y="${c(y - 6)}" width="14" height="12" fill="${color(i)}"/>`);
    out.push(text(x + 28, y + 4, clip(n, LEGEND_MAX)));
  });
  out.push('</g>');
  return out;
}

/** Min–max whisker with caps; either end may be missing. */
export function errorBar(x: number, yMin: number | undefined, yMax: number | undefined, stroke: string): string {
  if (yMin === undefined || yMax === undefined || Math.abs(yMin - yMax) < 0.5) return '';
  return `<path d="M${c(x)} ${c(yMin)}V${c(yMax)}M${c(x - 4)} ${c(yMin)}H${c(x + 4)}M${c(x - 4)} ${c(yMax)}H${c(x + 4)}" stroke="${stroke}" stroke-width="1.2" fill="none"/>`;
}

/** Dashed horizontal reference lines (goal thresholds, baselines), labelled at the right end. */
export function marks(p: Plot, y: Scale, list: { y: number; label: string }[] | undefined): string[] {
  const out: string[] = [];
  for (const m of list ?? []) {
    if (!y.ok(m.y)) continue;
    const py = y.at(m.y);
    out.push(`<line x1="${c(p.left)}" y1="${c(py)}" x2="${c(p.right)}" y2="${c(py)}" stroke="#B00020" stroke-width="1" stroke-dasharray="5 4"/>`);
    out.push(text(p.right - 4, py - 4, clip(m.label, 40), 'text-anchor="end" fill="#B00020"'));
  }
  return out;
}

export function noData(p: Plot): string {
  return text((p.left + p.right) / 2, (p.top + p.bottom) / 2, 'no data', 'text-anchor="middle" fill="#888888" font-size="14"');
}
