/**
 * What the `scale` suite runs, full and quick, and the raw per-point
 * samples its curves collect. The durations are sized to the measured
 * budget (full <= 7 min, quick <= 30 s on 2 cores): see the comments.
 */

/** One x of a curve: repetitions and the load's perftest duration (-D) and margin (-f). */
export interface PointPlan {
  x: number;
  reps: number;
  /** -D of the measured runs; perftest samples only between the two margins. */
  seconds: number;
  /** -f: seconds perftest leaves out at each end, so every pair samples while all run (>= their start skew). */
  margin: number;
  /**
   * -D of one more run of the same load for the 2 B latency probe (none
   * without it). Its bandwidth is not kept: the probe's two busy-polling
   * processes take CPU from the load. It must outlast the probe, which
   * starts once every pair runs.
   */
  probeSeconds?: number;
  /** ib_send_lat iterations of this point's probe, when not the plan's `probeIters`. */
  probeIters?: number;
}

export interface ScalePlan {
  containers: PointPlan[];
  /** ib_write_bw message size of the containers curve. */
  containerSize: number;
  qps: PointPlan[];
  /** Message size and tx depth of the QP curves: perftest asks for a CQ of tx depth x QPs entries, and 1024 x 32 fits the device's max_cqe (65535) where the default 128 does not. */
  qpSize: number;
  qpTxDepth: number;
  cross: PointPlan[];
  /** --peer-pool of the cross-host routers: 2 shows that the count is the pool, not a default of 1. */
  pool: number;
  probeIters: number;
  cpuWindowMs: number;
  idleCpuMs: number;
  idleLatReps: number;
}

const pt = (x: number, reps: number, seconds: number, margin: number, probeSeconds?: number, probeIters?: number): PointPlan =>
  ({ x, reps, seconds, margin, ...(probeSeconds ? { probeSeconds } : {}), ...(probeIters ? { probeIters } : {}) });

/**
 * Full run, about 6.7 min. Measured runs sample 1 s (2 s from 16
 * containers on, where the pairs start up to ~1 s apart: margin 2). One
 * probe run per point: its load must outlast the probe, which starts once
 * every pair runs (1.2-2.8 s) and then takes 1-5 s up to 16 containers,
 * ~10 s under 32 containers and ~5-7 s under 1024 QPs with 500 ping-pongs.
 * Under 64 containers a round trip takes 60-120 ms (32 busy-polling clients
 * leave each process and the data plane a small share of the 2 cores):
 * 200 ping-pongs took 18-30 s, so that point probes 100 (its p99 is then
 * the 2nd largest sample). The largest points get 2 repetitions to fit the
 * 7 min budget.
 */
export const FULL: ScalePlan = {
  containers: [pt(1, 3, 3, 1, 6), pt(2, 3, 3, 1, 6), pt(4, 3, 3, 1, 6), pt(8, 3, 3, 1, 6), pt(16, 3, 6, 2, 10), pt(32, 2, 6, 2, 15), pt(64, 2, 6, 2, 26, 100)],
  containerSize: 65536,
  qps: [pt(1, 3, 3, 1, 6), pt(4, 3, 3, 1, 6), pt(16, 3, 3, 1, 6), pt(64, 3, 3, 1, 6), pt(256, 3, 3, 1, 6), pt(1024, 2, 3, 1, 10)],
  qpSize: 4096,
  qpTxDepth: 32,
  cross: [pt(1, 3, 3, 1), pt(16, 3, 3, 1), pt(256, 3, 3, 1), pt(1024, 2, 3, 1)],
  pool: 2,
  probeIters: 500,
  cpuWindowMs: 1000,
  idleCpuMs: 2000,
  idleLatReps: 3,
};

/**
 * Smoke run, about 27 s: one repetition of 1 s loads without margins (2 s
 * across hosts, so connections are counted mid-run); the latency probe only
 * at 4 containers, as every probe run costs ~4 s.
 */
export const QUICK: ScalePlan = {
  containers: [pt(1, 1, 1, 0), pt(2, 1, 1, 0), pt(4, 1, 1, 0, 3)],
  containerSize: 65536,
  qps: [pt(1, 1, 1, 0), pt(16, 1, 1, 0)],
  qpSize: 4096,
  qpTxDepth: 32,
  cross: [pt(1, 1, 2, 0), pt(16, 1, 2, 0)],
  pool: 2,
  probeIters: 200,
  cpuWindowMs: 300,
  idleCpuMs: 500,
  idleLatReps: 1,
};

/** Raw samples per x: name -> one value per repetition. */
export type Curve = Map<number, Record<string, number[]>>;

/** Appends one repetition's values at x. */
export function pushPoint(curve: Curve, x: number, values: Record<string, number>): void {
  const at = curve.get(x) ?? {};
  for (const [k, v] of Object.entries(values)) (at[k] ??= []).push(v);
  curve.set(x, at);
}
