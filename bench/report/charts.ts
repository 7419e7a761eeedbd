/**
 * Which charts a suite gets: its own series, or, for suites that declare
 * none (intra, inter), bar charts of its ratios and of its measurements
 * grouped by unit, so every report has pictures.
 */
import type { Series, SuiteResult } from '../suite.js';
import { measurementMeta } from './metrics.js';
import { renderChart } from './svg.js';

export interface Chart { fileName: string; title: string; svg: string }

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'chart';
}

/** What a y axis in this unit shows, for the automatic charts. */
const UNIT_LABEL: Record<string, string> = {
  'Gb/s': 'bandwidth', 'Mb/s': 'bandwidth', 'MiB/s': 'bandwidth', 'µs': 'time', ns: 'time', ms: 'time',
  '%': 'share', count: 'count', '1/s': 'rate', 'ops/s': 'rate', B: 'size',
};

export function ratioSeries(suite: SuiteResult): Series | undefined {
  const names = Object.keys(suite.ratios);
  if (!names.length) return undefined;
  return {
    id: 'ratios',
    title: `${suite.name}: measured / baseline (medians, pair by pair)`,
    kind: 'bar',
    x: { label: 'ratio' },
    // log: a 0.05x latency and a 7x bandwidth ratio both stay visible, growing either way from parity
    y: { label: 'measured / baseline', unit: 'x', scale: 'log10' },
    lines: [{ name: 'ratio of medians', points: names.map((n) => ({ x: n, median: suite.ratios[n]! })) }],
    marks: [{ y: 1, label: 'parity (1x)' }],
  };
}

export function measurementSeries(suite: SuiteResult): Series[] {
  const byUnit = new Map<string, string[]>();
  for (const n of Object.keys(suite.measurements)) {
    const u = measurementMeta(suite, n).unit;
    byUnit.set(u, [...(byUnit.get(u) ?? []), n]);
  }
  return [...byUnit].map(([unit, names]) => ({
    id: `measurements-${unit ? slug(unit.replace('µ', 'u').replace('%', 'percent').replace('/', 'p')) : 'other'}`,
    title: `${suite.name}: measurements${unit ? ` in ${unit}` : ''}`,
    kind: 'bar' as const,
    x: { label: 'measurement' },
    y: { label: UNIT_LABEL[unit] ?? 'value', ...(unit ? { unit } : {}) },
    lines: [{ name: 'median (min–max)', points: names.map((n) => ({ x: n, ...suite.measurements[n]! })) }],
  }));
}

/** The suite's charts with file names unique within one report. */
export function suiteCharts(suite: SuiteResult, taken = new Set<string>()): Chart[] {
  const series = suite.series?.length
    ? suite.series
    : [ratioSeries(suite), ...measurementSeries(suite)].filter((s): s is Series => s !== undefined);
  return series.map((s) => {
    let fileName = `${slug(suite.name)}-${slug(s.id)}.svg`;
    for (let k = 2; taken.has(fileName); k++) fileName = `${slug(suite.name)}-${slug(s.id)}-${k}.svg`;
    taken.add(fileName);
    return { fileName, title: s.title, svg: renderChart(s) };
  });
}
