// Tenant and container quotas (issue 9, acceptance 1), set with ffctl on a
// running router and checked by real processes through the shim: the create
// beyond a limit fails with EAGAIN (the rdma cgroup's errno), the router logs
// the tenant, container, resource and limit, a metric counts it, other
// tenants are unaffected, and a killed process gives its quota back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, startApp } from './harness/apps.js';
import { parseMetrics, sumOf } from './harness/metrics.js';
import { PATHS } from './harness/paths.js';
import type { Proc } from './harness/proc.js';
import { World } from './harness/world.js';

describe('quotas per tenant and per container', () => {
  let w: World;
  const held: Proc[] = [];
  beforeAll(async () => {
    w = await World.create([
      { name: 'a1', tenant: 'ta' },
      { name: 'a2', tenant: 'ta' },
      { name: 'b1', tenant: 'tb' },
      { name: 'b2', tenant: 'tb' },
    ]);
  });
  afterAll(async () => {
    for (const p of held) p.killGroup('SIGKILL');
    await w?.teardown();
  });

  /** Starts quota_probe in a container and waits until it holds what it could create. */
  async function probe(c: string, args: string[]): Promise<{ proc: Proc; created: number; refused: string | undefined }> {
    const proc = startApp(w.c(c), [PATHS.quotaProbe, ...args], { socket: w.socket, timeoutMs: 60_000, label: `${c}: quota_probe ${args.join(' ')}` });
    held.push(proc);
    await proc.waitForOutput(/holding/, 20_000);
    const created = Number(/created (\d+) of/.exec(proc.stdout)?.[1]);
    const refused = /refused errno=(\S+)/.exec(proc.stdout)?.[1];
    return { proc, created, refused };
  }

  async function kill(p: Proc): Promise<void> {
    p.killGroup('SIGKILL');
    await p.done;
  }

  async function until(what: string, check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: not within 10 s\n${w.logs()}`);
  }

  const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
    sumOf(parseMetrics(await w.router!.metricsText()), name, labels);

  it('refuses the 9th QP of a tenant capped at 8, counted over all its containers, and gives the quota back when a process dies', async () => {
    const set = await w.ctl!.ok(['tenant', 'set', 'ta', '--max-qp', '8']);
    expect(set.stdout).toMatch(/--max-qp 8/);

    const first = await probe('a1', ['qp', '9']);
    expect(first, first.proc.describe()).toMatchObject({ created: 8, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant ta container a1: qp \+1 refused: tenant ta holds 8, --max-qp 8/);
    expect(await metric('ffr_quota_refusals_total', { tenant: 'ta', container: 'a1', resource: 'qp' })).toBe(1);
    expect(await metric('ffr_quota_used', { scope: 'tenant', name: 'ta', resource: 'qp' })).toBe(8);

    // The limit is the tenant's: its other container has none left.
    const second = await probe('a2', ['qp', '1']);
    expect(second, second.proc.describe()).toMatchObject({ created: 0, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant ta container a2: qp \+1 refused: tenant ta holds 8/);

    // Another tenant is not affected.
    const other = await probe('b1', ['qp', '9']);
    expect(other, other.proc.describe()).toMatchObject({ created: 9, refused: undefined });
    await kill(other.proc);

    const show = await w.ctl!.ok(['tenant', 'show', 'ta'], true);
    const view = show.json as { usage: Record<string, number>; limits: Record<string, number>; members: string[] };
    expect(view.usage['qp']).toBe(8);
    expect(view.limits['maxQp']).toBe(8);
    expect(view.members.sort()).toEqual(['a1', 'a2']);

    // kill -9 returns the quota: a2 now gets all 8.
    await kill(first.proc);
    await kill(second.proc);
    await until('the dead process\'s QPs are released', async () => (await metric('ffr_quota_used', { scope: 'tenant', name: 'ta', resource: 'qp' })) === 0);
    const after = await probe('a2', ['qp', '8']);
    expect(after, after.proc.describe()).toMatchObject({ created: 8, refused: undefined });
    await kill(after.proc);
    await w.ctl!.ok(['tenant', 'rm', 'ta']);
  });

  it('a container limit nests inside its tenant: MRs, registered bytes, CQ entries and ring memory', async () => {
    await w.ctl!.ok(['container', 'set', 'b1', '--max-mr', '3']);
    const mrs = await probe('b1', ['mr', '4', '4096']);
    expect(mrs, mrs.proc.describe()).toMatchObject({ created: 3, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant tb container b1: mr \+1 refused: container b1 holds 3, --max-mr 3/);
    await kill(mrs.proc);
    // b2 of the same tenant has its own (default) container limit
    const b2 = await probe('b2', ['mr', '4', '4096']);
    expect(b2, b2.proc.describe()).toMatchObject({ created: 4, refused: undefined });
    await kill(b2.proc);
    await w.ctl!.ok(['container', 'unset', 'b1']);

    // Registered bytes, for the tenant: 4 x 256 KiB fill 1 MiB exactly.
    await w.ctl!.ok(['tenant', 'set', 'tb', '--max-mr-bytes', '1M']);
    const bytes = await probe('b1', ['mr', '5', String(256 * 1024)]);
    expect(bytes, bytes.proc.describe()).toMatchObject({ created: 4, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant tb container b1: registeredBytes \+262144 refused: tenant tb holds 1048576, --max-mr-bytes 1048576/);
    await kill(bytes.proc);

    // CQ entries: the probe's own CQ of 16 is 31 entries on this device;
    // 31 + 3 x 255 = 796 fit in 1000, a fourth 255 does not.
    await w.ctl!.ok(['container', 'set', 'b1', '--max-cqe', '1000']);
    const cqe = await probe('b1', ['cq', '4', '255']);
    expect(cqe, cqe.proc.describe()).toMatchObject({ created: 3, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant tb container b1: cqe \+255 refused: container b1 holds 796, --max-cqe 1000/);
    await kill(cqe.proc);

    // Ring memory: a CQ of 16 entries is one 4 KiB page of ring; 64 KiB hold 16.
    await w.ctl!.ok(['container', 'set', 'b1', '--max-cqe', 'none', '--max-ring-bytes', '64K']);
    const rings = await probe('b1', ['cq', '20', '16']);
    expect(rings, rings.proc.describe()).toMatchObject({ created: 15, refused: 'EAGAIN' });
    expect(w.logs()).toMatch(/quota: tenant tb container b1: ringBytes \+4096 refused: container b1 holds 65536, --max-ring-bytes 65536/);
    expect(await metric('ffr_quota_refusals_total', { container: 'b1', resource: 'ringBytes' })).toBe(1);
    await kill(rings.proc);
    await w.ctl!.ok(['container', 'unset', 'b1']);
    await w.ctl!.ok(['tenant', 'rm', 'tb']);
  });

  it('a tenant session quota counts every container of the tenant', async () => {
    await w.ctl!.ok(['tenant', 'set', 'ta', '--max-sessions', '1']);
    const holder = await probe('a1', ['pd', '1']);
    expect(holder.created).toBe(1);
    const refused = await runApp(w.c('a2'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expect(refused.stdout, refused.stderr).not.toMatch(/ffr0/);
    expect(refused.stderr).toMatch(/session quota/);
    expect(w.logs()).toMatch(/quota: tenant ta container a2: sessions \+1 refused: tenant ta holds 1, --max-sessions 1/);
    // the other tenant opens sessions as it likes
    const other = await runApp(w.c('b1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expect(other.stdout, other.stderr).toMatch(/ffr0/);
    await kill(holder.proc);
    await w.ctl!.ok(['tenant', 'rm', 'ta']);
  });

  it('bad values are refused naming the field', async () => {
    const bad = await w.ctl!.raw(['tenant', 'set', 'ta', '--max-qp', 'many']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/max-qp: expected an integer/);
    const zero = await w.ctl!.raw(['container', 'set', 'a1', '--max-mr-bytes', '0']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/max-mr-bytes: expected a size/);
    const weight = await w.ctl!.raw(['tenant', 'set', 'ta', '--weight', '0']);
    expect(weight.code).toBe(1);
    expect(weight.stderr).toMatch(/weight: expected an integer from 1 to 10000/);
    const cls = await w.ctl!.raw(['tenant', 'set', 'ta', '--class', 'urgent']);
    expect(cls.code).toBe(1);
    expect(cls.stderr).toMatch(/class: expected one of latency, default, bulk/);
    const gone = await w.ctl!.raw(['tenant', 'rm', 'nobody']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no stored policy for tenant nobody/);
    // nothing of the refused changes was stored
    const show = await w.ctl!.ok(['tenant', 'show', 'ta'], true);
    expect((show.json as { policy: object }).policy).toEqual({});
  });
});
