// Issue 3, acceptance 3: faults between hosts. A cut link or a dead router
// ends the QPs that used it with IBV_WC_RETRY_EXC_ERR (status 12) within
// the RC timeout while other traffic goes on; etcd going away leaves
// established QPs working and fails new resolutions with a clear error; a
// restarted router re-registers and serves new sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, parsePerftest, runPair, startApp, waitListening, type PairResult } from './harness/apps.js';
import { Cluster } from './harness/cluster.js';
import type { Proc } from './harness/proc.js';
import { sleep } from './harness/proc.js';

// perftest's RC timeout (14: 67 ms) and retry count (7): a QP gives up
// about 0.54 s after its last acknowledgement. The bound leaves room for a
// loaded 2-core machine.
const ERROR_BOUND_MS = 10_000;
const RETRY_EXC = /Failed status 12:/;

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('faults across hosts', () => {
  let w: Cluster;
  beforeAll(async () => {
    w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }, { name: 'a2' }, { name: 'a3' }], h2: [{ name: 'b1' }] } });
  });
  afterAll(async () => { await w?.teardown(); });

  const crossPair = (argv: string[], port = 18515, timeoutMs = 60_000): Promise<PairResult> =>
    runPair({ server: w.c('a1'), client: w.c('b1'), serverArgv: [...argv, '-p', String(port)], port,
      serverSocket: w.socketOf('a1'), clientSocket: w.socketOf('b1'), timeoutMs, graceMs: 3_000 });

  /** A long bidirectional write run across the hosts, started and given time to get going. */
  async function startLongRun(port: number): Promise<{ server: Proc; client: Proc }> {
    const argv = ['ib_write_bw', '-d', 'ffr0', '-F', '-b', '-D', '60', '-p', String(port)];
    const server = startApp(w.c('a1'), argv, { socket: w.socketOf('a1'), timeoutMs: 90_000, label: 'long server a1' });
    await waitListening(w.c('a1'), port, 20_000, server);
    const client = startApp(w.c('b1'), [...argv, w.c('a1').ip], { socket: w.socketOf('b1'), timeoutMs: 90_000, label: 'long client b1' });
    await sleep(2_500);
    expect(server.exited || client.exited, `the long run ended early\n${server.describe()}\n${client.describe()}`).toBe(false);
    return { server, client };
  }

  async function peersUp(host: string): Promise<boolean> {
    const r = await w.ctl.get(host)!.raw(['peers'], true);
    const list = r.json as { connectionsUp: number; pool: number }[] | undefined;
    return !!list && list.length > 0 && list.every((p) => p.connectionsUp === p.pool);
  }

  it('a cut link ends cross-host QPs with RETRY_EXC_ERR in time; same-host traffic goes on; the link heals', async () => {
    const { server, client } = await startLongRun(18601);
    const cutAt = Date.now();
    w.net.linkDown('h2');
    try {
      // The same-host pair on h1 runs while the link is down.
      const local = await runPair({ server: w.c('a2'), client: w.c('a3'), serverArgv: ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '3', '-p', '18602'],
        port: 18602, socket: w.socketOf('a2'), timeoutMs: 60_000 });
      expectPairOk(local, w.logs);
      expect(parsePerftest(local.client.stdout), describePair(local)).toBeDefined();
      // Both sides posted writes: both see the retry counter run out.
      for (const p of [server, client]) {
        const r = await p.waitExit(Math.max(1, ERROR_BOUND_MS - (Date.now() - cutAt)));
        expect(r, `${p.label} did not end within ${ERROR_BOUND_MS} ms of the cut\n${p.describe()}\n${w.logs()}`).toBeTruthy();
        expect(r!.code, p.describe()).not.toBe(0);
        expect(r!.stdout + r!.stderr, `${p.label}: no RETRY_EXC_ERR completion\n${p.describe()}`).toMatch(RETRY_EXC);
      }
    } finally {
      server.killGroup('SIGKILL');
      client.killGroup('SIGKILL');
      w.net.linkUp('h2');
    }
    await waitFor('peer connections after linkUp', async () => (await peersUp('h1')) && (await peersUp('h2')), 30_000);
    // The peer connection outlived a short cut, and TCP resumes at its own
    // (backed-off) retransmission time: new traffic works within a bound.
    let last: PairResult | undefined;
    await waitFor('a cross-host pingpong after the link came back', async () => {
      last = await crossPair(['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-c', '-n', '200', '-s', '4096'], 18603, 20_000);
      return last.server.code === 0 && last.client.code === 0;
    }, 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${last ? describePair(last, w.logs()) : ''}`); });
  });

  it('stopping etcd keeps established QPs working, fails new resolutions clearly, and recovers', async () => {
    const argv = ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '6', '-p', '18611'];
    const server = startApp(w.c('a1'), argv, { socket: w.socketOf('a1'), timeoutMs: 60_000, label: 'etcd-run server' });
    await waitListening(w.c('a1'), 18611, 20_000, server);
    const client = startApp(w.c('b1'), [...argv, w.c('a1').ip], { socket: w.socketOf('b1'), timeoutMs: 60_000, label: 'etcd-run client' });
    await sleep(1_500);
    await w.etcd.stop();
    try {
      // The router notices and says so; a new connection cannot be resolved.
      await waitFor('h2 registry unhealthy', async () => {
        const r = await w.ctl.get('h2')!.raw(['info'], true);
        return (r.json as { registryHealthy?: boolean } | undefined)?.registryHealthy === false;
      }, 20_000);
      const fresh = await crossPair(['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-n', '10'], 18612, 30_000);
      expect(fresh.client.code, describePair(fresh)).not.toBe(0);
      // Whichever side resolved first (the server connects before it answers) refused with EAGAIN.
      expect(`${w.router('h1').logs()}\n${w.router('h2').logs()}`, describePair(fresh, w.logs())).toMatch(/failed: EAGAIN: .*registry unavailable.*etcd/);
      // The run established before the outage completes normally.
      const [sr, cr] = await Promise.all([server.done, client.done]);
      expect(sr.code, `${describePair({ server: sr, client: cr })}\n${w.logs()}`).toBe(0);
      expect(cr.code, describePair({ server: sr, client: cr })).toBe(0);
      expect(parsePerftest(cr.stdout), describePair({ server: sr, client: cr })).toBeDefined();
    } finally {
      server.killGroup('SIGKILL');
      client.killGroup('SIGKILL');
      await w.etcd.restart();
    }
    await waitFor('registries healthy again', async () => {
      const all = await Promise.all(['h1', 'h2'].map((h) => w.ctl.get(h)!.raw(['info'], true)));
      return all.every((r) => (r.json as { registryHealthy?: boolean } | undefined)?.registryHealthy === true);
    }, 30_000);
    const p = await crossPair(['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-c', '-n', '200', '-s', '4096'], 18613);
    expectPairOk(p, w.logs);
  });

  it('a killed router ends its peers\' QPs with RETRY_EXC_ERR; restarted, it re-registers and serves', async () => {
    const before = (await w.ctl.get('h2')!.ok(['info'], true)).json as { hostId: number };
    const { server, client } = await startLongRun(18621);
    const killedAt = Date.now();
    await w.router('h2').stop('SIGKILL');
    try {
      const r = await server.waitExit(ERROR_BOUND_MS);
      expect(r, `a1 did not end within ${ERROR_BOUND_MS} ms of the kill\n${server.describe()}\n${w.logs()}`).toBeTruthy();
      expect(r!.code).not.toBe(0);
      expect(r!.stdout + r!.stderr, `a1: no RETRY_EXC_ERR completion\n${server.describe()}`).toMatch(RETRY_EXC);
      expect(Date.now() - killedAt).toBeLessThan(ERROR_BOUND_MS);
    } finally {
      server.killGroup('SIGKILL');
      client.killGroup('SIGKILL');
    }
    await w.startRouter('h2');
    await waitFor('peer connections to the restarted router', async () => (await peersUp('h1')) && (await peersUp('h2')), 30_000);
    const info = (await w.ctl.get('h2')!.ok(['info'], true)).json as { host: string; hostId: number };
    expect(info.host).toBe('h2');
    expect(info.hostId).toBe(before.hostId);  // the same cluster identity as before
    const p = await crossPair(['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-c', '-n', '200', '-s', '4096'], 18623);
    expectPairOk(p, w.logs);
  });
});
