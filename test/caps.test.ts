// Rate caps (issue 9, acceptance 2 and 3 on one host): a container or tenant
// capped with ffctl measures no more than its cap plus 5 % with unmodified
// perftest, READs are charged to the requester, a message-rate cap holds for
// 2-byte sends, and a cap changed while traffic runs shows within a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPairOk, parsePerftest, runPair, startApp, waitListening } from './harness/apps.js';
import { checkPingpong, expectVerbsCheck } from './harness/cases.js';
import { parseMetrics, sumOf } from './harness/metrics.js';
import { World } from './harness/world.js';

/** Average bandwidth (Gbit/s, decimal) and message rate (Mpps) of a perftest -D run with --report_gbits. */
function bw(out: string): { gbps: number; mpps: number } {
  const t = parsePerftest(out);
  const row = t?.rows.at(-1);
  if (!t || !row || !/Gb\/sec/.test(t.header)) throw new Error(`no Gb/sec table in:\n${out}`);
  // #bytes #iterations BW peak[Gb/sec] BW average[Gb/sec] MsgRate[Mpps]
  return { gbps: row.values[1]!, mpps: row.values[2]! };
}

describe('rate caps on one host', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 's1', tenant: 'tc' }, { name: 'c1', tenant: 'tc' }]);
  });
  afterAll(async () => { await w?.teardown(); });

  const perf = async (bin: string, extra: string[]): Promise<{ gbps: number; mpps: number }> => {
    const argv = [bin, '-d', 'ffr0', '-F', '--report_gbits', ...extra];
    const p = await runPair({ server: w.c('s1'), client: w.c('c1'), serverArgv: argv, socket: w.socket, timeoutMs: 60_000 });
    expectPairOk(p, w.logs);
    const r = bw(p.client.stdout);
    // the figures, for the log of the run (the assertions are on them)
    console.log(`${argv.join(' ')}: ${r.gbps} Gbit/s, ${r.mpps} Mpps`);
    return r;
  };
  const set = (scope: 'container' | 'tenant', name: string, ...fields: string[]) => w.ctl!.ok([scope, 'set', name, ...fields]);

  it('ib_write_bw capped at 1, 4 and 16 Gbit/s stays under the cap plus 5 %, and the cap binds', async () => {
    const free = await perf('ib_write_bw', ['-s', '65536', '-D', '2']);
    expect(free.gbps, 'the uncapped rate must be above the largest cap for the test to mean anything').toBeGreaterThan(16 * 1.5);
    for (const cap of [1, 4, 16]) {
      await set('container', 'c1', '--rate', `${cap}Gbit`);
      const r = await perf('ib_write_bw', ['-s', '65536', '-D', '5']);
      expect(r.gbps, `cap ${cap} Gbit/s`).toBeLessThanOrEqual(cap * 1.05);
      expect(r.gbps, `cap ${cap} Gbit/s: far below the cap means the cap, not the app, is wrong`).toBeGreaterThan(cap * 0.8);
    }
    expect(w.logs()).toMatch(/container c1: rate cap 2000000000 B\/s/);
    // 3 capped runs of 5 s, each far below the free rate: most of that time was spent throttled
    const m = parseMetrics(await w.router!.metricsText());
    expect(sumOf(m, 'ffr_throttled_seconds_total', { tenant: 'tc', container: 'c1' })).toBeGreaterThan(5);
    expect(sumOf(m, 'ffr_throttled_seconds_total', { container: 's1' })).toBe(0);
  });

  it('ib_read_bw is charged to the requester, ib_send_bw to the sender', async () => {
    await set('container', 'c1', '--rate', '4Gbit');
    for (const bin of ['ib_read_bw', 'ib_send_bw']) {
      const r = await perf(bin, ['-s', '65536', '-D', '5']);
      expect(r.gbps, bin).toBeLessThanOrEqual(4 * 1.05);
      expect(r.gbps, bin).toBeGreaterThan(4 * 0.8);
    }
  });

  it('a message-rate cap holds for 2-byte sends, and a tenant cap holds for its containers', async () => {
    await set('container', 'c1', '--rate', 'none', '--msg-rate', '20000');
    const m = await perf('ib_send_bw', ['-s', '2', '-D', '5']);
    expect(m.mpps).toBeLessThanOrEqual(0.02 * 1.05);
    expect(m.mpps).toBeGreaterThan(0.02 * 0.8);
    await w.ctl!.ok(['container', 'unset', 'c1']);
    await set('tenant', 'tc', '--rate', '2Gbit');
    const t = await perf('ib_write_bw', ['-s', '65536', '-D', '5']);
    expect(t.gbps).toBeLessThanOrEqual(2 * 1.05);
    expect(t.gbps).toBeGreaterThan(2 * 0.8);
    await w.ctl!.ok(['tenant', 'rm', 'tc']);
  });

  it('a cap changed while ib_write_bw runs shows in the measured rate within a second', async () => {
    await set('container', 'c1', '--rate', '1Gbit');
    const argv = ['ib_write_bw', '-d', 'ffr0', '-F', '--report_gbits', '-s', '65536', '-D', '1', '--run_infinitely'];
    const server = startApp(w.c('s1'), argv, { socket: w.socket, timeoutMs: 60_000, label: 'server' });
    await waitListening(w.c('s1'), 18515, 20_000, server);
    const client = startApp(w.c('c1'), [...argv, w.c('s1').ip], { socket: w.socket, timeoutMs: 60_000, label: 'client' });
    try {
      const rates = (): number[] => [...client.stdout.matchAll(/^\s*65536\s+\d+\s+\S+\s+(\S+)\s+\S+\s*$/gm)].map((m) => Number(m[1]));
      await client.waitForOutput(/^\s*65536\s+\d+(\s+\S+){3}\s*\n(.*\n){2}/m, 20_000);
      const before = rates();
      expect(before.at(-1)!, client.describe()).toBeLessThanOrEqual(1.05);
      const n = before.length;
      await set('container', 'c1', '--rate', '8Gbit');
      // the first full interval after the change, at most a second later
      for (let i = 0; i < 40 && rates().length < n + 2; i++) await new Promise((r) => setTimeout(r, 100));
      const after = rates();
      expect(after.length, client.describe()).toBeGreaterThanOrEqual(n + 2);
      expect(after[n + 1]!, client.describe()).toBeGreaterThan(8 * 0.8);
      expect(after[n + 1]!, client.describe()).toBeLessThanOrEqual(8 * 1.05);
    } finally {
      client.killGroup('SIGKILL');
      server.killGroup('SIGKILL');
      await Promise.all([client.done, server.done]);
      await w.ctl!.ok(['container', 'unset', 'c1']);
    }
  });

  it('caps change no verbs semantics: verbs_check, a pingpong and ib_send_bw of every size pass under a binding cap', async () => {
    await set('tenant', 'tc', '--rate', '1Gbit', '--msg-rate', '20000');
    await expectVerbsCheck({ server: w.c('s1'), client: w.c('c1'), socket: w.socket }, w.logs);

    const pp = await runPair({ server: w.c('s1'), client: w.c('c1'), socket: w.socket, timeoutMs: 60_000, serverArgv: ['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-c', '-n', '200', '-s', '65536'] });
    expectPairOk(pp, w.logs);
    checkPingpong(pp, 65536, 200);

    const sb = await runPair({ server: w.c('s1'), client: w.c('c1'), socket: w.socket, timeoutMs: 120_000, serverArgv: ['ib_send_bw', '-d', 'ffr0', '-F', '-a', '-n', '20'] });
    expectPairOk(sb, w.logs);
    expect(parsePerftest(sb.client.stdout)?.rows.length, sb.client.stdout).toBe(23);
    await w.ctl!.ok(['tenant', 'rm', 'tc']);
  });
});
