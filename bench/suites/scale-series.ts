/**
 * Charts of the `scale` suite, from the summaries it recorded: aggregate
 * bandwidth, router CPU, memory per QP and latency under load against
 * containers or QPs (log2 x), and connections per peer against QPs.
 */
import type { Summary } from '../stats.js';
import type { Series, SeriesLine } from '../suite.js';
import { point } from './figures.js';
import type { ScalePlan } from './scale-plan.js';

/** x -> summary per curve, as recorded: c* against containers, q* against QPs on one router, x* across hosts. */
export interface ScaleFigures {
  cBw: Map<number, Summary>;
  cCpu: Map<number, Summary>;
  cMed: Map<number, Summary>;
  cP99: Map<number, Summary>;
  qBw: Map<number, Summary>;
  qCpu: Map<number, Summary>;
  perQp: Map<number, Summary>;
  qMed: Map<number, Summary>;
  qP99: Map<number, Summary>;
  xBw: Map<number, Summary>;
  xConns: Map<number, Summary>;
  xTcp: Map<number, Summary>;
  /** Median of the probe with no load, drawn as a reference line. */
  idleMedianUs?: number;
  /** Median memory per added QP (1 to the most QPs), drawn as a reference line. */
  marginalBytesPerQp?: number;
}

const CONTAINERS = { label: 'containers', scale: 'log2' } as const;
const QPS = { label: 'QPs', scale: 'log2' } as const;

function line(name: string, points: Map<number, Summary>): SeriesLine {
  return { name, points: [...points].map(([x, s]) => point(x, s)) };
}

/** The suite's charts; a curve the plan did not measure (the probe over QPs in --quick) gets none. */
export function scaleSeries(f: ScaleFigures, plan: ScalePlan): Series[] {
  const idle = f.idleMedianUs !== undefined ? [{ y: f.idleMedianUs, label: 'median, no load' }] : [];
  const lat = { label: 'one-way latency', unit: 'µs', scale: 'log10' } as const;
  const cpu = { label: 'router CPU', unit: '%' } as const;
  const all: Series[] = [
    { id: 'bw-vs-containers', title: `Aggregate ib_write_bw ${plan.containerSize / 1024} KiB against containers on one router`, kind: 'line',
      x: CONTAINERS, y: { label: 'aggregate bandwidth', unit: 'Gb/s' }, better: 'higher', lines: [line('ib_write_bw', f.cBw)] },
    { id: 'bw-vs-qps', title: `Aggregate ib_write_bw ${plan.qpSize / 1024} KiB against the QPs of one pair on one router`, kind: 'line',
      x: QPS, y: { label: 'aggregate bandwidth', unit: 'Gb/s' }, better: 'higher', lines: [line('ib_write_bw', f.qBw)] },
    { id: 'xhost-bw-vs-qps', title: `ib_write_bw ${plan.qpSize / 1024} KiB across hosts against the QPs of one pair (pool ${plan.pool})`, kind: 'line',
      x: QPS, y: { label: 'aggregate bandwidth', unit: 'Gb/s' }, better: 'higher', lines: [line('ib_write_bw', f.xBw)] },
    // the router's CPU under load is the share the scheduler left it: no direction
    { id: 'cpu-vs-containers', title: 'Router CPU while all pairs run, against containers', kind: 'line',
      x: CONTAINERS, y: cpu, better: 'none', lines: [line('router', f.cCpu)] },
    { id: 'cpu-vs-qps', title: 'Router CPU while the pair runs, against its QPs', kind: 'line',
      x: QPS, y: cpu, better: 'none', lines: [line('router', f.qCpu)] },
    { id: 'mem-per-qp', title: 'Router memory per QP: peak RSS growth over the QPs it serves', kind: 'line',
      x: QPS, y: { label: 'memory per QP', unit: 'B', scale: 'log10', format: 'bytes' }, better: 'lower', lines: [line('router', f.perQp)],
      marks: f.marginalBytesPerQp !== undefined ? [{ y: f.marginalBytesPerQp, label: 'per added QP' }] : [] },
    { id: 'lat-vs-containers', title: '2 B ib_send_lat of another pair while N containers load the router', kind: 'line',
      x: CONTAINERS, y: lat, better: 'lower', lines: [line('median', f.cMed), line('p99', f.cP99)], marks: idle },
    { id: 'lat-vs-qps', title: '2 B ib_send_lat of another pair while one pair loads the router with N QPs', kind: 'line',
      x: QPS, y: lat, better: 'lower', lines: [line('median', f.qMed), line('p99', f.qP99)], marks: idle },
    { id: 'conns-vs-qps', title: 'Physical connections per peer router against virtual QPs', kind: 'line',
      x: QPS, y: { label: 'connections per peer' }, better: 'none',
      lines: [line('ffr_peer_connections', f.xConns), line('TCP established (ss)', f.xTcp)],
      marks: [{ y: plan.pool, label: `pool (${plan.pool})` }] },
  ];
  return all.filter((s) => s.lines.some((l) => l.points.length));
}
