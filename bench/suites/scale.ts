/**
 * `scale`: one router under 1 to 64 containers and 1 to 1024 virtual QPs,
 * and the physical connections between two routers as the QPs multiply.
 *
 * - containers: N containers on one router (1 = server and client in one
 *   container, otherwise N/2 pairs), every pair running ib_write_bw 64 KiB
 *   at once for a fixed duration; aggregate = the sum of what each perftest
 *   printed. Router CPU over a 1 s window while all run; peak router RSS
 *   minus its RSS just before the run.
 * - qps: one pair, ib_write_bw 4 KiB -q N -t 32 (perftest sizes its CQ as
 *   tx depth x QPs: 1024 x 128 exceeds the device's max_cqe of 65535);
 *   memory per QP divides the RSS growth by the 2N QPs the router serves
 *   (both ends are on it).
 * - latency under load: a 2 B ib_send_lat between two more containers, in
 *   one more run of each load, started once every load pair runs. It is
 *   what another tenant sees while the load runs; on 2 cores the
 *   busy-polling load clients, the probe's two sides and the router's data
 *   plane compete for the CPU, so it mostly measures the scheduler (one-way
 *   times cluster at multiples of 2 ms: round trips waiting a time slice).
 * - cross-host: one pair a1 (h1) -> b1 (h2) with 1..1024 QPs over routers
 *   with --peer-pool 2; connections per peer from h1's ffr_peer_connections
 *   and from `ss` in h1's namespace while the run is active.
 *
 * Bandwidth per router core (aggregate / router CPU share) tells a router
 * that loses efficiency from one that only loses CPU to the busy-polling
 * clients. Files: scale-plan (what runs), scale-load (one loaded run),
 * scale-local / scale-cross (the curves), scale-record (names and meta),
 * scale-series (charts).
 */
import type { SuiteContext, SuiteResult } from '../suite.js';
import { get, recordRatio } from './figures.js';
import { crossCurve } from './scale-cross.js';
import { localCurves } from './scale-local.js';
import { FULL, QUICK } from './scale-plan.js';
import { recordScale } from './scale-record.js';
import { scaleSeries } from './scale-series.js';

/** Runs the `scale` suite: the curves on one router, then across two hosts. */
export async function scale(ctx: SuiteContext): Promise<SuiteResult> {
  const plan = ctx.quick ? QUICK : FULL;
  const res: SuiteResult = { name: 'scale', measurements: {}, ratios: {}, goals: [], meta: {} };
  const local = await localCurves(ctx, plan);
  const cross = await crossCurve(ctx, plan);
  const fig = recordScale(res, plan, local, cross);

  // Scaling efficiency, pair by pair from medians: against one pair (2 containers) and against 1 QP.
  for (const x of fig.cBw.keys()) if (x !== 2 && fig.cBw.has(2)) recordRatio(res, `agg_bw_c${x}_vs_c2`, `agg_bw_gbps_c${x}`, 'agg_bw_gbps_c2');
  for (const x of fig.qBw.keys()) if (x !== 1) recordRatio(res, `agg_bw_q${x}_vs_q1`, `agg_bw_gbps_q${x}`, 'agg_bw_gbps_q1');
  for (const x of fig.xBw.keys()) if (x !== 1) recordRatio(res, `xhost_bw_q${x}_vs_q1`, `xhost_bw_gbps_q${x}`, 'xhost_bw_gbps_q1');
  for (const x of fig.xConns.keys()) if (x !== 1) recordRatio(res, `xhost_peer_connections_q${x}_vs_q1`, `xhost_peer_connections_q${x}`, 'xhost_peer_connections_q1');
  if (fig.idleMedianUs !== undefined) {
    for (const x of fig.cMed.keys()) recordRatio(res, `lat_under_load_2b_median_c${x}_vs_idle`, `lat_under_load_2b_median_us_c${x}`, 'lat_idle_2b_median_us');
    for (const x of fig.qMed.keys()) recordRatio(res, `lat_under_load_2b_median_q${x}_vs_idle`, `lat_under_load_2b_median_us_q${x}`, 'lat_idle_2b_median_us');
  }

  const xMax = Math.max(...fig.xConns.keys());
  const conns = get(res, `xhost_peer_connections_q${xMax}`);
  res.goals.push({
    what: `peer connections at ${xMax} virtual QPs = pool size (${plan.pool})`,
    value: conns.median, met: conns.min === plan.pool && conns.max === plan.pool,
  });
  res.series = scaleSeries(fig, plan);
  return res;
}
