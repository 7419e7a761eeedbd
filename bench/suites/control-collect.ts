/**
 * Gathers one value per repetition under a measurement name, with the
 * name's unit and direction, and turns them into a suite's measurements.
 */
import { summarize, type Summary } from '../stats.js';
import type { MetricMeta, SeriesPoint } from '../suite.js';

export class Collector {
  private readonly values = new Map<string, number[]>();
  private readonly metas = new Map<string, MetricMeta>();

  /** Adds this repetition's value of `name`. */
  add(name: string, value: number, meta: MetricMeta): void {
    const v = this.values.get(name);
    if (v) v.push(value); else this.values.set(name, [value]);
    this.metas.set(name, meta);
  }

  /** Median, min and max over the repetitions of every name. */
  measurements(): Record<string, Summary> {
    return Object.fromEntries([...this.values].map(([k, v]) => [k, summarize(v)]));
  }

  meta(): Record<string, MetricMeta> {
    return Object.fromEntries(this.metas);
  }
}

/** A chart point from a measurement; undefined when the measurement is absent. */
export function pointOf(x: number | string, s: Summary | undefined): SeriesPoint | undefined {
  return s && { x, median: s.median, min: s.min, max: s.max, n: s.n };
}

/** The points of `name(x)` for every x that has a measurement. */
export function pointsOf(xs: readonly (number | string)[], m: Record<string, Summary>, name: (x: number | string) => string): SeriesPoint[] {
  return xs.map((x) => pointOf(x, m[name(x)])).filter((p): p is SeriesPoint => p !== undefined);
}
