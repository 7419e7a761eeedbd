// Issue 3, acceptance 2: many containers and QPs between two hosts share
// exactly the configured number of physical connections between the routers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, nsExec, parsePerftest, runPair, startApp, waitListening, type PairResult } from './harness/apps.js';
import { sleep, type Proc } from './harness/proc.js';
import { checkPingpong } from './harness/cases.js';
import { Cluster, PEER_PORT } from './harness/cluster.js';
import { parseMetrics, sumOf } from './harness/metrics.js';

const PER_HOST = 8;
const QPS_PER_PAIR = 8;  // 8 container pairs x 8 = 64 QP pairs
const POOL = 2;
const SIZE = 4096;

describe('multiplexing: 8 containers per host, 64 QP pairs, one pool of connections', () => {
  let w: Cluster;
  beforeAll(async () => {
    const names = (p: string) => Array.from({ length: PER_HOST }, (_, i) => ({ name: `${p}${i + 1}` }));
    w = await Cluster.create({ hosts: { h1: names('a'), h2: names('b') }, pool: POOL, leaseTtlS: 10 });
  });
  afterAll(async () => { await w?.teardown(); });

  it('64 concurrent verified pingpongs complete over exactly POOL connections', async () => {
    const runs: Promise<{ label: string; p: PairResult }>[] = [];
    for (let i = 1; i <= PER_HOST; i++) {
      for (let q = 0; q < QPS_PER_PAIR; q++) {
        const port = 18600 + q;
        // -e: completion channels, so 128 processes sleep instead of spinning on 2 cores
        const argv = ['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-e', '-c', '-n', '200', '-s', String(SIZE), '-p', String(port)];
        runs.push(runPair({
          server: w.c(`a${i}`), client: w.c(`b${i}`), serverArgv: argv, port,
          serverSocket: w.socketOf(`a${i}`), clientSocket: w.socketOf(`b${i}`), timeoutMs: 150_000,
        }).then((p) => ({ label: `a${i}<->b${i} port ${port}`, p })));
      }
    }
    const results = await Promise.all(runs);
    const failed = results.filter(({ p }) => p.server.code !== 0 || p.client.code !== 0);
    expect(failed.map((f) => `${f.label}\n${describePair(f.p)}`).join('\n\n') || 'none', w.logs()).toBe('none');
    for (const { p } of results) checkPingpong(p, SIZE, 200);

    for (const [host, other] of [['h1', 'h2'], ['h2', 'h1']] as const) {
      const peers = (await w.ctl.get(host)!.ok(['peers'], true)).json as { host: string; connectionsUp: number; pool: number; framesOut: number }[];
      expect(peers.map((p) => [p.host, p.connectionsUp, p.pool])).toEqual([[other, POOL, POOL]]);
      // 64 QP pairs x 200 round trips each way went through them
      expect(peers[0]!.framesOut).toBeGreaterThan(64 * 200);
      const m = parseMetrics(await w.router(host).metricsText());
      expect(sumOf(m, 'ffr_peer_connections', { peer: other })).toBe(POOL);
      expect(sumOf(m, 'ffr_peer_bytes_total', { peer: other, direction: 'out' })).toBeGreaterThan(64 * 200 * SIZE);
      // The kernel's view: exactly POOL established TCP connections on the peer port.
      const ss = await nsExec(w.net.hosts.get(host)!.ns, ['ss', '-Htn', 'state', 'established', `( sport = :${PEER_PORT} or dport = :${PEER_PORT} )`]);
      expect(ss.stdout.trim().split('\n').filter(Boolean), ss.stdout).toHaveLength(POOL);
    }
  });
});

describe('per-QP flow control: a receiver that stops posting costs only its own QP', () => {
  let w: Cluster;
  beforeAll(async () => {
    w = await Cluster.create({ hosts: { h1: [{ name: 'a1' }, { name: 'a2' }], h2: [{ name: 'b1' }, { name: 'b2' }] } });
  });
  afterAll(async () => { await w?.teardown(); });

  const peerBytesOut = async (host: string, peer: string): Promise<number> =>
    sumOf(parseMetrics(await w.router(host).metricsText()), 'ffr_peer_bytes_total', { peer, direction: 'out' });

  it('a stopped receiver meets RNR probes, not resent messages, and a pair sharing the connection runs', async () => {
    // b1 (h2) sends 64 KiB messages to a1 (h1), which is then frozen and
    // posts no more receives: b1's QP goes into endless RNR (rnr_retry 7).
    const argv = ['ib_send_bw', '-d', 'ffr0', '-F', '-s', '65536', '-D', '40', '-p', '18801'];
    const server = startApp(w.c('a1'), argv, { socket: w.socketOf('a1'), timeoutMs: 90_000, label: 'receiver a1' });
    let client: Proc | undefined;
    try {
      await waitListening(w.c('a1'), 18801, 20_000, server);
      client = startApp(w.c('b1'), [...argv, w.c('a1').ip], { socket: w.socketOf('b1'), timeoutMs: 90_000, label: 'sender b1' });
      await sleep(2_000);
      expect(server.exited || client.exited, `${server.describe()}\n${client.describe()}`).toBe(false);
      server.killGroup('SIGSTOP');
      await sleep(1_000);
      // With the receiver frozen, the sender's QP may cost the shared
      // connection a probe header per RNR period, not its 64 KiB messages.
      const before = await peerBytesOut('h2', 'h1');
      await sleep(2_000);
      const wasted = (await peerBytesOut('h2', 'h1')) - before;
      expect(wasted, 'bytes h2 sent to h1 in 2 s while its only sender met RNR').toBeLessThan(2 * 1024 * 1024);
      // Another pair over the same connection runs normally meanwhile.
      const p = await runPair({ server: w.c('a2'), client: w.c('b2'), port: 18802, timeoutMs: 60_000,
        serverArgv: ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '3', '-p', '18802'], serverSocket: w.socketOf('a2'), clientSocket: w.socketOf('b2') });
      expect(p.server.code, describePair(p, w.logs())).toBe(0);
      expect(p.client.code, describePair(p, w.logs())).toBe(0);
      const gbps = parsePerftest(p.client.stdout)?.rows[0]?.values[1];
      expect(gbps, describePair(p)).toBeGreaterThan(0);
      expect(client.exited, 'the RNR-waiting sender is still waiting, not failed').toBe(false);
    } finally {
      server.killGroup('SIGKILL');
      server.killGroup('SIGCONT');
      client?.killGroup('SIGKILL');
    }
  });
});
