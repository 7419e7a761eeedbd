/**
 * `inter`: containers on two hosts (test/harness/cluster.ts: namespaces, a
 * real etcd, a router per host joined by the peer transport), against plain
 * TCP between the same two containers over the same veth/bridge/forwarding
 * path. Ratios are computed pair by pair from medians, as in intra.
 */
import { readFileSync } from 'node:fs';
import { runPair } from '../../test/harness/apps.js';
import { Cluster } from '../../test/harness/cluster.js';
import { killAll } from '../../test/harness/proc.js';
import { buildBaselines } from '../baselines.js';
import { parseBw, parseLat } from '../perftest-parse.js';
import { ratio, summarize, type Summary } from '../stats.js';
import type { SuiteContext, SuiteResult } from '../suite.js';
import { interTcpGbps, interTcpLatency } from './inter-baselines.js';

/** Container pairs of the aggregate run: 4 per host, 16 QPs each = 64 QPs over 8 containers. */
const AGG_PAIRS = 4;
const AGG_QPS = 16;

async function perftestPair(w: Cluster, server: string, client: string, argv: string[], port = 18515): Promise<string> {
  const p = await runPair({
    server: w.c(server), client: w.c(client), serverArgv: [...argv, '-p', String(port)], port,
    serverSocket: w.socketOf(server), clientSocket: w.socketOf(client), timeoutMs: 180_000,
  });
  if (p.server.code !== 0 || p.client.code !== 0) {
    throw new Error(`${argv.join(' ')} failed:\n${p.client.stdout}\n${p.client.stderr}\n${p.server.stderr}\n${w.logs()}`);
  }
  return p.client.stdout;
}

function bwGbps(out: string, size: number): number {
  const row = parseBw(out).find((r) => r.bytes === size);
  if (!row) throw new Error(`ib_write_bw printed no ${size} B row:\n${out}`);
  return row.bwAvgMBps; // with --report_gbits the column is Gb/s
}

/** CPU use (user+sys, % of one core) of a process over a window. */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const t0 = ticks();
  await new Promise((r) => setTimeout(r, ms));
  return ((ticks() - t0) / 100 / (ms / 1000)) * 100;
}

/** The router's node process: the harness starts it under `ip netns exec`, which execs node. */
function routerPid(w: Cluster, host: string): number {
  return w.router(host).proc.child.pid!;
}

