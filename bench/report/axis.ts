/**
 * Value-to-pixel scales and their ticks for the SVG charts. Kept apart from
 * the drawing so the tick rules (nice linear steps, powers of 2 or 10) can be
 * reasoned about without SVG in the way.
 */
import type { Axis } from '../suite.js';
import { bytes, num } from './format.js';

export interface Scale {
  /** Pixel position of a value; callers only pass values for which `ok` holds. */
  at(v: number): number;
  /** False for values the scale cannot place (≤ 0 on a log axis, non-finite). */
  ok(v: number): boolean;
  ticks: { v: number; label: string }[];
  lo: number;
  hi: number;
}

/** Whether a value has a place on the axis: finite, and positive on a log axis. */
export function plottable(axis: Axis, v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && (axis.scale !== 'log2' && axis.scale !== 'log10' || v > 0);
}

export function tickLabel(axis: Axis, v: number): string {
  return axis.format === 'bytes' ? bytes(v) : num(v);
}

/** 1, 2 or 5 times a power of ten, so ticks land on round values. */
function niceStep(span: number, target: number): number {
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** Range of values to show: the data, widened to round ends; a flat range gets some height. */
function linearTicks(lo: number, hi: number, target: number): { lo: number; hi: number; ticks: number[] } {
  if (lo === hi) { const d = lo === 0 ? 1 : Math.abs(lo) * 0.1; lo -= d; hi += d; }
  const step = niceStep(hi - lo, target);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = a; v <= b + step / 2; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return { lo: a, hi: b, ticks };
}

/** Whole powers of `base` around the data; every k-th one labelled when there are too many to read. */
function logTicks(lo: number, hi: number, base: number, target: number): { lo: number; hi: number; ticks: number[] } {
  const log = (v: number) => Math.log(v) / Math.log(base);
  let a = Math.floor(log(lo) + 1e-9);
  let b = Math.ceil(log(hi) - 1e-9);
  if (a === b) { a -= 1; b += 1; }
  const k = Math.max(1, Math.ceil((b - a + 1) / target));
  const ticks: number[] = [];
  // counted from the top, so the largest size or count in a sweep always gets its label
  for (let e = a; e <= b; e++) if ((b - e) % k === 0) ticks.push(base ** e);
  // within a single decade or two the powers of ten alone are too sparse to read values off
  if (base === 10 && b - a <= 2) for (let e = a; e < b; e++) ticks.push(2 * 10 ** e, 5 * 10 ** e);
  return { lo: base ** a, hi: base ** b, ticks: ticks.sort((x, y) => x - y) };
}

/**
 * A scale over `values` for pixels from p0 to p1 (p1 < p0 for a y axis,
 * which grows upwards). `include` forces values into the range: 0 for the
 * foot of linear bars, reference lines.
 */
export function makeScale(axis: Axis, values: number[], p0: number, p1: number, include: number[] = [], target = 6): Scale {
  const log = axis.scale === 'log2' ? 2 : axis.scale === 'log10' ? 10 : 0;
  const ok = (v: number) => plottable(axis, v);
  const vs = [...values, ...include].filter(ok);
  const lo0 = vs.length ? Math.min(...vs) : log ? 1 : 0;
  const hi0 = vs.length ? Math.max(...vs) : log ? 10 : 1;
  const t = log ? logTicks(lo0, hi0, log, target + 4) : linearTicks(lo0, hi0, target);
  const f = log ? (v: number) => Math.log(v) : (v: number) => v;
  const [flo, fhi] = [f(t.lo), f(t.hi)];
  const at = (v: number) => p0 + ((f(v) - flo) / (fhi - flo)) * (p1 - p0);
  return { at, ok, lo: t.lo, hi: t.hi, ticks: t.ticks.map((v) => ({ v, label: tickLabel(axis, v) })) };
}

/** Categories evenly spread: each gets a band, its centre at `at(i)`. */
export function bandScale(n: number, p0: number, p1: number): { at(i: number): number; band: number } {
  const band = (p1 - p0) / Math.max(1, n);
  return { at: (i) => p0 + band * (i + 0.5), band };
}

/** "message size (B)", or just the label when the unit is implied by byte ticks or absent. */
export function axisTitle(axis: Axis): string {
  return axis.unit && axis.format !== 'bytes' ? `${axis.label} (${axis.unit})` : axis.label;
}
