/**
 * The cross-host curve of the `scale` suite: one pair (a1 on h1 -> b1 on h2)
 * with more and more virtual QPs, counting the physical connections between
 * the two routers while it runs. They should stay at the pool size however
 * many virtual QPs share them.
 */
import { nsExec } from '../../test/harness/apps.js';
import { Cluster, PEER_PORT } from '../../test/harness/cluster.js';
import { parseMetrics, sumOf } from '../../test/harness/metrics.js';
import type { SuiteContext } from '../suite.js';
import { loadedRun } from './scale-load.js';
import { pushPoint, type Curve, type ScalePlan } from './scale-plan.js';

/** Established TCP connections of the peer transport in a host namespace (either end on the peer port). */
async function peerTcpConnections(hostNs: string): Promise<number> {
  const r = await nsExec(hostNs, ['ss', '-Htn', 'state', 'established', `( sport = :${PEER_PORT} or dport = :${PEER_PORT} )`]);
  if (r.code !== 0) throw new Error(`ss in ${hostNs} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

/** Runs the cross-host QP curve of `plan`; per x: gbps, conns (h1's ffr_peer_connections for h2), tcp (ss in h1). */
export async function crossCurve(ctx: SuiteContext, plan: ScalePlan): Promise<Curve> {
  ctx.progress(`scale: two hosts, etcd, two routers (pool ${plan.pool})`);
  const w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }], h2: [{ name: 'b1' }] }, pool: plan.pool });
  try {
    const h1 = w.router('h1');
    const hostNs = w.net.hosts.get('h1')!.ns;
    const curve: Curve = new Map();
    const placement = { server: w.c('b1'), client: w.c('a1'), serverSocket: w.socketOf('b1'), clientSocket: w.socketOf('a1'), logs: w.logs };
    const h1Metrics = async () => parseMetrics(await h1.metricsText());
    for (const p of plan.cross) {
      for (let i = 0; i < p.reps; i++) {
        ctx.progress(`scale: across hosts, ${p.x} QP${p.x > 1 ? 's' : ''}, ib_write_bw ${plan.qpSize} B -D ${p.seconds} ${i + 1}/${p.reps}`);
        let conns = Number.NaN, tcp = Number.NaN;
        const r = await loadedRun({
          pairs: [{ placement, port: 18515, client: 'a1' }], size: plan.qpSize,
          argv: ['-s', String(plan.qpSize), '-t', String(plan.qpTxDepth), '-q', String(p.x), '-D', String(p.seconds), '-f', String(p.margin)],
          routerPid: h1.proc.child.pid!, metrics: h1Metrics, cpuWindowMs: plan.cpuWindowMs, startTimeoutMs: 60_000,
          during: async () => {
            [conns, tcp] = await Promise.all([h1Metrics().then((s) => sumOf(s, 'ffr_peer_connections', { peer: 'h2' })), peerTcpConnections(hostNs)]);
          },
        });
        pushPoint(curve, p.x, { gbps: r.gbps, conns, tcp, cpu: r.cpuPercent! });
      }
    }
    return curve;
  } finally {
    await w.teardown();
  }
}
