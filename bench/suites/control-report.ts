/**
 * The `control` suite's ratios (each against its baseline of the same run,
 * from the two medians) and charts, from its measurements.
 */
import { ratio, type Summary } from '../stats.js';
import type { Series, SeriesPoint } from '../suite.js';
import { pointOf, pointsOf } from './control-collect.js';

/** What one run of the suite measures. */
export interface ControlPlan {
  /** Repetitions: a new process per figure and repetition. */
  reps: number;
  /** Session cycles per `session` run. */
  sessionIters: number;
  /** connect + accept cycles per `tcpconnect` run. */
  tcpIters: number;
  /** QPs per `qp` run (even: connected in pairs). */
  qpCounts: number[];
  /** QPs per cross-host run. */
  remoteCounts: number[];
  /** Region sizes for reg_mr, bytes. */
  mrSizes: number[];
  /** Iterations per size ≈ this / size (at least 2, at most mrMaxIters). */
  mrBytesPerRun: number;
  mrMaxIters: number;
}

/** Ratios of the measured control operations to their kernel baselines, pair by pair. */
export function controlRatios(m: Record<string, Summary>, p: ControlPlan): Record<string, number> {
  const r: Record<string, number> = {};
  const set = (name: string, measured: string, baseline: string) => {
    const a = m[measured], b = m[baseline];
    if (a && b) r[name] = ratio(a, b);
  };
  set('session_setup_median_vs_tcp_connect', 'session_setup_median_us', 'tcp_connect_median_us');
  set('session_setup_p99_vs_tcp_connect', 'session_setup_p99_us', 'tcp_connect_p99_us');
  for (const n of p.qpCounts) set(`qp_connect_${n}_vs_tcp_connect`, `qp_connect_median_us_${n}`, 'tcp_connect_median_us');
  for (const n of p.remoteCounts) set(`qp_remote_connect_${n}_vs_local`, `qp_remote_connect_median_us_${n}`, `qp_connect_median_us_${n}`);
  for (const s of p.mrSizes) set(`mr_reg_${s}_vs_touch`, `mr_reg_us_${s}`, `mr_touch_us_${s}`);
  return r;
}

export function controlSeries(m: Record<string, Summary>, p: ControlPlan): Series[] {
  const perQp = (prefix: string, op: string) => (n: number | string) => `${prefix}_${op}_median_us_${n}`;
  const sessionOps: [string, string][] = [
    ['session set-up (new process)', 'session_setup'],
    ['session teardown', 'session_teardown'],
    ['set-up, process already connected', 'session_warm_setup'],
    ['teardown, process already connected', 'session_warm_teardown'],
    ['TCP connect+accept (baseline)', 'tcp_connect'],
  ];
  const pct = (suffix: string) => sessionOps
    .map(([label, name]) => pointOf(label, m[`${name}_${suffix}_us`]))
    .filter((x): x is SeriesPoint => x !== undefined);
  return [
    {
      id: 'reg-mr-vs-size', title: 'ibv_reg_mr / ibv_dereg_mr against region size, and faulting in a fresh region',
      kind: 'line', better: 'lower',
      x: { label: 'region size', unit: 'B', scale: 'log2', format: 'bytes' },
      y: { label: 'time per call', unit: 'µs', scale: 'log10' },
      lines: [
        { name: 'ibv_reg_mr', points: pointsOf(p.mrSizes, m, (s) => `mr_reg_us_${s}`) },
        { name: 'ibv_dereg_mr', points: pointsOf(p.mrSizes, m, (s) => `mr_dereg_us_${s}`) },
        { name: 'mmap + memset (baseline)', points: pointsOf(p.mrSizes, m, (s) => `mr_touch_us_${s}`) },
      ],
    },
    {
      id: 'qp-vs-count', title: 'Per-QP create, connect (INIT→RTR→RTS) and destroy against QPs in the process',
      kind: 'line', better: 'lower',
      x: { label: 'QPs', scale: 'log2' },
      y: { label: 'time per QP (median)', unit: 'µs' },
      lines: [
        { name: 'create', points: pointsOf(p.qpCounts, m, perQp('qp', 'create')) },
        { name: 'connect', points: pointsOf(p.qpCounts, m, perQp('qp', 'connect')) },
        { name: 'destroy', points: pointsOf(p.qpCounts, m, perQp('qp', 'destroy')) },
        { name: 'create (other host)', points: pointsOf(p.remoteCounts, m, perQp('qp_remote', 'create')) },
        { name: 'connect (other host)', points: pointsOf(p.remoteCounts, m, perQp('qp_remote', 'connect')) },
      ],
      marks: m.tcp_connect_median_us ? [{ y: m.tcp_connect_median_us.median, label: 'TCP connect+accept' }] : [],
    },
    {
      id: 'qp-rate', title: 'QP create + connect rate against QPs in the process',
      kind: 'line', better: 'higher',
      x: { label: 'QPs', scale: 'log2' },
      y: { label: 'create + connect rate', unit: 'QPs/s' },
      lines: [
        { name: 'partner on the same host', points: pointsOf(p.qpCounts, m, (n) => `qp_create_connect_per_s_${n}`) },
        { name: 'partner on another host', points: pointsOf(p.remoteCounts, m, (n) => `qp_remote_create_connect_per_s_${n}`) },
      ],
    },
    {
      id: 'session-percentiles', title: 'Session set-up and teardown percentiles against TCP connect+accept',
      kind: 'bar', better: 'lower',
      x: { label: 'operation' },
      y: { label: 'time', unit: 'µs' },
      lines: [{ name: 'median', points: pct('median') }, { name: 'p99', points: pct('p99') }],
    },
  ];
}
