// The etcd-backed registry against a real etcd: several EtcdRegistry
// instances in this process play routers of different hosts (h1, h2, ...).
// Each test works under its own key prefix, so ids and counters start fresh.
import { statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FfrErr } from '../proto/gen/ffproto.js';
import { RouterError } from '../router/errors.js';
import { Logger, LogLevel } from '../router/log.js';
import { EtcdRegistry, type EtcdRegistryOptions } from '../router/registry/etcd.js';
import type { Container, RouterRecord } from '../router/registry/registry.js';
import { Etcd } from './harness/etcd.js';
import { Net } from './harness/netns.js';
import { run, sleep } from './harness/proc.js';

const NS_COUNT = 20;

let etcd: Etcd;
let net: Net;
const logLines: string[] = [];
let open: EtcdRegistry[] = [];
let vipSeq = 1;

const nsName = (i: number): string => net.get(`n${i}`).ns;
const nsIno = (i: number): number => statSync(`/run/netns/${nsName(i)}`).ino;
const nextVip = (): string => `10.99.${vipSeq >> 8}.${vipSeq++ & 0xff}`;
const freshPrefix = (): string => `/ffr-test/${randomBytes(4).toString('hex')}/v1`;

function logger(host: string): Logger {
  return new Logger(LogLevel.Debug, `registry ${host}`, (line) => {
    logLines.push(line);
    if (process.env.FFR_TEST_VERBOSE) console.log(line);
  });
}

async function openReg(prefix: string, hostName: string, extra: Partial<EtcdRegistryOptions> = {}): Promise<EtcdRegistry> {
  const reg = await EtcdRegistry.open({
    endpoints: [etcd.endpoint],
    prefix,
    hostName,
    peer: `127.0.0.1:${7000 + open.length}`,
    leaseTtlS: 10,
    log: logger(hostName),
    version: 'test',
    ...extra,
  });
  open.push(reg);
  return reg;
}

async function closeReg(reg: EtcdRegistry, opts?: { revoke?: boolean }): Promise<void> {
  open = open.filter((r) => r !== reg);
  await reg.close(opts);
}

async function waitFor<T>(what: string, f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function errnoOf(p: Promise<unknown> | (() => unknown)): Promise<RouterError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError);
    return err as RouterError;
  }
  throw new Error('expected a RouterError, nothing was thrown');
}

beforeAll(async () => {
  net = Net.create(Array.from({ length: NS_COUNT }, (_, i) => `n${i}`));
  etcd = await Etcd.start();
});

afterEach(async () => {
  const regs = open;
  open = [];
  await Promise.all(regs.map((r) => r.close()));
  // A test that failed half-way through an outage must not fail the next ones.
  etcd.resume();
  if (!etcd.running) await etcd.restart();
});

afterAll(async () => {
  await etcd?.destroy();
  net?.destroy();
});

