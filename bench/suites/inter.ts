/**
 * `inter`: containers on two hosts (test/harness/cluster.ts: namespaces, a
 * real etcd, a router per host joined by the peer transport), against plain
 * TCP between the same two containers, once over the same
 * veth/bridge/forwarding path the routers use ("routed") and once through a
 * VXLAN overlay as container overlay networks build it (bench/overlay.ts).
 * Ratios are computed pair by pair from medians, as in intra.
 */
import { Cluster } from '../../test/harness/cluster.js';
import { killAll } from '../../test/harness/proc.js';
import { buildBaselines } from '../baselines.js';
import { vxlanOverlay } from '../overlay.js';
import { perftest, type Placement } from '../pair.js';
import { idleCpuPercent } from '../procstat.js';
import type { SuiteContext, SuiteResult } from '../suite.js';
import { bwGbps, get, GBPS, IDLE_CPU_3S, latency, latencyBars, point, record, recordLatency, recordRatio, RETRANSMITS } from './figures.js';
import { interTcpGbps, interTcpLatency } from './inter-baselines.js';

/** Container pairs of the aggregate run: 4 per host, 16 QPs each = 64 QPs over 8 containers. */
const AGG_PAIRS = 4;
const AGG_QPS = 16;
const LAT_TOOLS = ['ib_send_lat', 'ib_write_lat'] as const;

