/**
 * `control`: the control path a verbs application pays before it moves a
 * byte (a new session with the router, QP create and connect, memory
 * registration), measured by a plain verbs program (bench/c/verbs_control)
 * under the shim, against what a container would otherwise pay the kernel in
 * the same run: TCP connect + accept over loopback, and faulting in a fresh
 * region of the size it registers. Cross-host QP connect runs on a two-host
 * cluster. Each repetition is a new process per figure; a figure's value per
 * repetition is the median (or p99) of its per-operation samples.
 */
import { Cluster } from '../../test/harness/cluster.js';
import { World } from '../../test/harness/world.js';
import { buildBaselines } from '../baselines.js';
import { summarize } from '../stats.js';
import type { MetricMeta, SuiteContext, SuiteResult } from '../suite.js';
import { Collector } from './control-collect.js';
import {
  percentile, runControl, runQpRemote,
  type ControlTarget, type MrSamples, type QpSamples, type SessionSamples, type TcpConnectSamples,
} from './control-program.js';
import { controlRatios, controlSeries, type ControlPlan } from './control-report.js';

const KiB = 1024, MiB = 1024 * KiB;

/** 4 KiB × step^k up to `max`. */
function sizesUpTo(max: number, step: number): number[] {
  const out: number[] = [];
  for (let s = 4 * KiB; s <= max; s *= step) out.push(s);
  return out;
}

// Full: up to 1 GiB (the buffer, its memfd copy and the touch baseline stay
// under 3 GiB); iterations fall with size so each size costs about the same.
const FULL: ControlPlan = {
  reps: 3, sessionIters: 200, tcpIters: 2000,
  qpCounts: [2, 16, 128, 1024], remoteCounts: [2, 16, 128, 1024],
  mrSizes: sizesUpTo(1024 * MiB, 4), mrBytesPerRun: 512 * MiB, mrMaxIters: 100,
};
const QUICK: ControlPlan = {
  reps: 1, sessionIters: 50, tcpIters: 500,
  qpCounts: [2, 128], remoteCounts: [2, 128],
  mrSizes: sizesUpTo(16 * MiB, 16), mrBytesPerRun: 32 * MiB, mrMaxIters: 20,
};
/** Per-QP p99 only where there are enough QPs for it to mean something. */
const P99_MIN_QPS = 100;

const US: MetricMeta = { unit: 'µs', better: 'lower' };
const RATE: MetricMeta = { unit: 'QPs/s', better: 'higher' };

function median(v: readonly number[]): number { return summarize(v).median; }

function mrIters(p: ControlPlan, size: number): number {
  return Math.min(p.mrMaxIters, Math.max(2, Math.round(p.mrBytesPerRun / size)));
}

/** Per-QP create/connect/destroy figures of one run, under `prefix` ('qp' or 'qp_remote'). */
function addQp(c: Collector, prefix: string, r: QpSamples): void {
  const n = r.count;
  c.add(`${prefix}_create_median_us_${n}`, median(r.create_us), US);
  c.add(`${prefix}_connect_median_us_${n}`, median(r.connect_us), US);
  c.add(`${prefix}_destroy_median_us_${n}`, median(r.destroy_us), US);
  if (n >= P99_MIN_QPS) {
    c.add(`${prefix}_create_p99_us_${n}`, percentile(r.create_us, 99), US);
    c.add(`${prefix}_connect_p99_us_${n}`, percentile(r.connect_us, 99), US);
  }
  c.add(`${prefix}_create_connect_per_s_${n}`, n / (r.create_connect_wall_us / 1e6), RATE);
}

