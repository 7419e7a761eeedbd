/**
 * Reading perftest's rows and recording figures into a SuiteResult so that
 * every measurement and ratio gets its `meta` where it is made; bar-chart
 * points from summaries. Shared by the `intra` and `inter` suites.
 */
import type { LatencyResult } from '../baselines.js';
import { parseBw, parseLat } from '../perftest-parse.js';
import { ratio, summarize, type Summary } from '../stats.js';
import type { MetricMeta, SeriesLine, SeriesPoint, SuiteResult } from '../suite.js';

export const GBPS: MetricMeta = { unit: 'Gb/s', better: 'higher' };
export const US: MetricMeta = { unit: 'µs', better: 'lower' };
export const RETRANSMITS: MetricMeta = { unit: 'count', better: 'lower' };
/** Router CPU over a 3 s idle window: one 10 ms tick is 0.33 %, so smaller moves mean nothing. */
export const IDLE_CPU_3S: MetricMeta = { unit: '%', better: 'lower', noise: 0.34 };

/** Bandwidth of the `size` row a *_bw tool printed with --report_gbits (the column is then Gb/s). */
export function bwGbps(out: string, size: number): number {
  const row = parseBw(out).find((r) => r.bytes === size);
  if (!row) throw new Error(`perftest printed no ${size} B bandwidth row:\n${out}`);
  return row.bwAvgMBps;
}

/** The `size` row a *_lat tool printed: its typical (median) and p99 one-way latency. */
export function latency(out: string, size: number): LatencyResult {
  const row = parseLat(out).find((r) => r.bytes === size);
  if (!row) throw new Error(`perftest printed no ${size} B latency row:\n${out}`);
  return { medianUs: row.typicalUs, p99Us: row.p99Us };
}

/** Stores the summary of `values` under `name` with its meta; returns the summary. */
export function record(res: SuiteResult, name: string, values: number[], meta: MetricMeta): Summary {
  const s = summarize(values);
  res.measurements[name] = s;
  (res.meta ??= {})[name] = meta;
  return s;
}

/** A recorded measurement; throws if the suite never recorded it. */
export function get(res: SuiteResult, name: string): Summary {
  const s = res.measurements[name];
  if (!s) throw new Error(`${res.name}: no measurement ${name}`);
  return s;
}

/** Stores measured/baseline (ratio of medians) under `name`; it improves the way `measured` does. */
export function recordRatio(res: SuiteResult, name: string, measured: string, baseline: string): number {
  const v = ratio(get(res, measured), get(res, baseline));
  res.ratios[name] = v;
  (res.meta ??= {})[name] = { unit: 'x', better: res.meta?.[measured]?.better ?? 'none' };
  return v;
}

/** Runs a latency measurement `reps` times (progress before each) and records `<prefix>_median_us` and `<prefix>_p99_us`. */
export async function recordLatency(res: SuiteResult, prefix: string, reps: number, run: (i: number) => Promise<LatencyResult>): Promise<void> {
  const med: number[] = [], p99: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await run(i);
    med.push(r.medianUs); p99.push(r.p99Us);
  }
  record(res, `${prefix}_median_us`, med, US);
  record(res, `${prefix}_p99_us`, p99, US);
}

/** A chart point from a summary, `scale` converting its unit (1000 for µs drawn in ns). */
export function point(x: number | string, s: Summary, scale = 1): SeriesPoint {
  return { x, median: s.median * scale, min: s.min * scale, max: s.max * scale, n: s.n };
}

/**
 * Bars of latency percentiles: one category per tool, one bar per
 * percentile, from measurements `<prefix>_median_us` and `<prefix>_p99_us`.
 */
export function latencyBars(res: SuiteResult, tools: [label: string, prefix: string][], scale = 1): SeriesLine[] {
  return (['median', 'p99'] as const).map((pct) => ({
    name: pct,
    points: tools.map(([label, prefix]) => point(label, get(res, `${prefix}_${pct}_us`), scale)),
  }));
}
