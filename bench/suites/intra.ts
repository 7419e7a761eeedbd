/**
 * `intra`: two containers on one host through one router, against the
 * baselines of the same run. Ratios are computed pair by pair from medians.
 */
import { readFileSync } from 'node:fs';
import { runPair } from '../../test/harness/apps.js';
import { World } from '../../test/harness/world.js';
import { buildBaselines, memcpyGbps, tcpLoopbackGbps, tcpLoopbackLatency } from '../baselines.js';
import { parseBw, parseLat } from '../perftest-parse.js';
import { summarize, ratio, type Summary } from '../stats.js';
import type { SuiteContext, SuiteResult } from '../suite.js';

const BW_SIZES = [65536, 1048576];

async function perftestPair(w: World, argv: string[]): Promise<string> {
  const p = await runPair({ server: w.c('a'), client: w.c('b'), serverArgv: argv, socket: w.socket, timeoutMs: 120_000 });
  if (p.server.code !== 0 || p.client.code !== 0) {
    throw new Error(`${argv.join(' ')} failed:\n${p.client.stdout}\n${p.client.stderr}\n${p.server.stderr}`);
  }
  return p.client.stdout;
}

/** Router CPU use (user+sys, % of one core) over an idle window. */
async function idleCpuPercent(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  };
  const t0 = ticks();
  await new Promise((r) => setTimeout(r, ms));
  return ((ticks() - t0) / 100 / (ms / 1000)) * 100; // USER_HZ = 100 on Linux
}

export async function intra(ctx: SuiteContext): Promise<SuiteResult> {
  const reps = ctx.quick ? 1 : 3;
  const bwIters = ctx.quick ? 500 : 5000;
  const latIters = ctx.quick ? 2000 : 20000;
  await buildBaselines();
  const res: SuiteResult = { name: 'intra', measurements: {}, ratios: {}, goals: [] };
  const m = res.measurements;

  ctx.progress('intra: baselines');
  for (const size of BW_SIZES) {
    const v: number[] = [];
    for (let i = 0; i < reps; i++) v.push(await memcpyGbps(size, ctx.quick ? 0.3 : 1));
    m[`memcpy_gbps_${size}`] = summarize(v);
  }
  const tcpBw: number[] = [];
  for (let i = 0; i < reps; i++) tcpBw.push(await tcpLoopbackGbps(ctx.quick ? 1 : 3, 25201 + i));
  m.tcp_loopback_gbps = summarize(tcpBw);
  const tcpMed: number[] = [], tcpP99: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await tcpLoopbackLatency(2, latIters, 25301 + i);
    tcpMed.push(r.medianUs); tcpP99.push(r.p99Us);
  }
  m.tcp_lat_2b_median_us = summarize(tcpMed);
  m.tcp_lat_2b_p99_us = summarize(tcpP99);

  const w = await World.create([{ name: 'a' }, { name: 'b' }]);
  try {
    ctx.progress('intra: idle router CPU');
    m.router_idle_cpu_percent = summarize([await idleCpuPercent(w.router!.proc.child.pid!, 3000)]);
    for (const size of BW_SIZES) {
      ctx.progress(`intra: ib_write_bw ${size} B`);
      const v: number[] = [];
      for (let i = 0; i < reps; i++) {
        const out = await perftestPair(w, ['ib_write_bw', '-d', 'ffr0', '-s', String(size), '-n', String(bwIters), '--report_gbits']);
        const row = parseBw(out).find((r) => r.bytes === size);
        if (!row) throw new Error(`ib_write_bw printed no ${size} B row:\n${out}`);
        v.push(row.bwAvgMBps); // with --report_gbits the column is Gb/s
      }
      m[`ib_write_bw_gbps_${size}`] = summarize(v);
    }
    for (const tool of ['ib_send_lat', 'ib_write_lat']) {
      ctx.progress(`intra: ${tool} 2 B`);
      const med: number[] = [], p99: number[] = [];
      for (let i = 0; i < reps; i++) {
        const out = await perftestPair(w, [tool, '-d', 'ffr0', '-s', '2', '-n', String(latIters)]);
        const row = parseLat(out).find((r) => r.bytes === 2);
        if (!row) throw new Error(`${tool} printed no 2 B row:\n${out}`);
        med.push(row.typicalUs); p99.push(row.p99Us);
      }
      m[`${tool}_2b_median_us`] = summarize(med);
      m[`${tool}_2b_p99_us`] = summarize(p99);
    }
  } finally {
    await w.teardown();
  }

  const r = res.ratios;
  const get = (k: string): Summary => { const s = m[k]; if (!s) throw new Error(`missing ${k}`); return s; };
  for (const size of BW_SIZES) {
    r[`ib_write_bw_${size}_vs_memcpy`] = ratio(get(`ib_write_bw_gbps_${size}`), get(`memcpy_gbps_${size}`));
    r[`ib_write_bw_${size}_vs_tcp_loopback`] = ratio(get(`ib_write_bw_gbps_${size}`), get('tcp_loopback_gbps'));
  }
  for (const tool of ['ib_send_lat', 'ib_write_lat']) {
    r[`${tool}_2b_median_vs_tcp`] = ratio(get(`${tool}_2b_median_us`), get('tcp_lat_2b_median_us'));
    r[`${tool}_2b_p99_vs_tcp`] = ratio(get(`${tool}_2b_p99_us`), get('tcp_lat_2b_p99_us'));
  }
  res.goals.push(
    { what: 'ib_write_bw 1 MiB >= 0.6x memcpy', value: r.ib_write_bw_1048576_vs_memcpy!, met: r.ib_write_bw_1048576_vs_memcpy! >= 0.6 },
    { what: 'ib_write_bw 1 MiB >= 5x TCP loopback', value: r.ib_write_bw_1048576_vs_tcp_loopback!, met: r.ib_write_bw_1048576_vs_tcp_loopback! >= 5 },
    { what: 'ib_send_lat 2 B median <= 0.1x TCP loopback', value: r.ib_send_lat_2b_median_vs_tcp!, met: r.ib_send_lat_2b_median_vs_tcp! <= 0.1 },
    { what: 'ib_write_lat 2 B median <= 0.1x TCP loopback', value: r.ib_write_lat_2b_median_vs_tcp!, met: r.ib_write_lat_2b_median_vs_tcp! <= 0.1 },
    { what: 'idle router CPU < 1% of a core', value: get('router_idle_cpu_percent').median, met: get('router_idle_cpu_percent').median < 1 },
  );
  return res;
}
