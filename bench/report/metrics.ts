/**
 * Unit and direction of a measurement, a ratio or a chart's y axis: what the
 * suite declared, else a guess from the name's `_`-separated words. The
 * guess exists because the first suites (intra, inter) declare nothing; new
 * suites should declare `meta` so a rename cannot flip a verdict.
 */
import type { Better, MetricMeta, Series, SuiteResult } from '../suite.js';

export interface ResolvedMeta {
  unit: string;
  better: Better;
  noise: number;
  /** 'declared' when the suite said so, 'guessed' when read off the name. */
  source: 'declared' | 'guessed';
}

/** Unit words, tried first because the unit settles the direction best. */
const UNITS: Record<string, { unit: string; better: Better }> = {
  gbps: { unit: 'Gb/s', better: 'higher' },
  mbps: { unit: 'Mb/s', better: 'higher' },
  mibps: { unit: 'MiB/s', better: 'higher' },
  mpps: { unit: 'Mpkt/s', better: 'higher' },
  ops: { unit: 'ops/s', better: 'higher' },
  ns: { unit: 'ns', better: 'lower' },
  us: { unit: 'µs', better: 'lower' },
  ms: { unit: 'ms', better: 'lower' },
  percent: { unit: '%', better: 'lower' },
  pct: { unit: '%', better: 'lower' },
  retransmits: { unit: 'count', better: 'lower' },
  errors: { unit: 'count', better: 'lower' },
  bytes: { unit: 'B', better: 'none' },
};

/** Words that say what is measured when no unit word decides. */
const WORDS: Record<string, Better> = {
  lat: 'lower', latency: 'lower', time: 'lower', cpu: 'lower', rtt: 'lower',
  bw: 'higher', bandwidth: 'higher', throughput: 'higher', rate: 'higher', goodput: 'higher',
};

function words(name: string): string[] {
  return name.toLowerCase().split(/[^a-z0-9µ.]+/).filter(Boolean);
}

/** Guess for a measurement name such as `ib_write_lat_2b_p99_us` or `tcp_inter_gbps`. */
export function guessMeasurement(name: string): { unit: string; better: Better } {
  const w = words(name);
  const cpu = w.includes('cpu');
  for (const x of [...w].reverse()) {
    const u = UNITS[x];
    // a percentage is lower-better only for resource use; a loss or an efficiency % is not known
    if (u) return u.unit === '%' && !cpu ? { unit: '%', better: 'none' } : u;
  }
  if (w.includes('per') && w.includes('s')) return { unit: '1/s', better: 'higher' };
  return { unit: '', better: guessDirection(w) };
}

/** Guess for a ratio name such as `ib_write_bw_1048576_vs_memcpy`: the measured side says which way. */
export function guessRatio(name: string): { unit: string; better: Better } {
  const measured = name.toLowerCase().split('_vs_')[0] ?? name;
  const m = guessMeasurement(measured);
  return { unit: 'x', better: m.better !== 'none' ? m.better : guessDirection(words(measured)) };
}

function guessDirection(w: string[]): Better {
  for (const x of w) { const b = WORDS[x]; if (b) return b; }
  return 'none';
}

function resolve(declared: MetricMeta | undefined, guess: { unit: string; better: Better }): ResolvedMeta {
  return {
    unit: declared?.unit ?? guess.unit,
    better: declared?.better ?? guess.better,
    noise: declared?.noise ?? 0,
    source: declared?.better ? 'declared' : 'guessed',
  };
}

export function measurementMeta(suite: SuiteResult, name: string): ResolvedMeta {
  return resolve(suite.meta?.[name], guessMeasurement(name));
}

export function ratioMeta(suite: SuiteResult, name: string): ResolvedMeta {
  return resolve(suite.meta?.[name], guessRatio(name));
}

/** Direction of a chart's y values: declared on the series, else guessed from its unit, label and title. */
export function seriesMeta(s: Series): ResolvedMeta {
  const unitWord: Record<string, Better> = { 'gb/s': 'higher', 'mb/s': 'higher', 'µs': 'lower', us: 'lower', ns: 'lower', ms: 'lower', s: 'lower' };
  const fromUnit = unitWord[(s.y.unit ?? '').toLowerCase()];
  const cpu = /cpu/i.test(`${s.y.label} ${s.title}`) && s.y.unit === '%' ? 'lower' : undefined;
  const better = s.better ?? fromUnit ?? cpu ?? guessDirection(words(`${s.y.label} ${s.title}`));
  return { unit: s.y.unit ?? '', better, noise: 0, source: s.better ? 'declared' : 'guessed' };
}
