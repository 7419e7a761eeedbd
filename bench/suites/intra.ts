/**
 * `intra`: two containers on one host through one router, against the
 * baselines of the same run: the physical limits of a one-copy design
 * (memcpy, a shared-memory ping-pong), TCP over loopback (host mode) and TCP
 * between the same two containers through the host's bridge (what they get
 * without the shim). Ratios are computed pair by pair from medians.
 */
import { World } from '../../test/harness/world.js';
import { buildBaselines, memcpyGbps, shmLatency, tcpLoopbackGbps, tcpLoopbackLatency, type LatencyResult } from '../baselines.js';
import { perftest, type Placement } from '../pair.js';
import { idleCpuPercent } from '../procstat.js';
import type { SuiteContext, SuiteResult } from '../suite.js';
import { bwGbps, get, GBPS, IDLE_CPU_3S, latency, latencyBars, point, record, recordLatency, recordRatio, RETRANSMITS } from './figures.js';
import { interTcpGbps, interTcpLatency } from './inter-baselines.js';

const BW_SIZES = [65536, 1048576];
const LAT_TOOLS = ['ib_send_lat', 'ib_write_lat'] as const;

async function writeBwGbps(p: Placement, size: number, iters: number): Promise<number> {
  return bwGbps(await perftest(p, ['ib_write_bw', '-d', 'ffr0', '-s', String(size), '-n', String(iters), '--report_gbits']), size);
}

async function lat2b(p: Placement, tool: string, iters: number): Promise<LatencyResult> {
  return latency(await perftest(p, [tool, '-d', 'ffr0', '-s', '2', '-n', String(iters)]), 2);
}

