// Tenant policies in cluster mode live in etcd: one ffctl on one host sets
// them for every router, and each router enforces them on its own host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from './harness/apps.js';
import { Cluster } from './harness/cluster.js';
import { PATHS } from './harness/paths.js';
import type { Proc } from './harness/proc.js';

describe('tenant policies across a two-host cluster', () => {
  let w: Cluster;
  const held: Proc[] = [];
  beforeAll(async () => {
    w = await Cluster.create({
      hosts: {
        h1: [{ name: 'p1', tenant: 'pt', vip: '192.168.9.1' }],
        h2: [{ name: 'p2', tenant: 'pt', vip: '192.168.9.2' }],
      },
    });
  });
  afterAll(async () => {
    for (const p of held) p.killGroup('SIGKILL');
    await w?.teardown();
  });

  async function probe(c: string, n: number): Promise<{ proc: Proc; created: number; refused: string | undefined }> {
    const proc = startApp(w.c(c), [PATHS.quotaProbe, 'qp', String(n)], { socket: w.socketOf(c), timeoutMs: 60_000, label: `${c}: quota_probe` });
    held.push(proc);
    await proc.waitForOutput(/holding/, 20_000);
    return { proc, created: Number(/created (\d+) of/.exec(proc.stdout)?.[1]), refused: /refused errno=(\S+)/.exec(proc.stdout)?.[1] };
  }

  /** Polls `ffctl tenant show` on a host until its policy has the field, or fails after 5 s. */
  async function seen(host: string, field: string, value: number | undefined): Promise<void> {
    let last: unknown;
    for (let i = 0; i < 50; i++) {
      last = ((await w.ctl.get(host)!.ok(['tenant', 'show', 'pt'], true)).json as { policy: Record<string, number> }).policy[field];
      if (last === value) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`host ${host}: tenant pt ${field} is ${String(last)}, expected ${String(value)}\n${w.logs()}`);
  }

  it('a quota set on one host holds on both, and a change made on the other reaches the first', async () => {
    await w.ctl.get('h1')!.ok(['tenant', 'set', 'pt', '--max-qp', '4']);
    await seen('h2', 'maxQp', 4);
    for (const c of ['p1', 'p2']) {
      const r = await probe(c, 5);
      expect(r, r.proc.describe()).toMatchObject({ created: 4, refused: 'EAGAIN' });
      r.proc.killGroup('SIGKILL');
      await r.proc.done;
    }
    expect(w.router('h2').logs()).toMatch(/quota: tenant pt container p2: qp \+1 refused: tenant pt holds 4, --max-qp 4/);

    await w.ctl.get('h2')!.ok(['tenant', 'set', 'pt', '--max-qp', '6', '--max-cq', '50']);
    await seen('h1', 'maxQp', 6);
    const r = await probe('p1', 7);
    expect(r, r.proc.describe()).toMatchObject({ created: 6, refused: 'EAGAIN' });
    r.proc.killGroup('SIGKILL');
    await r.proc.done;

    await w.ctl.get('h1')!.ok(['tenant', 'rm', 'pt']);
    await seen('h2', 'maxQp', undefined);
    const free = await probe('p2', 7);
    expect(free, free.proc.describe()).toMatchObject({ created: 7, refused: undefined });
  });
});
