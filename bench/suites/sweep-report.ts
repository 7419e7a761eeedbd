/**
 * Turns the `sweep` suite's repetitions into its SuiteResult: summaries with
 * their meta, ratios of medians against the baselines of the same run, and
 * the charts (per place: bandwidth and message rate against size, latency
 * against size, latency percentile bars, aggregate bandwidth and message
 * rate against QPs).
 */
import type { Series, SeriesLine, SuiteResult } from '../suite.js';
import { point, record, recordRatio } from './figures.js';
import { name, type Samples, type TailStat } from './sweep-names.js';
import {
  ALL_BW, ALL_LAT, ALL_SIZES, ATOMIC_LAT, ATOMIC_SIZE, BW_TOOLS, PLACES, RATIO_BW_SIZES, TAIL_SIZE, type PlaceName, type Plan,
} from './sweep-plan.js';

/** A line of the [x, measurement name] points that were measured (quick runs measure fewer). */
function line(res: SuiteResult, label: string, at: [x: number | string, measurement: string][], scale = 1): SeriesLine | undefined {
  const points = at.flatMap(([x, n]) => {
    const s = res.measurements[n];
    return s ? [point(x, s, scale)] : [];
  });
  return points.length ? { name: label, points } : undefined;
}

function lines(...ls: (SeriesLine | undefined)[]): SeriesLine[] {
  return ls.filter((l): l is SeriesLine => l !== undefined);
}

/** Stores the ratio if both figures were measured. */
function ratioIf(res: SuiteResult, n: string, measured: string, baseline: string): void {
  if (measured in res.measurements && baseline in res.measurements) recordRatio(res, n, measured, baseline);
}

const tailSize = (tool: string) => (tool.startsWith('ib_atomic') ? ATOMIC_SIZE : TAIL_SIZE);
const SIZE_AXIS = { label: 'message size', scale: 'log2', format: 'bytes' } as const;
const QP_AXIS = { label: 'QPs', scale: 'log2' } as const;

function ratios(res: SuiteResult, p: PlaceName): void {
  for (const tool of BW_TOOLS) {
    for (const size of RATIO_BW_SIZES) {
      if (p === 'intra') ratioIf(res, `intra_${tool}_${size}_vs_memcpy`, name.bw(p, tool, size), name.memcpy(size));
      else ratioIf(res, `inter_${tool}_${size}_vs_iperf3`, name.bw(p, tool, size), name.iperf(size));
    }
  }
  for (const tool of ALL_LAT) {
    const size = tailSize(tool);
    ratioIf(res, `${p}_${tool}_${size}_median_vs_tcp`, name.tail(p, tool, size, 'median'), name.tcp(p, size, 'median'));
    ratioIf(res, `${p}_${tool}_${size}_p99_vs_tcp`, name.tail(p, tool, size, 'p99'), name.tcp(p, size, 'p99'));
  }
  for (const tool of ALL_BW) ratioIf(res, `${p}_${tool}_64qp_vs_1qp`, name.qpBw(p, tool, 64), name.qpBw(p, tool, 1));
}

function charts(res: SuiteResult, p: PlaceName, plan: Plan): Series[] {
  const sizes = (tool: string) => (tool.startsWith('ib_atomic') ? [ATOMIC_SIZE] : ALL_SIZES);
  const at = (xs: readonly number[], n: (x: number) => string) => xs.map((x): [number, string] => [x, n(x)]);
  const base = p === 'intra'
    ? line(res, 'memcpy (one thread)', at(ALL_SIZES, (x) => name.memcpy(x)))
    : line(res, 'iperf3 TCP, write size = message size', at(ALL_SIZES, (x) => name.iperf(x)));
  const tcp = line(res, 'TCP ping-pong (median)', at(ALL_SIZES, (x) => name.tcp(p, x, 'median')));
  const stats: [TailStat, string][] = [['median', 'median'], ['p99', 'p99'], ['p999', 'p99.9']];
  const tcpMarks = (['median', 'p99'] as const).flatMap((st) => {
    const s = res.measurements[name.tcp(p, TAIL_SIZE, st)];
    return s ? [{ y: s.median * 1000, label: `TCP ping-pong ${TAIL_SIZE} B ${st}` }] : [];
  });
  return [
    {
      id: `${p}-bw-vs-size`, title: `${p}: bandwidth against message size (perftest BW average; atomics ${ATOMIC_SIZE} B)`, kind: 'line',
      x: SIZE_AXIS, y: { label: 'bandwidth', unit: 'Gb/s', scale: 'log10' }, better: 'higher',
      lines: lines(...ALL_BW.map((t) => line(res, t, at(sizes(t), (x) => name.bw(p, t, x)))), base),
    },
    {
      id: `${p}-rate-vs-size`, title: `${p}: message rate against message size (perftest MsgRate)`, kind: 'line',
      x: SIZE_AXIS, y: { label: 'message rate', unit: 'Mmsg/s', scale: 'log10' }, better: 'higher',
      lines: lines(...ALL_BW.map((t) => line(res, t, at(sizes(t), (x) => name.rate(p, t, x))))),
    },
    {
      id: `${p}-lat-vs-size`, title: `${p}: one-way latency against message size (perftest t_typical)`, kind: 'line',
      x: SIZE_AXIS, y: { label: 'one-way latency', unit: 'µs', scale: 'log10' }, better: 'lower',
      lines: lines(...ALL_LAT.map((t) => line(res, t, at(sizes(t), (x) => name.lat(p, t, x, 'typical')))), tcp),
    },
    {
      // ns, not µs: on a log axis bars grow from 1, and a sub-µs median must not point down
      id: `${p}-lat-percentiles`, title: `${p}: one-way latency percentiles, ${plan.tailIters} iterations`, kind: 'bar',
      x: { label: 'tool and size' }, y: { label: 'one-way latency', unit: 'ns', scale: 'log10' }, better: 'lower',
      lines: lines(...stats.map(([st, label]) =>
        line(res, label, ALL_LAT.map((t): [string, string] => [`${t} ${tailSize(t)} B`, name.tail(p, t, tailSize(t), st)]), 1000))),
      marks: tcpMarks,
    },
    {
      id: `${p}-bw-vs-qps`, title: `${p}: aggregate bandwidth against QPs (64 KiB; atomics ${ATOMIC_SIZE} B)`, kind: 'line',
      x: QP_AXIS, y: { label: 'aggregate bandwidth', unit: 'Gb/s', scale: 'log10' }, better: 'higher',
      lines: lines(...ALL_BW.map((t) => line(res, t, at(plan.qps, (q) => name.qpBw(p, t, q))))),
    },
    {
      id: `${p}-rate-vs-qps`, title: `${p}: aggregate message rate against QPs (64 KiB; atomics ${ATOMIC_SIZE} B)`, kind: 'line',
      x: QP_AXIS, y: { label: 'aggregate message rate', unit: 'Mmsg/s', scale: 'log10' }, better: 'higher',
      lines: lines(...ALL_BW.map((t) => line(res, t, at(plan.qps, (q) => name.qpRate(p, t, q))))),
    },
  ];
}

/** The suite result: every figure summarized (median/min/max/n) with its meta, ratios, charts; no goals. */
export function sweepResult(s: Samples, plan: Plan): SuiteResult {
  const res: SuiteResult = { name: 'sweep', measurements: {}, ratios: {}, goals: [], series: [], meta: {} };
  for (const [n, { values, meta }] of s.entries()) record(res, n, values, meta);
  for (const p of PLACES) ratios(res, p);
  res.series = PLACES.flatMap((p) => charts(res, p, plan)).filter((c) => c.lines.length > 0);
  return res;
}
