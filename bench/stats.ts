/** Order statistics over repeated measurements; benchmarks report medians with min/max. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** A ratio of medians; >1 means the measured value is larger than its baseline. */
export function ratio(measured: Summary, baseline: Summary): number {
  return baseline.median === 0 ? Number.NaN : measured.median / baseline.median;
}
