/**
 * Turns the raw per-repetition samples of the `scale` curves into named
 * measurements with their meta, curve by curve, and returns the summaries
 * the charts and ratios use.
 */
import type { Summary } from '../stats.js';
import type { MetricMeta, SuiteResult } from '../suite.js';
import { get, GBPS, record, US } from './figures.js';
import type { LocalCurves } from './scale-local.js';
import type { Curve, ScalePlan } from './scale-plan.js';
import type { ScaleFigures } from './scale-series.js';

const COUNT: MetricMeta = { unit: 'count', better: 'none' };
const BYTES: MetricMeta = { unit: 'B', better: 'none' };
const BYTES_PER_QP: MetricMeta = { unit: 'B', better: 'lower' };
/** Below this many QPs the router's heap noise (a few MB) swamps the QPs' own memory. */
const MARGINAL_MIN_QPS = 256;

/** Records `values[key]` (through `map`) of every x of `curve` as `name(x)`; returns x -> summary. */
function recordCurve(res: SuiteResult, curve: Curve, key: string, name: (x: number) => string, meta: MetricMeta,
  map: (v: number, x: number) => number = (v) => v): Map<number, Summary> {
  const out = new Map<number, Summary>();
  for (const [x, v] of curve) {
    const values = v[key];
    if (values?.length) out.set(x, record(res, name(x), values.map((n) => map(n, x)), meta));
  }
  return out;
}

/** Bandwidth per router core, repetition by repetition: flat when the router loses no efficiency and only its CPU share changes. */
function recordPerCore(res: SuiteResult, curve: Curve, name: (x: number) => string): void {
  for (const [x, v] of curve) {
    const n = Math.min(v.gbps?.length ?? 0, v.cpu?.length ?? 0);
    const values = Array.from({ length: n }, (_, i) => (v.cpu![i]! > 0 ? v.gbps![i]! / (v.cpu![i]! / 100) : Number.NaN));
    if (n) record(res, name(x), values, GBPS);
  }
}

/** Memory per added QP, repetition by repetition: RSS growth at the most QPs minus at 1, over the QPs added (2 per pair QP). */
function recordMarginalMemory(res: SuiteResult, qps: Curve): Summary | undefined {
  const top = Math.max(...qps.keys());
  const [r1, rTop] = [qps.get(1)?.rss ?? [], qps.get(top)?.rss ?? []];
  const n = Math.min(r1.length, rTop.length);
  if (top < MARGINAL_MIN_QPS || !n) return undefined;
  return record(res, 'router_bytes_per_qp_marginal', Array.from({ length: n }, (_, i) => (rTop[i]! - r1[i]!) / (2 * (top - 1))), BYTES_PER_QP);
}

/** Records every measurement of the suite; returns the summaries for charts and ratios. */
export function recordScale(res: SuiteResult, plan: ScalePlan, local: LocalCurves, cross: Curve): ScaleFigures {
  // CPU comes from tick counters: one 10 ms tick over the window is the resolution.
  record(res, 'router_idle_cpu_percent', [local.idleCpuPercent], { unit: '%', better: 'lower', noise: 1000 / plan.idleCpuMs });
  // Under load the router's CPU is the share the scheduler left it, not an efficiency: no direction.
  const cpuLoad: MetricMeta = { unit: '%', better: 'none', noise: 1000 / plan.cpuWindowMs };
  const idle = recordCurve(res, local.idleLat, 'latMedian', () => 'lat_idle_2b_median_us', US);
  recordCurve(res, local.idleLat, 'latP99', () => 'lat_idle_2b_p99_us', US);

  const c = local.containers;
  const cBw = recordCurve(res, c, 'gbps', (x) => `agg_bw_gbps_c${x}`, GBPS);
  recordPerCore(res, c, (x) => `agg_bw_gbps_per_router_core_c${x}`);
  const cCpu = recordCurve(res, c, 'cpu', (x) => `router_cpu_percent_c${x}`, cpuLoad);
  recordCurve(res, c, 'rss', (x) => `router_rss_delta_bytes_c${x}`, BYTES);
  const cMed = recordCurve(res, c, 'latMedian', (x) => `lat_under_load_2b_median_us_c${x}`, US);
  const cP99 = recordCurve(res, c, 'latP99', (x) => `lat_under_load_2b_p99_us_c${x}`, US);

  const q = local.qps;
  const qBw = recordCurve(res, q, 'gbps', (x) => `agg_bw_gbps_q${x}`, GBPS);
  recordPerCore(res, q, (x) => `agg_bw_gbps_per_router_core_q${x}`);
  const qCpu = recordCurve(res, q, 'cpu', (x) => `router_cpu_percent_q${x}`, cpuLoad);
  recordCurve(res, q, 'rss', (x) => `router_rss_delta_bytes_q${x}`, BYTES);
  // 2x: the server's and the client's QPs both live on this router
  const perQp = recordCurve(res, q, 'rss', (x) => `router_bytes_per_qp_q${x}`, BYTES_PER_QP, (b, x) => b / (2 * x));
  const marginal = recordMarginalMemory(res, q);
  const qMed = recordCurve(res, q, 'latMedian', (x) => `lat_under_load_2b_median_us_q${x}`, US);
  const qP99 = recordCurve(res, q, 'latP99', (x) => `lat_under_load_2b_p99_us_q${x}`, US);

  // A probe that outlasted a load pair measured partly without load: counted, expected 0.
  const outside = [...c.values(), ...q.values()].flatMap((v) => v.underLoad ?? []).filter((u) => u === 0).length;
  record(res, 'lat_probe_outside_load_count', [outside], { unit: 'count', better: 'lower' });

  const xBw = recordCurve(res, cross, 'gbps', (x) => `xhost_bw_gbps_q${x}`, GBPS);
  const xConns = recordCurve(res, cross, 'conns', (x) => `xhost_peer_connections_q${x}`, COUNT);
  const xTcp = recordCurve(res, cross, 'tcp', (x) => `xhost_tcp_connections_q${x}`, COUNT);
  recordCurve(res, cross, 'cpu', (x) => `xhost_router_cpu_percent_q${x}`, cpuLoad);

  return {
    cBw, cCpu, cMed, cP99, qBw, qCpu, perQp, qMed, qP99, xBw, xConns, xTcp,
    ...(idle.size ? { idleMedianUs: get(res, 'lat_idle_2b_median_us').median } : {}),
    ...(marginal ? { marginalBytesPerQp: marginal.median } : {}),
  };
}
