// Weighted fair sharing in the data plane (issue 9): tenants share the
// router by weight, not by how many QPs they open; a weight changed while
// traffic runs shows within a second; and chunked, scheduled copies change
// no verbs semantics while another tenant's bulk traffic contends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPairOk, runPair, startApp, waitListening } from './harness/apps.js';
import { checkPingpong, expectVerbsCheck } from './harness/cases.js';
import { parseMetrics, sumOf } from './harness/metrics.js';
import type { Proc } from './harness/proc.js';
import { World } from './harness/world.js';

/** One ib_write_bw pair reporting every second (--run_infinitely -D 1). */
class Stream {
  private constructor(readonly label: string, readonly server: Proc, readonly client: Proc) {}

  static async start(w: World, s: string, c: string, port: number, extra: string[] = []): Promise<Stream> {
    // 1 MiB messages, 128 deep: a backlog of 128 MiB outlasts the scheduler
    // slices that 2 cores give four spinning apps, so both tenants always
    // have work queued and the router's scheduler, not the CPU, decides.
    const argv = ['ib_write_bw', '-d', 'ffr0', '-F', '--report_gbits', '-s', '1048576', '-t', '128', '-D', '1', '--run_infinitely', '-p', String(port), ...extra];
    const server = startApp(w.c(s), argv, { socket: w.socket, timeoutMs: 90_000, label: `server ${s}` });
    await waitListening(w.c(s), port, 20_000, server);
    const client = startApp(w.c(c), [...argv, w.c(s).ip], { socket: w.socket, timeoutMs: 90_000, label: `client ${c}` });
    return new Stream(`${c}->${s}`, server, client);
  }

  /** Gbit/s of each reported second so far. */
  rates(): number[] {
    return [...this.client.stdout.matchAll(/^\s*1048576\s+\d+\s+\S+\s+(\S+)\s+\S+\s*$/gm)].map((m) => Number(m[1]));
  }

  async stop(): Promise<void> {
    this.client.killGroup('SIGKILL');
    this.server.killGroup('SIGKILL');
    await Promise.all([this.client.done, this.server.done]);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every stream has reported `n` more seconds than it had at `from`. */
async function seconds(streams: Stream[], from: number[], n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (streams.every((s, k) => s.rates().length >= from[k]! + n)) return;
    await sleep(100);
  }
  throw new Error(`streams did not report ${n} s:\n${streams.map((s) => s.client.describe()).join('\n')}`);
}

/** Median of the seconds [from, from + n) of each stream. */
function median(s: Stream, from: number, n: number): number {
  const v = s.rates().slice(from, from + n).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}

describe('weighted sharing on one host', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([
      { name: 'a1', tenant: 'ta' }, { name: 'a2', tenant: 'ta' },
      { name: 'b1', tenant: 'tb' }, { name: 'b2', tenant: 'tb' },
    ]);
  });
  afterAll(async () => { await w?.teardown(); });

  /** Runs both streams, lets them settle for 2 s, then measures 3 s; returns B's rate over A's. */
  const share = async (aExtra: string[], bExtra: string[]): Promise<{ a: number; b: number }> => {
    const a = await Stream.start(w, 'a1', 'a2', 18601, aExtra);
    const b = await Stream.start(w, 'b1', 'b2', 18602, bExtra);
    try {
      const zero = [a.rates().length, b.rates().length];
      await seconds([a, b], zero, 2);
      const start = [a.rates().length, b.rates().length];
      await seconds([a, b], start, 3);
      const r = { a: median(a, start[0]!, 3), b: median(b, start[1]!, 3) };
      console.log(`ta ${aExtra.join(' ')}: ${r.a} Gbit/s; tb ${bExtra.join(' ')}: ${r.b} Gbit/s`);
      return r;
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  };

  it('equal weights split the router evenly, whatever the QP count: 1 QP against 16', async () => {
    const r = await share([], ['-q', '16']);
    expect(r.b / r.a, w.logs()).toBeGreaterThan(0.85);
    expect(r.b / r.a, w.logs()).toBeLessThan(1.15);
  });

  it('weights 1:3 give shares 1:3', async () => {
    await w.ctl!.ok(['tenant', 'set', 'tb', '--weight', '3']);
    try {
      const r = await share([], []);
      expect(r.b / r.a, w.logs()).toBeGreaterThan(3 * 0.85);
      expect(r.b / r.a, w.logs()).toBeLessThan(3 * 1.15);
      expect(w.logs()).toMatch(/tenant tb: weight 3/);
      // Iron's rule: the router's time goes to the tenants in their shares, and is exported per tenant
      const m = parseMetrics(await w.router!.metricsText());
      const ta = sumOf(m, 'ffr_dataplane_seconds_total', { tenant: 'ta' }), tb = sumOf(m, 'ffr_dataplane_seconds_total', { tenant: 'tb' });
      expect(ta).toBeGreaterThan(0);
      expect(tb).toBeGreaterThan(ta);
    } finally {
      await w.ctl!.ok(['tenant', 'rm', 'tb']);
    }
  });

  it('a weight changed while traffic runs shows in the measured shares within a second', async () => {
    const a = await Stream.start(w, 'a1', 'a2', 18603);
    const b = await Stream.start(w, 'b1', 'b2', 18604);
    try {
      await seconds([a, b], [a.rates().length, b.rates().length], 2);
      const before = [a.rates().length, b.rates().length];
      await w.ctl!.ok(['tenant', 'set', 'tb', '--weight', '4']);
      // the first whole second after the change
      await seconds([a, b], before, 2);
      // Each stream's first whole second after the change (the two report
      // at their own phases): the 1:1 split has clearly moved towards 1:4.
      const ra = a.rates()[before[0]! + 1]!, rb = b.rates()[before[1]! + 1]!;
      expect(rb / ra, `${a.client.describe()}\n${b.client.describe()}`).toBeGreaterThan(2.5);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await w.ctl!.ok(['tenant', 'rm', 'tb']);
    }
  });

  it('scheduling and chunks change no verbs semantics: verbs_check and a pingpong pass beside a bulk tenant, with the latency class', async () => {
    await w.ctl!.ok(['tenant', 'set', 'tb', '--class', 'latency', '--weight', '2']);
    const hog = await Stream.start(w, 'a1', 'a2', 18605, ['-q', '4']);
    try {
      await seconds([hog], [0], 1);  // the hog's traffic runs
      await expectVerbsCheck({ server: w.c('b1'), client: w.c('b2'), socket: w.socket }, w.logs);
      const pp = await runPair({ server: w.c('b1'), client: w.c('b2'), socket: w.socket, timeoutMs: 60_000, serverArgv: ['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-c', '-n', '200', '-s', '1048576'] });
      expectPairOk(pp, w.logs);
      checkPingpong(pp, 1048576, 200);
      expect(hog.client.exited, hog.client.describe()).toBe(false);
    } finally {
      await hog.stop();
      await w.ctl!.ok(['tenant', 'rm', 'tb']);
    }
  });
});
