/**
 * Parses perftest's own result tables; the benchmark never re-times what
 * perftest measured.
 */
export interface BwRow { bytes: number; iterations: number; bwPeakMBps: number; bwAvgMBps: number; msgRateMpps: number }
export interface LatRow { bytes: number; iterations: number; minUs: number; maxUs: number; typicalUs: number; avgUs: number; stdevUs: number; p99Us: number; p999Us: number }

// perftest prints "-nan" (printf of a NaN) for t_stdev when its samples
// overflow the variance sum on a loaded machine: a row, with that cell NaN.
const NUM = /^(-?\d+(\.\d+)?|-?nan)$/;

function rows(out: string): number[][] {
  const result: number[][] = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 5 && cols.every((c) => NUM.test(c))) result.push(cols.map((c) => (/nan$/.test(c) ? Number.NaN : Number(c))));
  }
  return result;
}

/** `#bytes #iterations BW peak[MB/sec] BW average[MB/sec] MsgRate[Mpps]` */
export function parseBw(out: string): BwRow[] {
  return rows(out).filter((c) => c.length === 5).map(([bytes, iterations, peak, avg, rate]) => ({
    bytes: bytes!, iterations: iterations!, bwPeakMBps: peak!, bwAvgMBps: avg!, msgRateMpps: rate!,
  }));
}

/** `#bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%` (usec) */
export function parseLat(out: string): LatRow[] {
  return rows(out).filter((c) => c.length === 9).map(([bytes, iterations, min, max, typ, avg, stdev, p99, p999]) => ({
    bytes: bytes!, iterations: iterations!, minUs: min!, maxUs: max!, typicalUs: typ!, avgUs: avg!,
    stdevUs: stdev!, p99Us: p99!, p999Us: p999!,
  }));
}
