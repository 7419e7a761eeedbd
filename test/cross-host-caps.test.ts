// Rate caps across hosts (issue 9, acceptance 2 and 5): a tenant cap set
// once through etcd holds on the sending host's router for traffic that
// crosses the peer connection, for WRITE and for READ (charged to the
// requester).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPairOk, parsePerftest, runPair } from './harness/apps.js';
import { Cluster } from './harness/cluster.js';

describe('rate caps across two hosts', () => {
  let w: Cluster;
  beforeAll(async () => {
    w = await Cluster.create({
      hosts: {
        h1: [{ name: 'x1', tenant: 'tx', vip: '192.168.11.1' }],
        h2: [{ name: 'x2', tenant: 'tx', vip: '192.168.11.2' }],
      },
    });
  });
  afterAll(async () => { await w?.teardown(); });

  /** Average Gbit/s of a perftest run, server x1 on h1, client x2 on h2. */
  const perf = async (bin: string, seconds: number): Promise<number> => {
    const argv = [bin, '-d', 'ffr0', '-F', '--report_gbits', '-s', '65536', '-D', String(seconds)];
    const p = await runPair({ server: w.c('x1'), client: w.c('x2'), serverArgv: argv, serverSocket: w.socketOf('x1'), clientSocket: w.socketOf('x2'), timeoutMs: 60_000 });
    expectPairOk(p, w.logs);
    const row = parsePerftest(p.client.stdout)?.rows.at(-1);
    if (!row) throw new Error(`no table:\n${p.client.stdout}`);
    console.log(`${argv.join(' ')} across hosts: ${row.values[1]} Gbit/s`);
    return row.values[1]!;
  };

  it('a tenant cap set on one host holds for WRITE and READ sent from the other', async () => {
    const free = await perf('ib_write_bw', 2);
    const cap = 2;
    expect(free, 'the uncapped rate must be above the cap for the test to mean anything').toBeGreaterThan(cap * 1.5);
    await w.ctl.get('h1')!.ok(['tenant', 'set', 'tx', '--rate', `${cap}Gbit`]);
    // the sender's router (h2) applies it from its etcd watch
    for (let i = 0; i < 50 && !/tenant tx: rate cap/.test(w.router('h2').logs()); i++) await new Promise((r) => setTimeout(r, 100));
    for (const bin of ['ib_write_bw', 'ib_read_bw']) {
      const r = await perf(bin, 5);
      expect(r, bin).toBeLessThanOrEqual(cap * 1.05);
      expect(r, bin).toBeGreaterThan(cap * 0.8);
    }
  });
});
