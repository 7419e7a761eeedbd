// Issue 3, acceptance 1 (pingpongs and the project's verbs program): the
// real-client lines of the one-host suite between containers on two hosts,
// each host with its own router, joined by the peer transport and etcd.
// perftest is in cross-host-perftest.test.ts (kept apart so the ASan job can
// run this file in reasonable time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, parseTap, runPair, type PairOptions, type PairResult } from './harness/apps.js';
import { checkPingpong, PINGPONG_CASES, pingpongArgv, VERBS_CHECKS } from './harness/cases.js';
import { Cluster } from './harness/cluster.js';
import { PATHS, requireProducts } from './harness/paths.js';

// More than one connection per peer: a QP pair's two directions must still
// share one, or a SEND's ACK and the answer to it could arrive out of order
// (verbs_check's send_cqe_before_reply sees that).
const POOL = 4;

describe('real clients across two hosts', () => {
  let w: Cluster;
  beforeAll(async () => {
    requireProducts('verbsCheck');
    w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }], h2: [{ name: 'b1' }] }, pool: POOL });
  });
  afterAll(async () => { await w?.teardown(); });

  const pair = (o: Omit<PairOptions, 'server' | 'client'>): Promise<PairResult> =>
    runPair({ server: w.c('a1'), client: w.c('b1'), serverSocket: w.socketOf('a1'), clientSocket: w.socketOf('b1'), ...o });

  it.each(PINGPONG_CASES)('$label', async (c) => {
    const p = await pair({ serverArgv: pingpongArgv(c), timeoutMs: 90_000 });
    expectPairOk(p, w.logs);
    checkPingpong(p, c.size);
  });

  for (const addressing of [{ label: 'LID', flags: [] as string[] }, { label: 'GID', flags: ['-g', '0'] }]) {
    it(`verbs_check with ${addressing.label} addressing: data, atomics and error semantics`, async () => {
      const p = await pair({
        timeoutMs: 120_000,
        serverArgv: [PATHS.verbsCheck, '--server', '-d', 'ffr0', ...addressing.flags],
        clientArgvFn: (ip) => [PATHS.verbsCheck, '--client', ip, '-d', 'ffr0', ...addressing.flags],
      });
      const tap = parseTap(p.client.stdout);
      expect(tap.notOk, describePair(p, w.logs())).toEqual([]);
      for (const name of VERBS_CHECKS) expect(tap.ok, `no "ok ${name}" line\n${describePair(p)}`).toContain(name);
      expect(p.client.code, describePair(p, w.logs())).toBe(0);
      expect(p.server.code, describePair(p, w.logs())).toBe(0);
    });
  }

  it('carried everything over the pool of peer connections (ffctl peers)', async () => {
    const r = await w.ctl.get('h2')!.ok(['peers'], true);
    const peers = r.json as { host: string; connectionsUp: number; pool: number; bytesOut: number; bytesIn: number }[];
    expect(peers.map((p) => p.host)).toEqual(['h1']);
    expect(peers[0]!.connectionsUp).toBe(POOL);
    expect(peers[0]!.bytesOut).toBeGreaterThan(10 * 1024 * 1024);
    expect(peers[0]!.bytesIn).toBeGreaterThan(10 * 1024 * 1024);
  });
});
