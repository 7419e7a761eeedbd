// Acceptance 5: faults. A container's app killed mid-run, and the router
// stopped (SIGTERM, SIGKILL) under running apps: errors within bounds, never
// a hang, nothing of the dead left in the router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, parsePerftest, runPair, startApp, waitListening, type PairOptions } from './harness/apps.js';
import { metrics, sumOf } from './harness/metrics.js';
import { describeOutput, sleep, type Proc } from './harness/proc.js';
import { World, type ContainerDef } from './harness/world.js';

const DEFS: ContainerDef[] = [
  { name: 'k1', tenant: 1 }, { name: 'k2', tenant: 1 },
  { name: 'p1', tenant: 1 }, { name: 'p2', tenant: 1 },
];
const SURVIVOR_BOUND_MS = 20_000;
const ROUTER_STOP_BOUND_MS = 15_000;
const ERROR_TEXT = /completion|status|error|fail|couldn't|unable/i;

/** Starts a perftest pair and resolves once the client runs its test loop. */
async function startRunning(w: World, server: string, client: string, argv: string[]): Promise<{ srv: Proc; cli: Proc }> {
  const srv = startApp(w.c(server), argv, { socket: w.socket, timeoutMs: 120_000, label: `${server}: ${argv[0]}` });
  await waitListening(w.c(server), 18515, 20_000, srv);
  const cli = startApp(w.c(client), [...argv, w.c(server).ip], { socket: w.socket, timeoutMs: 120_000, label: `${client}: ${argv[0]}` });
  const ended = () => `the ${argv[0]} pair ended before the fault was injected\nSERVER\n${srv.describe()}\n\nCLIENT\n${cli.describe()}\n\n${w.logs()}`;
  // perftest prints the table header right before its measurement loop, and
  // the router shows both QPs connected
  await cli.waitForOutput(/#bytes/, 30_000);
  // perftest takes the passive side of a one-way bandwidth test only to RTR
  await eventually(`${argv[0]} QPs: ${client} in RTS, ${server} in RTR or RTS`, async () => {
    if (srv.exited || cli.exited) throw new Error(ended());
    const qps = await w.ctl!.qps();
    const has = (n: string, re: RegExp) => qps.some((q) => q.container === n && re.test(String(q.state)));
    return has(client, /^RTS$/i) && has(server, /^RT[RS]$/i);
  }, 10_000, async () => `qps ${JSON.stringify(await w.ctl!.qps())}\n${srv.describe()}\n${cli.describe()}`);
  await sleep(1000);
  if (srv.exited || cli.exited) throw new Error(ended());
  return { srv, cli };
}

async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs: number, detail: () => Promise<string> | string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(200);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms\n${await detail()}`);
}

describe('faults', () => {
  let w: World;
  beforeAll(async () => { w = await World.create(DEFS); });
  afterAll(async () => { await w?.teardown(); });

  it('kill -9 of one app mid ib_write_bw: the peer errors out in bounds, the router serves others and holds nothing of the dead', async () => {
    const pairB: PairOptions = {
      server: w.c('p1'), client: w.c('p2'), socket: w.socket, timeoutMs: 90_000,
      serverArgv: ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '6', '-s', '65536'],
    };
    const running = await startRunning(w, 'k1', 'k2', ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '15', '-s', '65536']);
    // a second pair alongside
    const alongside = runPair(pairB);
    await sleep(1500);
    const before = await w.ctl!.sessions();
    expect(before.some((s) => s.container === 'k1'), JSON.stringify(before)).toBe(true);

    const killedAt = Date.now();
    running.srv.signal('SIGKILL'); // the app itself (ip netns exec and env exec'd into it)
    const dead = await running.srv.waitExit(5000);
    expect(dead?.signal).toBe('SIGKILL');

    // the surviving peer terminates within the bound, with an error
    const surv = await running.cli.waitExit(SURVIVOR_BOUND_MS);
    const ctx = () => `SURVIVOR\n${running.cli.describe()}\n\n${w.logs()}`;
    expect(surv, `survivor still running after ${SURVIVOR_BOUND_MS} ms\n${ctx()}`).toBeDefined();
    expect(Date.now() - killedAt).toBeLessThan(SURVIVOR_BOUND_MS);
    expect(surv!.code, ctx()).not.toBe(0);
    expect(surv!.stdout + surv!.stderr, ctx()).toMatch(ERROR_TEXT);
    // the router wrote it error completions (retry exceeded / flushed), not successes only
    const failedCompletions = (await metrics(w.router!.metricsPort))
      .filter((s) => s.name === 'ffr_completions_total' && s.labels.container === 'k2' && s.labels.status !== 'success')
      .reduce((a, s) => a + s.value, 0);
    expect(failedCompletions, `error completions of k2\n${ctx()}`).toBeGreaterThan(0);

    // the pair alongside was not disturbed
    const b = await alongside;
    expectPairOk(b, w.logs);
    expect(parsePerftest(b.client.stdout)?.rows.length, describePair(b)).toBeGreaterThan(0);

    // nothing of the dead session remains: sessions, QPs, metrics
    await eventually('no session, QP or object of k1', async () => {
      const [ss, qs, m] = await Promise.all([w.ctl!.sessions(), w.ctl!.qps(), metrics(w.router!.metricsPort)]);
      return !ss.some((s) => s.container === 'k1') && !qs.some((q) => q.container === 'k1') && sumOf(m, 'ffr_objects', { container: 'k1' }) === 0;
    }, 10_000, async () => `sessions ${JSON.stringify(await w.ctl!.sessions())}\nqps ${JSON.stringify(await w.ctl!.qps())}\n${w.logs()}`);

    // the router still serves: a new run afterwards, on the other pair and on the pair that lost its app
    const after1 = await runPair({ ...pairB, serverArgv: ['ib_write_bw', '-d', 'ffr0', '-F', '-n', '1000'] });
    expectPairOk(after1, w.logs);
    const after2 = await runPair({ ...pairB, server: w.c('k1'), client: w.c('k2'), serverArgv: ['ib_send_bw', '-d', 'ffr0', '-F', '-n', '1000'] });
    expectPairOk(after2, w.logs);
    expect(parsePerftest(after2.client.stdout)?.rows.length).toBeGreaterThan(0);

    // and once every app is gone the router holds no object at all
    await eventually('no objects left', async () => sumOf(await metrics(w.router!.metricsPort), 'ffr_objects') === 0 && (await w.ctl!.sessions()).length === 0,
      10_000, async () => `sessions ${JSON.stringify(await w.ctl!.sessions())}\n${w.logs()}`);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`router stopped with ${signal} under running apps: every app gets an error within ${ROUTER_STOP_BOUND_MS / 1000} s, no hang`, async () => {
      if (!w.router?.alive) await w.restartRouter(DEFS);
      // a polling pair and an event-driven pair (ibv_get_cq_event must wake up too)
      const polling = await startRunning(w, 'k1', 'k2', ['ib_write_bw', '-d', 'ffr0', '-F', '-D', '60', '-s', '4096']);
      // perftest refuses -D with -e, so a count it cannot finish before the
      // fault: 2 M sends took 1.1 s once the data plane got faster
      const events = await startRunning(w, 'p1', 'p2', ['ib_send_bw', '-d', 'ffr0', '-F', '-e', '-n', '100000000', '-s', '4096']);
      const procs = [polling.srv, polling.cli, events.srv, events.cli];
      const t0 = Date.now();
      const stopped = w.router!.stop(signal, 10_000);
      const results = await Promise.all(procs.map((p) => p.waitExit(ROUTER_STOP_BOUND_MS)));
      const elapsed = Date.now() - t0;
      const routerResult = await stopped;
      const all = () => procs.map((p) => p.describe()).join('\n\n') + `\n\nROUTER\n${describeOutput(routerResult)}`;
      results.forEach((r, i) => expect(r, `${procs[i]!.label} still running ${ROUTER_STOP_BOUND_MS} ms after ${signal}\n${all()}`).toBeDefined());
      expect(elapsed).toBeLessThan(ROUTER_STOP_BOUND_MS + 1000);
      // the active sides saw errors (they cannot have finished a 60 s run)
      for (const p of [polling.cli, events.cli]) {
        const r = results[procs.indexOf(p)]!;
        expect(r.code, `${p.label}\n${all()}`).not.toBe(0);
        expect(r.stdout + r.stderr, `${p.label}\n${all()}`).toMatch(ERROR_TEXT);
      }
      if (signal === 'SIGTERM') {
        // a graceful stop finishes on its own (the harness did not have to SIGKILL it)
        expect(routerResult.signal === null || routerResult.signal === 'SIGTERM', all()).toBe(true);
      }
      // a new router serves the same containers again
      await w.restartRouter(DEFS);
      const again = await runPair({ server: w.c('k1'), client: w.c('k2'), socket: w.socket, timeoutMs: 60_000, serverArgv: ['ib_write_bw', '-d', 'ffr0', '-F', '-n', '200'] });
      expectPairOk(again, w.logs);
    });
  }
});