/** Session set-up/teardown (new process and existing session) and the TCP baseline, one repetition. */
async function sessionRound(c: Collector, t: ControlTarget, p: ControlPlan): Promise<void> {
  const tcp = await runControl<TcpConnectSamples>(t, ['tcpconnect', String(p.tcpIters)]);
  c.add('tcp_connect_median_us', median(tcp.connect_us), US);
  c.add('tcp_connect_p99_us', percentile(tcp.connect_us, 99), US);
  const s = await runControl<SessionSamples>(t, ['session', String(p.sessionIters)]);
  for (const [name, v] of [
    ['session_setup', s.setup_us], ['session_teardown', s.teardown_us],
    ['session_warm_setup', s.warm_setup_us], ['session_warm_teardown', s.warm_teardown_us],
  ] as const) {
    c.add(`${name}_median_us`, median(v), US);
    c.add(`${name}_p99_us`, percentile(v, 99), US);
  }
}

async function mrRound(c: Collector, t: ControlTarget, p: ControlPlan, progress: (s: string) => void): Promise<void> {
  for (const size of p.mrSizes) {
    progress(`reg_mr ${size} B`);
    const r = await runControl<MrSamples>(t, ['mr', String(size), String(mrIters(p, size))]);
    c.add(`mr_reg_us_${size}`, median(r.reg_us), US);
    c.add(`mr_dereg_us_${size}`, median(r.dereg_us), US);
    c.add(`mr_touch_us_${size}`, median(r.touch_us), US);
  }
}

/** Everything on one host: one container, one router. */
async function local(ctx: SuiteContext, c: Collector, p: ControlPlan): Promise<void> {
  ctx.progress('control: one container, one router');
  const w = await World.create([{ name: 'a' }]);
  try {
    const t: ControlTarget = { c: w.c('a'), socket: w.socket, logs: w.logs };
    ctx.progress('control: warm-up');
    // the router's first sessions, QPs and MRs (JIT, first allocations) stay out of the figures
    await runControl(t, ['session', '20']);
    await runControl(t, ['qp', '64']);
    await runControl(t, ['mr', String(MiB), '3']);
    for (let rep = 0; rep < p.reps; rep++) {
      const step = (s: string) => ctx.progress(`control: ${s} (${rep + 1}/${p.reps})`);
      step('session set-up, TCP connect');
      await sessionRound(c, t, p);
      for (const n of p.qpCounts) {
        step(`${n} QPs`);
        addQp(c, 'qp', await runControl<QpSamples>(t, ['qp', String(n)]));
      }
      await mrRound(c, t, p, step);
    }
  } finally {
    await w.teardown();
  }
}

/** QPs whose partners live on another host: two hosts, etcd, a router each. */
async function remote(ctx: SuiteContext, c: Collector, p: ControlPlan): Promise<void> {
  ctx.progress('control: two hosts, etcd, two routers');
  const w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }], h2: [{ name: 'b1' }] } });
  try {
    const target = (name: string): ControlTarget => ({ c: w.c(name), socket: w.socketOf(name), logs: w.logs });
    const [client, server] = [target('a1'), target('b1')];
    let port = 18600;
    ctx.progress('control: cross-host warm-up');
    await runQpRemote(server, client, 16, port++);
    for (let rep = 0; rep < p.reps; rep++) {
      for (const n of p.remoteCounts) {
        ctx.progress(`control: ${n} QPs across hosts (${rep + 1}/${p.reps})`);
        addQp(c, 'qp_remote', await runQpRemote(server, client, n, port++));
      }
    }
  } finally {
    await w.teardown();
  }
}

export async function control(ctx: SuiteContext): Promise<SuiteResult> {
  const plan = ctx.quick ? QUICK : FULL;
  await buildBaselines();
  const c = new Collector();
  await local(ctx, c, plan);
  await remote(ctx, c, plan);
  const measurements = c.measurements();
  const ratios = controlRatios(measurements, plan);
  const meta: Record<string, MetricMeta> = c.meta();
  for (const k of Object.keys(ratios)) meta[k] = { unit: 'x', better: 'lower' };
  return { name: 'control', measurements, ratios, goals: [], series: controlSeries(measurements, plan), meta };
}
