/**
 * One loaded point of the `scale` suite: several duration-bound ib_write_bw
 * pairs run at once through a router; once all of them move data the
 * router CPU is sampled over a window, or a 2 B latency probe runs, and the
 * router's peak RSS is sampled throughout. Bandwidth is what each perftest
 * printed, summed; nothing is re-timed here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sumOf, type Sample } from '../../test/harness/metrics.js';
import { perftest, type Placement } from '../pair.js';
import { cpuPercentDuring, rssBytes, RssSampler } from '../procstat.js';
import { bwGbps, latency } from './figures.js';

/** One load pair: where it runs, its perftest port and the container whose sends show it is running. */
export interface LoadPair {
  placement: Placement;
  port: number;
  /** Registered name of the client's container: its `ffr_bytes_total{direction="out"}` grows once it runs. */
  client: string;
}

/** A 2 B ib_send_lat ping-pong between two containers of its own. */
export interface Probe {
  placement: Placement;
  port: number;
  iters: number;
}

export interface LoadSpec {
  pairs: LoadPair[];
  /** ib_write_bw arguments after -d (e.g. -s 65536 -D 6 -f 2 -q 16); --report_gbits is added. */
  argv: string[];
  /** Message size in argv, to pick the result row. */
  size: number;
  /** Router whose CPU and memory are measured. */
  routerPid: number;
  /** That router's /metrics samples (the client containers are registered with it). */
  metrics: () => Promise<Sample[]>;
  /** How long the pairs may take until all of them move data. */
  startTimeoutMs: number;
  /** Router CPU window once every pair runs; omitted: no CPU figure. */
  cpuWindowMs?: number;
  /** Runs once every pair runs, after the CPU window (e.g. counting connections). */
  during?: () => Promise<void>;
  /** Latency probe once every pair runs, after `during`. */
  probe?: Probe;
}

export interface LoadResult {
  /** Sum of the pairs' BW average, Gb/s. */
  gbps: number;
  /** Router CPU over the window, % of one core. */
  cpuPercent?: number;
  /** Peak router RSS during the point minus its RSS just before, bytes. */
  rssDeltaBytes: number;
  /** From launching the pairs until every one of them moved data, ms. */
  rampMs: number;
  latMedianUs?: number;
  latP99Us?: number;
  /** False if a load pair ended before the probe did: the probe then partly ran without load. */
  probeUnderLoad?: boolean;
  /** The probe's wall time, start-up included, ms. */
  probeMs?: number;
}

function bytesOut(s: Sample[], container: string): number {
  return sumOf(s, 'ffr_bytes_total', { container, direction: 'out' });
}

/** 2 B ib_send_lat: perftest's t_typical (its median) and 99% percentile, µs. */
export async function latencyProbe(p: Probe): Promise<{ medianUs: number; p99Us: number }> {
  const out = await perftest(p.placement, ['ib_send_lat', '-d', 'ffr0', '-s', '2', '-n', String(p.iters)], { port: p.port, timeoutMs: 120_000 });
  return latency(out, 2);
}

/** Polls the router's counters until every client has sent something since `before`; throws if a pair ends or fails first. */
async function waitAllRunning(spec: LoadSpec, before: Sample[], state: { failure: unknown; done: boolean }, t0: number): Promise<void> {
  const clients = [...new Set(spec.pairs.map((p) => p.client))];
  for (;;) {
    if (state.failure) throw state.failure;
    if (state.done) throw new Error(`ib_write_bw ${spec.argv.join(' ')}: the pairs ended before all of them were seen running`);
    const now = await spec.metrics();
    if (clients.every((c) => bytesOut(now, c) > bytesOut(before, c))) return;
    if (performance.now() - t0 > spec.startTimeoutMs) {
      throw new Error(`ib_write_bw ${spec.argv.join(' ')}: not every client moved data within ${spec.startTimeoutMs} ms`);
    }
    await sleep(100);
  }
}

/** Runs the load pairs of `spec` at once and measures the router while all of them run. */
export async function loadedRun(spec: LoadSpec): Promise<LoadResult> {
  const before = await spec.metrics();
  const idleRss = rssBytes(spec.routerPid);
  const rss = new RssSampler(spec.routerPid);
  const state: { failure: unknown; done: boolean } = { failure: undefined, done: false };
  const t0 = performance.now();
  const argv = ['ib_write_bw', '-d', 'ffr0', '--report_gbits', ...spec.argv];
  const loads = Promise.all(spec.pairs.map((p) => perftest(p.placement, argv, { port: p.port, timeoutMs: 120_000 })));
  // on an early throw below the pairs stay bounded by their timeouts and the caller's teardown kills them
  loads.then(() => { state.done = true; }, (e: unknown) => { state.failure ??= e; state.done = true; });
  try {
    await waitAllRunning(spec, before, state, t0);
    const rampMs = performance.now() - t0;
    const cpu = spec.cpuWindowMs ? await cpuPercentDuring(spec.routerPid, () => sleep(spec.cpuWindowMs!)) : undefined;
    await spec.during?.();
    const tp = performance.now();
    const lat = spec.probe ? await latencyProbe(spec.probe) : undefined;
    const probe = lat ? { latMedianUs: lat.medianUs, latP99Us: lat.p99Us, probeUnderLoad: !state.done, probeMs: performance.now() - tp } : {};
    const outs = await loads;
    return {
      gbps: outs.reduce((sum, out) => sum + bwGbps(out, spec.size), 0),
      ...(cpu ? { cpuPercent: cpu.percent } : {}),
      rssDeltaBytes: rss.stop() - idleRss,
      rampMs,
      ...probe,
    };
  } finally {
    rss.stop();
  }
}
