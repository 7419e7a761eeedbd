/**
 * The one-router curves of the `scale` suite: aggregate ib_write_bw against
 * the number of containers, and against the number of QPs of one pair, each
 * point with router CPU, router memory and a latency probe under load.
 * One World holds every container (creating and registering 64 namespaces
 * takes seconds); each point uses a subset.
 */
import { metrics } from '../../test/harness/metrics.js';
import { World } from '../../test/harness/world.js';
import type { Placement } from '../pair.js';
import { idleCpuPercent } from '../procstat.js';
import type { SuiteContext } from '../suite.js';
import { loadedRun, latencyProbe, type LoadPair, type LoadSpec, type Probe } from './scale-load.js';
import { pushPoint, type Curve, type PointPlan, type ScalePlan } from './scale-plan.js';

/** Probe containers: a separate pair, so the probe's traffic and start-up show apart from the load's. */
const PROBE = ['p0', 'p1'] as const;
const PROBE_PORT = 18599;
/** Load pair k uses port LOAD_PORT + k (concurrent pairs need distinct perftest ports). */
const LOAD_PORT = 18600;

export interface LocalCurves {
  idleCpuPercent: number;
  /** The probe with no load, per repetition. */
  idleLat: Curve;
  containers: Curve;
  qps: Curve;
}

function placement(w: World, server: string, client: string): Placement {
  return { server: w.c(server), client: w.c(client), serverSocket: w.socket, clientSocket: w.socket, logs: w.logs };
}

/** N containers: N = 1 is server and client in one container, otherwise N/2 pairs (c0→c1, c2→c3, ...). */
function containerPairs(w: World, n: number): LoadPair[] {
  if (n === 1) return [{ placement: placement(w, 'c0', 'c0'), port: LOAD_PORT, client: 'c0' }];
  return Array.from({ length: n / 2 }, (_, k) => ({
    placement: placement(w, `c${2 * k}`, `c${2 * k + 1}`), port: LOAD_PORT + k, client: `c${2 * k + 1}`,
  }));
}

/** The load of a point for a given -D and -f. */
type PointLoad = (p: PointPlan, seconds: number, margin: number) => Pick<LoadSpec, 'pairs' | 'size' | 'argv'>;
/** What every run of a World shares: its router and how long pairs may take to start. */
type Base = Pick<LoadSpec, 'routerPid' | 'metrics' | 'startTimeoutMs'>;

/**
 * Per point: `reps` measured runs (bandwidth, router CPU, RSS), then one
 * run of the same load for the latency probe if the point has one.
 */
async function runCurve(ctx: SuiteContext, plan: ScalePlan, base: Base, probe: Probe, points: PointPlan[], what: (p: PointPlan) => string, load: PointLoad): Promise<Curve> {
  const curve: Curve = new Map();
  for (const p of points) {
    for (let i = 0; i < p.reps; i++) {
      ctx.progress(`scale: ${what(p)} -D ${p.seconds} ${i + 1}/${p.reps}`);
      const r = await loadedRun({ ...base, ...load(p, p.seconds, p.margin), cpuWindowMs: plan.cpuWindowMs });
      pushPoint(curve, p.x, { gbps: r.gbps, cpu: r.cpuPercent!, rss: r.rssDeltaBytes });
    }
    if (!p.probeSeconds) continue;
    const iters = p.probeIters ?? probe.iters;
    ctx.progress(`scale: ${what(p)} -D ${p.probeSeconds}, 2 B latency probe (${iters} iterations)`);
    const r = await loadedRun({ ...base, ...load(p, p.probeSeconds, 1), probe: { ...probe, iters } });
    pushPoint(curve, p.x, { latMedian: r.latMedianUs!, latP99: r.latP99Us!, underLoad: r.probeUnderLoad ? 1 : 0 });
    const late = r.probeUnderLoad ? '' : ' (outlasted the load: -D too short)';
    ctx.progress(`scale: ${what(p)}: all running after ${(r.rampMs / 1000).toFixed(1)} s, probe took ${(r.probeMs! / 1000).toFixed(1)} s${late}`);
  }
  return curve;
}

/** Runs both one-router curves of `plan` on a World of max(containers) + 2 containers. */
export async function localCurves(ctx: SuiteContext, plan: ScalePlan): Promise<LocalCurves> {
  const maxN = Math.max(2, ...plan.containers.map((p) => p.x));
  ctx.progress(`scale: ${maxN + PROBE.length} containers on one router`);
  const names = [...Array.from({ length: maxN }, (_, i) => `c${i}`), ...PROBE];
  const w = await World.create(names.map((name) => ({ name })));
  try {
    const pid = w.router!.proc.child.pid!;
    const probe: Probe = { placement: placement(w, PROBE[0], PROBE[1]), port: PROBE_PORT, iters: plan.probeIters };
    const out: LocalCurves = { idleCpuPercent: 0, idleLat: new Map(), containers: new Map(), qps: new Map() };

    ctx.progress('scale: idle router');
    out.idleCpuPercent = await idleCpuPercent(pid, plan.idleCpuMs);
    for (let i = 0; i < plan.idleLatReps; i++) {
      ctx.progress(`scale: 2 B latency probe, no load ${i + 1}/${plan.idleLatReps}`);
      const r = await latencyProbe(probe);
      pushPoint(out.idleLat, 0, { latMedian: r.medianUs, latP99: r.p99Us });
    }

    const base = { routerPid: pid, metrics: () => metrics(w.router!.metricsPort), startTimeoutMs: 60_000 };
    out.containers = await runCurve(ctx, plan, base, probe, plan.containers,
      (p) => `${p.x} container${p.x > 1 ? 's' : ''}, ib_write_bw ${plan.containerSize} B`,
      (p, seconds, margin) => ({
        pairs: containerPairs(w, p.x), size: plan.containerSize,
        argv: ['-s', String(plan.containerSize), '-D', String(seconds), '-f', String(margin)],
      }));
    out.qps = await runCurve(ctx, plan, base, probe, plan.qps,
      (p) => `one pair, ${p.x} QP${p.x > 1 ? 's' : ''}, ib_write_bw ${plan.qpSize} B`,
      (p, seconds, margin) => ({
        pairs: [{ placement: placement(w, 'c0', 'c1'), port: LOAD_PORT, client: 'c1' }], size: plan.qpSize,
        argv: ['-s', String(plan.qpSize), '-t', String(plan.qpTxDepth), '-q', String(p.x), '-D', String(seconds), '-f', String(margin)],
      }));
    return out;
  } finally {
    await w.teardown();
  }
}
