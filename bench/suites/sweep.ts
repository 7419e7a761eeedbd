/**
 * `sweep`: the eight perftest tools (ib_{send,write,read,atomic}_{bw,lat})
 * over message sizes 2 B..8 MiB and 1..64 QPs, between two containers on one
 * host (one router) and on two hosts (a router each, client on h1, server on
 * h2), each against baselines measured between the same two containers in
 * the same run. What runs, and how often, is in sweep-plan.ts; names in
 * sweep-names.ts; charts and ratios in sweep-report.ts.
 */
import { Cluster } from '../../test/harness/cluster.js';
import { World } from '../../test/harness/world.js';
import { buildBaselines } from '../baselines.js';
import type { SuiteContext, SuiteResult } from '../suite.js';
import { Samples } from './sweep-names.js';
import { plan } from './sweep-plan.js';
import { sweepResult } from './sweep-report.js';
import { measurePlace } from './sweep-run.js';

/** Runs the sweep at both places (intra first, each world torn down before the next) and builds the result. */
export async function sweep(ctx: SuiteContext): Promise<SuiteResult> {
  const p = plan(ctx.quick);
  await buildBaselines();
  const s = new Samples();

  ctx.progress('sweep intra: one host, one router');
  const w = await World.create([{ name: 'a' }, { name: 'b' }]);
  try {
    await measurePlace('intra', { server: w.c('a'), client: w.c('b'), serverSocket: w.socket, clientSocket: w.socket, logs: w.logs }, p, s, ctx.progress);
  } finally {
    await w.teardown();
  }

  ctx.progress('sweep inter: two hosts, etcd, two routers');
  const c = await Cluster.create({ hosts: { h1: [{ name: 'a1' }], h2: [{ name: 'b1' }] } });
  try {
    // client on h1, server on h2: every byte crosses both routers and the wan
    const pair = { server: c.c('b1'), client: c.c('a1'), serverSocket: c.socketOf('b1'), clientSocket: c.socketOf('a1'), logs: c.logs };
    await measurePlace('inter', pair, p, s, ctx.progress);
  } finally {
    await c.teardown();
  }
  return sweepResult(s, p);
}