export async function intra(ctx: SuiteContext): Promise<SuiteResult> {
  const reps = ctx.quick ? 1 : 3;
  const bwIters = ctx.quick ? 500 : 5000;
  const latIters = ctx.quick ? 2000 : 20000;
  const tcpSeconds = ctx.quick ? 1 : 3;
  await buildBaselines();
  const res: SuiteResult = { name: 'intra', measurements: {}, ratios: {}, goals: [], meta: {} };

  ctx.progress('intra: baselines (memcpy, shared memory, TCP loopback)');
  for (const size of BW_SIZES) {
    const v: number[] = [];
    for (let i = 0; i < reps; i++) v.push(await memcpyGbps(size, ctx.quick ? 0.3 : 1));
    record(res, `memcpy_gbps_${size}`, v, GBPS);
  }
  await recordLatency(res, 'shm_lat_2b', reps, () => shmLatency(2, latIters));
  const tcpBw: number[] = [];
  for (let i = 0; i < reps; i++) tcpBw.push(await tcpLoopbackGbps(tcpSeconds, 25201 + i));
  record(res, 'tcp_loopback_gbps', tcpBw, GBPS);
  await recordLatency(res, 'tcp_lat_2b', reps, (i) => tcpLoopbackLatency(2, latIters, 25301 + i));
  await recordLatency(res, 'tcp_busy_lat_2b', reps, (i) => tcpLoopbackLatency(2, latIters, 25311 + i, 'busy'));

  const w = await World.create([{ name: 'a' }, { name: 'b' }]);
  try {
    const p: Placement = { server: w.c('a'), client: w.c('b'), serverSocket: w.socket, clientSocket: w.socket, logs: w.logs };
    ctx.progress('intra: idle router CPU');
    record(res, 'router_idle_cpu_percent', [await idleCpuPercent(w.router!.proc.child.pid!, 3000)], IDLE_CPU_3S);

    // the same two containers without the shim: TCP through the host's bridge
    // (the ping-pong first: its own warm-up round trips also resolve the neighbours)
    ctx.progress('intra: baselines (TCP through the bridge)');
    await recordLatency(res, 'tcp_bridge_lat_2b', reps, (i) => interTcpLatency(p.server, p.client, 2, latIters, 25401 + i));
    const bridge: number[] = [], retr: number[] = [];
    for (let i = 0; i < reps; i++) {
      const r = await interTcpGbps(p.server, p.client, tcpSeconds, 25501 + i);
      bridge.push(r.gbps); retr.push(r.retransmits);
    }
    record(res, 'tcp_bridge_gbps', bridge, GBPS);
    record(res, 'tcp_bridge_retransmits', retr, RETRANSMITS);

    // discarded runs: the router's first use of each path (allocation, JIT) stays out of the figures
    ctx.progress('intra: warm-up (ib_write_bw, ib_send_lat)');
    await writeBwGbps(p, 1048576, 100);
    await lat2b(p, 'ib_send_lat', 1000);
    for (const size of BW_SIZES) {
      ctx.progress(`intra: ib_write_bw ${size} B`);
      const v: number[] = [];
      for (let i = 0; i < reps; i++) v.push(await writeBwGbps(p, size, bwIters));
      record(res, `ib_write_bw_gbps_${size}`, v, GBPS);
    }
    for (const tool of LAT_TOOLS) {
      ctx.progress(`intra: ${tool} 2 B`);
      await recordLatency(res, `${tool}_2b`, reps, () => lat2b(p, tool, latIters));
    }
  } finally {
    await w.teardown();
  }

  // ratio names predating the shm and bridge baselines keep their meaning: `_vs_tcp` is TCP loopback
  for (const size of BW_SIZES) {
    recordRatio(res, `ib_write_bw_${size}_vs_memcpy`, `ib_write_bw_gbps_${size}`, `memcpy_gbps_${size}`);
    recordRatio(res, `ib_write_bw_${size}_vs_tcp_loopback`, `ib_write_bw_gbps_${size}`, 'tcp_loopback_gbps');
    recordRatio(res, `ib_write_bw_${size}_vs_tcp_bridge`, `ib_write_bw_gbps_${size}`, 'tcp_bridge_gbps');
  }
  for (const tool of LAT_TOOLS) {
    for (const pct of ['median', 'p99']) {
      recordRatio(res, `${tool}_2b_${pct}_vs_shm`, `${tool}_2b_${pct}_us`, `shm_lat_2b_${pct}_us`);
      recordRatio(res, `${tool}_2b_${pct}_vs_tcp`, `${tool}_2b_${pct}_us`, `tcp_lat_2b_${pct}_us`);
      recordRatio(res, `${tool}_2b_${pct}_vs_tcp_busy`, `${tool}_2b_${pct}_us`, `tcp_busy_lat_2b_${pct}_us`);
      recordRatio(res, `${tool}_2b_${pct}_vs_tcp_bridge`, `${tool}_2b_${pct}_us`, `tcp_bridge_lat_2b_${pct}_us`);
    }
  }

  const r = res.ratios;
  const idle = get(res, 'router_idle_cpu_percent').median;
  res.goals.push(
    { what: 'ib_write_bw 1 MiB >= 0.6x memcpy', value: r.ib_write_bw_1048576_vs_memcpy!, met: r.ib_write_bw_1048576_vs_memcpy! >= 0.6 },
    { what: 'ib_write_bw 1 MiB >= 5x TCP loopback', value: r.ib_write_bw_1048576_vs_tcp_loopback!, met: r.ib_write_bw_1048576_vs_tcp_loopback! >= 5 },
    { what: 'ib_send_lat 2 B median <= 0.1x TCP loopback', value: r.ib_send_lat_2b_median_vs_tcp!, met: r.ib_send_lat_2b_median_vs_tcp! <= 0.1 },
    { what: 'ib_write_lat 2 B median <= 0.1x TCP loopback', value: r.ib_write_lat_2b_median_vs_tcp!, met: r.ib_write_lat_2b_median_vs_tcp! <= 0.1 },
    { what: 'idle router CPU < 1% of a core', value: idle, met: idle < 1 },
  );

  res.series = [
    {
      // ns on a log axis: shared memory is tens of ns, TCP tens of µs, and every bar grows up from 1 ns
      id: 'lat-2b', title: 'one-way latency, 2 B messages (same host)', kind: 'bar',
      x: { label: 'tool' }, y: { label: 'one-way latency', unit: 'ns', scale: 'log10' }, better: 'lower',
      lines: latencyBars(res, [
        ['ib_send_lat', 'ib_send_lat_2b'], ['ib_write_lat', 'ib_write_lat_2b'], ['shm ping-pong', 'shm_lat_2b'],
        ['TCP loopback', 'tcp_lat_2b'], ['TCP loopback, busy-poll', 'tcp_busy_lat_2b'], ['TCP bridge', 'tcp_bridge_lat_2b'],
      ], 1000),
    },
    {
      // iperf3 is a byte stream (128 KiB writes) whatever the message size: the same bar at both sizes
      id: 'bw', title: 'bandwidth (same host)', kind: 'bar',
      x: { label: 'message size', format: 'bytes' }, y: { label: 'bandwidth', unit: 'Gb/s' }, better: 'higher',
      lines: [
        { name: 'ib_write_bw', points: BW_SIZES.map((s) => point(s, get(res, `ib_write_bw_gbps_${s}`))) },
        { name: 'memcpy', points: BW_SIZES.map((s) => point(s, get(res, `memcpy_gbps_${s}`))) },
        { name: 'iperf3 loopback', points: BW_SIZES.map((s) => point(s, get(res, 'tcp_loopback_gbps'))) },
        { name: 'iperf3 bridge', points: BW_SIZES.map((s) => point(s, get(res, 'tcp_bridge_gbps'))) },
      ],
    },
  ];
  return res;
}
