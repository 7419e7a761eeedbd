// Issue 3, acceptance 1 (perftest part): the eight perftest binaries and the
// variants of the one-host suite between containers on two hosts, each host
// with its own router, joined by the peer transport and an etcd registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPairOk, runPair, type PairOptions, type PairResult } from './harness/apps.js';
import { checkPerftest, PERFTEST_CASES, perftestArgv } from './harness/cases.js';
import { Cluster } from './harness/cluster.js';

describe('perftest across two hosts', () => {
  let w: Cluster;
  beforeAll(async () => {
    w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }], h2: [{ name: 'b1' }] } });
  });
  afterAll(async () => { await w?.teardown(); });

  const pair = (o: Omit<PairOptions, 'server' | 'client'>): Promise<PairResult> =>
    runPair({ server: w.c('a1'), client: w.c('b1'), serverSocket: w.socketOf('a1'), clientSocket: w.socketOf('b1'), ...o });

  it.each(PERFTEST_CASES)('$label', async (c) => {
    const p = await pair({ serverArgv: perftestArgv(c), timeoutMs: 150_000 });
    expectPairOk(p, w.logs);
    checkPerftest(p, c);
  });

  it('carried everything over the peer connection (ffctl peers)', async () => {
    const r = await w.ctl.get('h2')!.ok(['peers'], true);
    const peers = r.json as { host: string; connectionsUp: number; pool: number; bytesOut: number; bytesIn: number }[];
    expect(peers.map((p) => p.host)).toEqual(['h1']);
    expect(peers[0]!.connectionsUp).toBe(1);
    expect(peers[0]!.bytesOut).toBeGreaterThan(100 * 1024 * 1024);
    expect(peers[0]!.bytesIn).toBeGreaterThan(100 * 1024 * 1024);
  });
});