export async function inter(ctx: SuiteContext): Promise<SuiteResult> {
  const reps = ctx.quick ? 1 : 3;
  const bwSeconds = ctx.quick ? 1 : 3;
  const bwIters = ctx.quick ? 300 : 3000;
  const latIters = ctx.quick ? 2000 : 20000;
  const aggSeconds = ctx.quick ? 2 : 5;
  await buildBaselines();
  const res: SuiteResult = { name: 'inter', measurements: {}, ratios: {}, goals: [] };
  const m = res.measurements;

  ctx.progress('inter: two hosts, etcd, two routers');
  const names = (p: string) => Array.from({ length: AGG_PAIRS }, (_, i) => ({ name: `${p}${i + 1}` }));
  const w = await Cluster.create({ hosts: { h1: names('a'), h2: names('b') } });
  try {
    // client a1 on h1, server b1 on h2: every byte crosses both hosts' forwarding and the wan
    const [client, server] = [w.c('a1'), w.c('b1')];

    ctx.progress('inter: baselines (iperf3 warm-up)');
    // a discarded run: first ARP/neighbour resolution and slow start stay out of the figures
    await interTcpGbps(server, client, 1, 25200);
    const bw: number[] = [], retr: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: baselines (iperf3 ${i + 1}/${reps})`);
      const r = await interTcpGbps(server, client, bwSeconds, 25201 + i);
      bw.push(r.gbps); retr.push(r.retransmits);
    }
    m.tcp_inter_gbps = summarize(bw);
    m.tcp_inter_retransmits = summarize(retr);

    const med: number[] = [], p99: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: baselines (tcp ping-pong 2 B ${i + 1}/${reps})`);
      const r = await interTcpLatency(server, client, 2, latIters, 25301 + i);
      med.push(r.medianUs); p99.push(r.p99Us);
    }
    m.tcp_inter_lat_2b_median_us = summarize(med);
    m.tcp_inter_lat_2b_p99_us = summarize(p99);

    ctx.progress('inter: idle routers');
    m.router_idle_cpu_percent_h1 = summarize([await cpuPercent(routerPid(w, 'h1'), 3000)]);
    m.router_idle_cpu_percent_h2 = summarize([await cpuPercent(routerPid(w, 'h2'), 3000)]);

    ctx.progress('inter: ib_write_bw 1 MiB (warm-up)');
    await perftestPair(w, 'b1', 'a1', ['ib_write_bw', '-d', 'ffr0', '-s', '1048576', '-n', '100', '--report_gbits']);
    const wbw: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: ib_write_bw 1 MiB ${i + 1}/${reps}`);
      wbw.push(bwGbps(await perftestPair(w, 'b1', 'a1', ['ib_write_bw', '-d', 'ffr0', '-s', '1048576', '-n', String(bwIters), '--report_gbits']), 1048576));
    }
    m.ib_write_bw_gbps_1048576 = summarize(wbw);

    for (const tool of ['ib_send_lat', 'ib_write_lat']) {
      const lmed: number[] = [], lp99: number[] = [];
      for (let i = 0; i < reps; i++) {
        ctx.progress(`inter: ${tool} 2 B ${i + 1}/${reps}`);
        const out = await perftestPair(w, 'b1', 'a1', [tool, '-d', 'ffr0', '-s', '2', '-n', String(latIters)]);
        const row = parseLat(out).find((r) => r.bytes === 2);
        if (!row) throw new Error(`${tool} printed no 2 B row:\n${out}`);
        lmed.push(row.typicalUs); lp99.push(row.p99Us);
      }
      m[`${tool}_2b_median_us`] = summarize(lmed);
      m[`${tool}_2b_p99_us`] = summarize(lp99);
    }

    // Aggregate: the same duration-bound run with 1 QP, then 64 QPs over 8
    // containers at once (4 busy-polling clients: on 2 cores they compete
    // with the routers for CPU), and, to tell router scaling from that, 64
    // QPs from one client.
    const one: number[] = [], many: number[] = [], oneClient: number[] = [];
    for (let i = 0; i < reps; i++) {
      ctx.progress(`inter: aggregate ib_write_bw, 1 QP ${i + 1}/${reps}`);
      one.push(bwGbps(await perftestPair(w, 'b1', 'a1', ['ib_write_bw', '-d', 'ffr0', '-s', '65536', '-D', String(aggSeconds), '--report_gbits']), 65536));
      ctx.progress(`inter: aggregate ib_write_bw, ${AGG_PAIRS * AGG_QPS} QPs over ${AGG_PAIRS * 2} containers ${i + 1}/${reps}`);
      const outs = await Promise.all(Array.from({ length: AGG_PAIRS }, (_, k) =>
        perftestPair(w, `b${k + 1}`, `a${k + 1}`, ['ib_write_bw', '-d', 'ffr0', '-s', '65536', '-q', String(AGG_QPS), '-D', String(aggSeconds), '--report_gbits'], 18520 + k)));
      many.push(outs.reduce((sum, out) => sum + bwGbps(out, 65536), 0));
      ctx.progress(`inter: aggregate ib_write_bw, ${AGG_PAIRS * AGG_QPS} QPs from one container ${i + 1}/${reps}`);
      oneClient.push(bwGbps(await perftestPair(w, 'b1', 'a1', ['ib_write_bw', '-d', 'ffr0', '-s', '65536', '-q', String(AGG_PAIRS * AGG_QPS), '-D', String(aggSeconds), '--report_gbits']), 65536));
    }
    m.ib_write_bw_gbps_64qp_one_client = summarize(oneClient);
    m.ib_write_bw_gbps_1qp = summarize(one);
    m.ib_write_bw_gbps_64qp = summarize(many);
  } finally {
    await w.teardown();
    await killAll();
  }

  const r = res.ratios;
  const get = (k: string): Summary => { const s = m[k]; if (!s) throw new Error(`missing ${k}`); return s; };
  r.ib_write_bw_1048576_vs_iperf3 = ratio(get('ib_write_bw_gbps_1048576'), get('tcp_inter_gbps'));
  for (const tool of ['ib_send_lat', 'ib_write_lat']) {
    r[`${tool}_2b_median_vs_tcp`] = ratio(get(`${tool}_2b_median_us`), get('tcp_inter_lat_2b_median_us'));
    r[`${tool}_2b_p99_vs_tcp`] = ratio(get(`${tool}_2b_p99_us`), get('tcp_inter_lat_2b_p99_us'));
  }
  r.ib_write_bw_64qp_vs_1qp = ratio(get('ib_write_bw_gbps_64qp'), get('ib_write_bw_gbps_1qp'));
  r.ib_write_bw_64qp_one_client_vs_1qp = ratio(get('ib_write_bw_gbps_64qp_one_client'), get('ib_write_bw_gbps_1qp'));
  res.goals.push(
    { what: 'ib_write_bw 1 MiB >= 0.9x iperf3 single stream', value: r.ib_write_bw_1048576_vs_iperf3!, met: r.ib_write_bw_1048576_vs_iperf3! >= 0.9 },
    { what: 'ib_send_lat 2 B median <= 1.2x TCP ping-pong', value: r.ib_send_lat_2b_median_vs_tcp!, met: r.ib_send_lat_2b_median_vs_tcp! <= 1.2 },
    { what: 'aggregate ib_write_bw with 64 QPs >= 0.9x 1 QP', value: r.ib_write_bw_64qp_vs_1qp!, met: r.ib_write_bw_64qp_vs_1qp! >= 0.9 },
  );
  return res;
}