export async function inter(ctx: SuiteContext): Promise<SuiteResult> {
  const reps = ctx.quick ? 1 : 3;
  const bwSeconds = ctx.quick ? 1 : 3;
  const bwIters = ctx.quick ? 300 : 3000;
  const latIters = ctx.quick ? 2000 : 20000;
  const aggSeconds = ctx.quick ? 2 : 5;
  await buildBaselines();
  const res: SuiteResult = { name: 'inter', measurements: {}, ratios: {}, goals: [], meta: {} };

  ctx.progress('inter: two hosts, etcd, two routers');
  const names = (p: string) => Array.from({ length: AGG_PAIRS }, (_, i) => ({ name: `${p}${i + 1}` }));
  const w = await Cluster.create({ hosts: { h1: names('a'), h2: names('b') } });
  try {
    // client a1 on h1, server b1 on h2: every byte crosses both hosts' forwarding and the wan
    const pair = (server: string, client: string): Placement => ({
      server: w.c(server), client: w.c(client), serverSocket: w.socketOf(server), clientSocket: w.socketOf(client), logs: w.logs,
    });
    const p = pair('b1', 'a1');

    ctx.progress('inter: baselines, routed (iperf3 warm-up)');
    // a discarded run: first ARP/neighbour resolution and slow start stay out of the figures
    await interTcpGbps(p.server, p.client, 1, 25200);
    const bw: number[] = [], retr: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: baselines, routed (iperf3 ${i + 1}/${reps})`);
      const r = await interTcpGbps(p.server, p.client, bwSeconds, 25201 + i);
      bw.push(r.gbps); retr.push(r.retransmits);
    }
    record(res, 'tcp_inter_gbps', bw, GBPS);
    record(res, 'tcp_inter_retransmits', retr, RETRANSMITS);
    await recordLatency(res, 'tcp_inter_lat_2b', reps, (i) => {
      ctx.progress(`inter: baselines, routed (tcp ping-pong 2 B ${i + 1}/${reps})`);
      return interTcpLatency(p.server, p.client, 2, latIters, 25301 + i);
    });
    await recordLatency(res, 'tcp_inter_busy_lat_2b', reps, (i) => {
      ctx.progress(`inter: baselines, routed (busy-polling tcp ping-pong 2 B ${i + 1}/${reps})`);
      return interTcpLatency(p.server, p.client, 2, latIters, 25311 + i, 'busy');
    });

    // the same two containers through a VXLAN overlay (a second interface each): container to container
    ctx.progress('inter: baselines, VXLAN overlay');
    const ovl = vxlanOverlay(w.net, ['a1', 'b1']);
    const [oServer, oClient] = [ovl.get('b1')!, ovl.get('a1')!];
    // the ping-pong first: its own warm-up round trips resolve the neighbours and fill the overlay's forwarding table
    await recordLatency(res, 'tcp_vxlan_lat_2b', reps, (i) => {
      ctx.progress(`inter: baselines, VXLAN (tcp ping-pong 2 B ${i + 1}/${reps})`);
      return interTcpLatency(oServer, oClient, 2, latIters, 25401 + i);
    });
    const vbw: number[] = [], vretr: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: baselines, VXLAN (iperf3 ${i + 1}/${reps})`);
      const r = await interTcpGbps(oServer, oClient, bwSeconds, 25501 + i);
      vbw.push(r.gbps); vretr.push(r.retransmits);
    }
    record(res, 'tcp_vxlan_gbps', vbw, GBPS);
    record(res, 'tcp_vxlan_retransmits', vretr, RETRANSMITS);

    ctx.progress('inter: idle routers');
    record(res, 'router_idle_cpu_percent_h1', [await idleCpuPercent(w.router('h1').proc.child.pid!, 3000)], IDLE_CPU_3S);
    record(res, 'router_idle_cpu_percent_h2', [await idleCpuPercent(w.router('h2').proc.child.pid!, 3000)], IDLE_CPU_3S);

    const writeBw = async (size: number, iters: number) =>
      bwGbps(await perftest(p, ['ib_write_bw', '-d', 'ffr0', '-s', String(size), '-n', String(iters), '--report_gbits']), size);
    ctx.progress('inter: ib_write_bw 1 MiB (warm-up)');
    await writeBw(1048576, 100);
    const wbw: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: ib_write_bw 1 MiB ${i + 1}/${reps}`);
      wbw.push(await writeBw(1048576, bwIters));
    }
    record(res, 'ib_write_bw_gbps_1048576', wbw, GBPS);

    for (const tool of LAT_TOOLS) {
      await recordLatency(res, `${tool}_2b`, reps, async (i) => {
        ctx.progress(`inter: ${tool} 2 B ${i + 1}/${reps}`);
        return latency(await perftest(p, [tool, '-d', 'ffr0', '-s', '2', '-n', String(latIters)]), 2);
      });
    }

    // Aggregate: the same duration-bound run with 1 QP, then 64 QPs over 8
    // containers at once (4 busy-polling clients: on 2 cores they compete
    // with the routers for CPU), and, to tell router scaling from that, 64
    // QPs from one client.
    const aggBw = async (pl: Placement, qps: number, port?: number) =>
      bwGbps(await perftest(pl, ['ib_write_bw', '-d', 'ffr0', '-s', '65536', '-q', String(qps), '-D', String(aggSeconds), '--report_gbits'], { port }), 65536);
    const one: number[] = [], many: number[] = [], oneClient: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: aggregate ib_write_bw, 1 QP ${i + 1}/${reps}`);
      one.push(await aggBw(p, 1));
      ctx.progress(`inter: aggregate ib_write_bw, ${AGG_PAIRS * AGG_QPS} QPs over ${AGG_PAIRS * 2} containers ${i + 1}/${reps}`);
      const each = await Promise.all(Array.from({ length: AGG_PAIRS }, (_, k) => aggBw(pair(`b${k + 1}`, `a${k + 1}`), AGG_QPS, 18520 + k)));
      many.push(each.reduce((sum, v) => sum + v, 0));
      ctx.progress(`inter: aggregate ib_write_bw, ${AGG_PAIRS * AGG_QPS} QPs from one container ${i + 1}/${reps}`);
      oneClient.push(await aggBw(p, AGG_PAIRS * AGG_QPS));
    }
    record(res, 'ib_write_bw_gbps_64qp_one_client', oneClient, GBPS);
    record(res, 'ib_write_bw_gbps_1qp', one, GBPS);
    record(res, 'ib_write_bw_gbps_64qp', many, GBPS);
  } finally {
    await w.teardown();
    await killAll();
  }

  // ratio names predating the overlay baseline keep their meaning: `_vs_iperf3` and `_vs_tcp` are the routed path
  recordRatio(res, 'ib_write_bw_1048576_vs_iperf3', 'ib_write_bw_gbps_1048576', 'tcp_inter_gbps');
  recordRatio(res, 'ib_write_bw_1048576_vs_vxlan', 'ib_write_bw_gbps_1048576', 'tcp_vxlan_gbps');
  for (const tool of LAT_TOOLS) {
    for (const pct of ['median', 'p99']) {
      recordRatio(res, `${tool}_2b_${pct}_vs_tcp`, `${tool}_2b_${pct}_us`, `tcp_inter_lat_2b_${pct}_us`);
      recordRatio(res, `${tool}_2b_${pct}_vs_tcp_busy`, `${tool}_2b_${pct}_us`, `tcp_inter_busy_lat_2b_${pct}_us`);
      recordRatio(res, `${tool}_2b_${pct}_vs_vxlan`, `${tool}_2b_${pct}_us`, `tcp_vxlan_lat_2b_${pct}_us`);
    }
  }
  recordRatio(res, 'ib_write_bw_64qp_vs_1qp', 'ib_write_bw_gbps_64qp', 'ib_write_bw_gbps_1qp');
  recordRatio(res, 'ib_write_bw_64qp_one_client_vs_1qp', 'ib_write_bw_gbps_64qp_one_client', 'ib_write_bw_gbps_1qp');

  const r = res.ratios;
  res.goals.push(
    { what: 'ib_write_bw 1 MiB >= 0.9x iperf3 single stream', value: r.ib_write_bw_1048576_vs_iperf3!, met: r.ib_write_bw_1048576_vs_iperf3! >= 0.9 },
    { what: 'ib_send_lat 2 B median <= 1.2x TCP ping-pong', value: r.ib_send_lat_2b_median_vs_tcp!, met: r.ib_send_lat_2b_median_vs_tcp! <= 1.2 },
    { what: 'aggregate ib_write_bw with 64 QPs >= 0.9x 1 QP', value: r.ib_write_bw_64qp_vs_1qp!, met: r.ib_write_bw_64qp_vs_1qp! >= 0.9 },
  );

  res.series = [
    {
      id: 'lat-2b', title: 'one-way latency, 2 B messages (two hosts)', kind: 'bar',
      x: { label: 'tool' }, y: { label: 'one-way latency', unit: 'µs', scale: 'log10' }, better: 'lower',
      lines: latencyBars(res, [
        ['ib_send_lat', 'ib_send_lat_2b'], ['ib_write_lat', 'ib_write_lat_2b'],
        ['TCP routed', 'tcp_inter_lat_2b'], ['TCP routed, busy-poll', 'tcp_inter_busy_lat_2b'], ['TCP VXLAN', 'tcp_vxlan_lat_2b'],
      ]),
    },
    {
      // iperf3 is a byte stream (128 KiB writes): its bars stand next to ib_write_bw's 1 MiB messages
      id: 'bw', title: 'bandwidth, one stream (two hosts)', kind: 'bar',
      x: { label: 'message size', format: 'bytes' }, y: { label: 'bandwidth', unit: 'Gb/s' }, better: 'higher',
      lines: [
        { name: 'ib_write_bw', points: [point(1048576, get(res, 'ib_write_bw_gbps_1048576'))] },
        { name: 'iperf3 routed', points: [point(1048576, get(res, 'tcp_inter_gbps'))] },
        { name: 'iperf3 VXLAN', points: [point(1048576, get(res, 'tcp_vxlan_gbps'))] },
      ],
    },
    {
      id: 'aggregate', title: `aggregate ib_write_bw, 64 KiB messages, ${aggSeconds} s runs (two hosts)`, kind: 'bar',
      x: { label: 'QPs and container pairs' }, y: { label: 'aggregate bandwidth', unit: 'Gb/s' }, better: 'higher',
      lines: [{
        name: 'ib_write_bw',
        points: [
          point('1 QP', get(res, 'ib_write_bw_gbps_1qp')),
          point(`${AGG_PAIRS * AGG_QPS} QPs, ${AGG_PAIRS} pairs`, get(res, 'ib_write_bw_gbps_64qp')),
          point(`${AGG_PAIRS * AGG_QPS} QPs, 1 pair`, get(res, 'ib_write_bw_gbps_64qp_one_client')),
        ],
      }],
    },
  ];
  return res;
}