describe('etcd registry', () => {
  it('gives each host a distinct id that survives close and reopen', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    expect(h1.hostId).toBeGreaterThanOrEqual(1);
    expect(h2.hostId).toBeGreaterThanOrEqual(1);
    expect(h1.hostId).not.toBe(h2.hostId);
    const ids = { h1: h1.hostId, h2: h2.hostId };
    await closeReg(h1);
    await closeReg(h2);
    // Reopened in the other order: ids are per name, not per arrival.
    const h2b = await openReg(prefix, 'h2');
    const h1b = await openReg(prefix, 'h1');
    const h3 = await openReg(prefix, 'h3');
    expect({ h1: h1b.hostId, h2: h2b.hostId }).toEqual(ids);
    expect([ids.h1, ids.h2]).not.toContain(h3.hostId);
  });

  it('shows containers of one host to the other; netns lookups and removal stay per host', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const seenOnH2: string[] = [];
    h2.on('added', (c) => seenOnH2.push(`+${c.name}@${c.host}`));
    h2.on('removed', (c) => seenOnH2.push(`-${c.name}@${c.host}`));

    const b1 = await h1.add({ name: 'b1', tenant: 'blue', vip: nextVip(), netns: nsName(0) });
    expect(b1).toMatchObject({ name: 'b1', host: 'h1', tenant: 'blue', lid: 1 });
    expect(h1.get('b1')).toEqual(b1); // a writer reads its own write at once
    const onH2 = await waitFor('b1 on h2', () => h2.get('b1'));
    expect(onH2).toMatchObject({ name: 'b1', host: 'h1', tenantId: b1.tenantId, lid: 1, netns: b1.netns });
    expect(h2.findByLid(b1.tenantId, 1)?.name).toBe('b1');

    // The same namespace path on h2 is h2's business: b1's inode means nothing there.
    expect(h1.findByNetnsIno(nsIno(0))?.name).toBe('b1');
    expect(h2.findByNetnsIno(nsIno(0))).toBeUndefined();
    const b2 = await h2.add({ name: 'b2', tenant: 'blue', vip: nextVip(), netns: nsName(0) });
    expect(b2).toMatchObject({ host: 'h2', lid: 2 });
    expect(h2.findByNetnsIno(nsIno(0))?.name).toBe('b2');
    expect(h1.findByNetnsIno(nsIno(0))?.name).toBe('b1');
    await waitFor('b2 on h1', () => h1.get('b2'));
    expect(h1.list().map((c) => `${c.name}@${c.host}`).sort()).toEqual(['b1@h1', 'b2@h2']);

    expect((await errnoOf(h1.add({ name: 'b2', tenant: 'blue', vip: nextVip(), netns: nsName(1) }))).errno).toBe(FfrErr.FFR_EEXIST);
    expect((await errnoOf(h2.remove('b1'))).errno).toBe(FfrErr.FFR_EPERM);
    expect((await errnoOf(h2.remove('nope'))).errno).toBe(FfrErr.FFR_ENOENT);

    await h1.remove('b1');
    expect(h1.get('b1')).toBeUndefined();
    await waitFor('b1 gone from h2', () => h2.get('b1') === undefined);
    // The freed LID is the lowest again.
    const b3 = await h2.add({ name: 'b3', tenant: 'blue', vip: nextVip(), netns: nsName(1) });
    expect(b3.lid).toBe(1);
    expect(seenOnH2).toEqual(['+b1@h1', '+b2@h2', '-b1@h1', '+b3@h2']);
  });

  it('gives unique LIDs to concurrent adds from two hosts in one tenant, and one tenant id', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const adds: Promise<Container>[] = [];
    for (let i = 0; i < NS_COUNT; i++) {
      adds.push(h1.add({ name: `c1-${i}`, tenant: 'crowd', vip: nextVip(), netns: nsName(i) }));
      adds.push(h2.add({ name: `c2-${i}`, tenant: 'crowd', vip: nextVip(), netns: nsName(i) }));
    }
    const made = await Promise.all(adds);
    const lids = made.map((c) => c.lid).sort((a, b) => a - b);
    expect(lids).toEqual(Array.from({ length: 2 * NS_COUNT }, (_, i) => i + 1));
    expect(new Set(made.map((c) => c.tenantId)).size).toBe(1);
    // Both caches converge on the same table.
    const table = (r: EtcdRegistry): string[] => r.list().map((c) => `${c.name}@${c.host}:${c.tenantId}/${c.lid}`).sort();
    await waitFor('both caches complete', () => h1.list().length === 2 * NS_COUNT && h2.list().length === 2 * NS_COUNT);
    expect(table(h1)).toEqual(table(h2));
    expect(table(h1)).toEqual(made.map((c) => `${c.name}@${c.host}:${c.tenantId}/${c.lid}`).sort());
  });

  it('agrees on tenant ids across hosts, also when both create a tenant at once', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const [gold1, gold2] = await Promise.all([
      h1.add({ name: 'g1', tenant: 'gold', vip: nextVip(), netns: nsName(0) }),
      h2.add({ name: 'g2', tenant: 'gold', vip: nextVip(), netns: nsName(0) }),
    ]);
    expect(gold1.tenantId).toBe(gold2.tenantId);
    expect(new Set([gold1.lid, gold2.lid])).toEqual(new Set([1, 2]));
    const red = await h1.add({ name: 'r1', tenant: 'red', vip: nextVip(), netns: nsName(1) });
    const green = await h2.add({ name: 'x1', tenant: 'green', vip: nextVip(), netns: nsName(1) });
    const red2 = await h2.add({ name: 'r2', tenant: 'red', vip: nextVip(), netns: nsName(2) });
    expect(red2.tenantId).toBe(red.tenantId);
    expect(new Set([gold1.tenantId, red.tenantId, green.tenantId]).size).toBe(3);
    // LIDs are per tenant: each tenant starts at 1.
    expect([red.lid, green.lid, red2.lid]).toEqual([1, 1, 2]);
    await waitFor('h1 sees green', () => h1.get('x1'));
    expect(h1.get('x1')?.tenantId).toBe(green.tenantId);
  });

  it('hands out distinct QPN blocks; a restarted host gets its own back first', async () => {
    const prefix = freshPrefix();
    let h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const claims: Promise<number>[] = [];
    for (let i = 0; i < 5; i++) claims.push(h1.claimQpnBlock(), h2.claimQpnBlock());
    const got = await Promise.all(claims);
    const mine = got.filter((_, i) => i % 2 === 0).sort((a, b) => a - b);
    const theirs = got.filter((_, i) => i % 2 === 1);
    expect(new Set(got).size).toBe(10);
    expect([...got].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    await closeReg(h1);
    h1 = await openReg(prefix, 'h1');
    const again: number[] = [];
    for (let i = 0; i < 7; i++) again.push(await h1.claimQpnBlock());
    expect(again.slice(0, 5)).toEqual(mine);
    expect(again.slice(5)).toEqual([10, 11]);
    for (const n of again.slice(5)) expect(theirs).not.toContain(n);
  });

  it('lists routers; a closed router goes at once, a dead one after its TTL', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const ups: RouterRecord[] = [];
    const downs: { r: RouterRecord; at: number }[] = [];
    h2.on('routerUp', (r) => ups.push(r));
    h2.on('routerDown', (r) => downs.push({ r, at: Date.now() }));

    const r1 = await waitFor('h1 in h2.routers()', () => h2.routers().find((r) => r.host === 'h1'));
    expect(r1).toMatchObject({ host: 'h1', hostId: h1.hostId, peer: '127.0.0.1:7000', pid: process.pid, version: 'test' });
    expect(h2.routers().map((r) => r.host).sort()).toEqual(['h1', 'h2']);
    expect(h1.routers().find((r) => r.host === 'h2')?.hostId).toBe(h2.hostId);

    const closedAt = Date.now();
    await closeReg(h1);
    await waitFor('routerDown h1', () => downs.find((d) => d.r.host === 'h1'), 5000);
    expect(downs[0]!.at - closedAt).toBeLessThan(1500); // revoked, not expired
    expect(h2.routers().map((r) => r.host)).toEqual(['h2']);

    // A router that dies without revoking its lease: gone once its TTL runs
    // out. With 3 s and a keepalive every second, not before 2 s.
    const h3 = await openReg(prefix, 'h3', { leaseTtlS: 3 });
    await waitFor('routerUp h3', () => ups.find((r) => r.host === 'h3'));
    const diedAt = Date.now();
    await closeReg(h3, { revoke: false });
    await sleep(500);
    expect(h2.routers().map((r) => r.host).sort()).toEqual(['h2', 'h3']);
    const down3 = await waitFor('routerDown h3', () => downs.find((d) => d.r.host === 'h3'), 10_000);
    expect(down3.at - diedAt).toBeGreaterThanOrEqual(1500);
    expect(h2.routers().map((r) => r.host)).toEqual(['h2']);
  });

  it('serves from the cache and refuses writes with EAGAIN while etcd is down, then resyncs', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const health: string[] = [];
    h1.on('health', (up) => health.push(`h1:${up}`));
    h2.on('health', (up) => health.push(`h2:${up}`));
    const a = await h1.add({ name: 'a1', tenant: 'outage', vip: nextVip(), netns: nsName(0) });
    await waitFor('a1 on h2', () => h2.get('a1'));
    expect(h1.healthy && h2.healthy).toBe(true);
    expect(() => h1.requireHealthy('nothing')).not.toThrow();
    const logStart = logLines.length;

    await etcd.stop();
    await waitFor('both unhealthy', () => !h1.healthy && !h2.healthy, 10_000);
    const err = await errnoOf(() => h2.requireHealthy('cannot resolve dlid 5'));
    expect(err.errno).toBe(FfrErr.FFR_EAGAIN);
    expect(err.message).toMatch(new RegExp(`^registry unavailable \\(etcd ${etcd.endpoint} unreachable since \\d\\d:\\d\\d:\\d\\d\\): cannot resolve dlid 5$`));
    // Reads keep working from the cache.
    expect(h2.get('a1')).toMatchObject({ host: 'h1', lid: a.lid });
    expect(h2.findByLid(a.tenantId, a.lid)?.name).toBe('a1');
    expect(h1.findByNetnsIno(nsIno(0))?.name).toBe('a1');
    expect(h2.routers().map((r) => r.host).sort()).toEqual(['h1', 'h2']);
    const addErr = await errnoOf(h1.add({ name: 'a2', tenant: 'outage', vip: nextVip(), netns: nsName(1) }));
    expect(addErr.errno).toBe(FfrErr.FFR_EAGAIN);
    expect(addErr.message).toMatch(/etcd .* unreachable since/);
    expect((await errnoOf(h1.remove('a1'))).errno).toBe(FfrErr.FFR_EAGAIN);
    expect((await errnoOf(h2.claimQpnBlock())).errno).toBe(FfrErr.FFR_EAGAIN);
    await sleep(1500); // the resync loop keeps failing meanwhile: still one warning per registry
    const warns = logLines.slice(logStart).filter((l) => / warn registry h1: lost etcd /.test(l));
    expect(warns).toHaveLength(1);
    // A router starting now cannot join: bounded, EAGAIN naming etcd.
    const t0 = Date.now();
    const openErr = await errnoOf(openReg(prefix, 'h3'));
    expect(openErr.errno).toBe(FfrErr.FFR_EAGAIN);
    expect(openErr.message).toContain(`etcd ${etcd.endpoint}`);
    expect(Date.now() - t0).toBeLessThan(10_000);

    await etcd.restart();
    await waitFor('both healthy again', () => h1.healthy && h2.healthy, 30_000);
    expect(health.filter((h) => h.startsWith('h1'))).toEqual(['h1:false', 'h1:true']);
    expect(health.filter((h) => h.startsWith('h2'))).toEqual(['h2:false', 'h2:true']);
    expect(logLines.slice(logStart).some((l) => / info registry h1: etcd .* is back after/.test(l))).toBe(true);
    const a2 = await h1.add({ name: 'a2', tenant: 'outage', vip: nextVip(), netns: nsName(1) });
    expect(a2.lid).toBe(2);
    await waitFor('a2 on h2', () => h2.get('a2'));
    const a3 = await h2.add({ name: 'a3', tenant: 'outage', vip: nextVip(), netns: nsName(2) });
    await waitFor('a3 on h1', () => h1.get('a3'));
    expect(a3.lid).toBe(3);
    expect(h1.routers().map((r) => r.host).sort()).toEqual(['h1', 'h2']);
  });

  it('notices an etcd that hangs with its connections open, and bounds writes meanwhile', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1', { leaseTtlS: 3, callTimeoutMs: 1000 });
    const h2 = await openReg(prefix, 'h2', { leaseTtlS: 3, callTimeoutMs: 1000 });
    await h1.add({ name: 'p1', tenant: 'pause', vip: nextVip(), netns: nsName(0) });
    await waitFor('p1 on h2', () => h2.get('p1'));
    etcd.pause();
    try {
      // Nothing closes: only the keepalive (every TTL/3, 1 s deadline) can tell.
      const t0 = Date.now();
      const addErr = await errnoOf(h2.add({ name: 'p2', tenant: 'pause', vip: nextVip(), netns: nsName(1) }));
      expect(addErr.errno).toBe(FfrErr.FFR_EAGAIN);
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor('both unhealthy', () => !h1.healthy && !h2.healthy, 10_000);
      expect(h1.get('p1')?.host).toBe('h1');
    } finally {
      etcd.resume();
    }
    await waitFor('both healthy again', () => h1.healthy && h2.healthy, 30_000);
    const p2 = await h2.add({ name: 'p2', tenant: 'pause', vip: nextVip(), netns: nsName(1) });
    expect(p2.lid).toBe(2);
    await waitFor('p2 on h1', () => h1.get('p2'));
  });

  it('announces the router again under a new lease when its lease is gone', async () => {
    const prefix = freshPrefix();
    const h1 = await openReg(prefix, 'h1');
    const h2 = await openReg(prefix, 'h2');
    const seen: string[] = [];
    h2.on('routerUp', (r) => seen.push(`up:${r.host}`));
    h2.on('routerDown', (r) => seen.push(`down:${r.host}`));
    // What etcd does when a lease expires (say the router was paused past its TTL).
    const raw = new Etcd3({ hosts: etcd.endpoint });
    try {
      const key = `${prefix}/routers/h1`;
      const before = (await raw.get(key).exec()).kvs[0];
      expect(before).toBeDefined();
      await raw.leaseClient.leaseRevoke({ ID: before!.lease });
      await waitFor('h1 down and up again on h2', () => seen.join(' ') === 'down:h1 up:h1');
      const after = (await raw.get(key).exec()).kvs[0];
      expect(after?.lease).toBeDefined();
      expect(after!.lease).not.toBe(before!.lease);
      await waitFor('h1 healthy', () => h1.healthy);
      expect(h2.routers().find((r) => r.host === 'h1')?.hostId).toBe(h1.hostId);
      // The new lease is kept alive like the old one: h1 can still write.
      await h1.add({ name: 'l1', tenant: 'lease', vip: nextVip(), netns: nsName(0) });
    } finally {
      raw.close();
    }
  });

  it('harness: runs etcd inside a network namespace, reachable from another one', async () => {
    const home = net.get('n0');
    const inNs = await Etcd.start({ netns: home.ns, host: home.ip });
    try {
      expect(inNs.endpoint).toBe(`http://${home.ip}:2379`);
      const probe = await run('ip', ['netns', 'exec', nsName(1), 'curl', '-sS', '--max-time', '5', `${inNs.endpoint}/health`], { timeoutMs: 10_000 });
      expect(probe.stdout).toContain('"health":"true"');
      await inNs.restart();
      expect(inNs.running).toBe(true);
      await inNs.stop();
      expect(inNs.running).toBe(false);
    } finally {
      await inNs.destroy();
    }
  });
});
