// Control-path unit tests of tenant and container policies: parsing, the
// stored layer, and quota checks through the VerbsContext seam with a fake
// data plane (no router process, no root).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FfrErr } from '../proto/gen/ffproto.js';
import { RouterError } from '../router/errors.js';
import { Logger, LogLevel } from '../router/log.js';
import type { DataPlane } from '../router/native.js';
import { resolveOptions } from '../router/options.js';
import { QuotaGuard, emptyUsage, type Usage } from '../router/policy/guard.js';
import { checkPatch } from '../router/policy/policy.js';
import { DEFAULT_QUOTAS } from '../router/policy/quotas.js';
import { FilePolicyStore } from '../router/policy/store.js';
import { formatRate, parseRate, parseSize } from '../router/policy/units.js';
import type { Container, Registry } from '../router/registry/registry.js';
import type { FdBag, VerbsContext } from '../router/session/context.js';
import { resourceHandlers } from '../router/session/resources.js';
import { Session, SessionState } from '../router/session/session.js';
import { MrKeyAllocator, NumberAllocator } from '../router/verbs/allocators.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ffr-policy-'));
  dirs.push(d);
  return d;
}
const lines: string[] = [];
const log = new Logger(LogLevel.Debug, 'test', (l) => lines.push(l));

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof RouterError ? err.errno : -1;
  }
  return undefined;
}

describe('units', () => {
  it('reads sizes as binary and bit rates as decimal', () => {
    expect(parseSize('4G')).toBe(4 * 1024 ** 3);
    expect(parseSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('lots')).toBeUndefined();
    expect(parseRate('10Gbit')).toBe(1.25e9);
    expect(parseRate('400Mbit/s')).toBe(5e7);
    expect(parseRate('100M/s')).toBe(100 * 1024 ** 2);
    expect(parseRate('12500000')).toBe(12_500_000);
    expect(parseRate('fast')).toBeUndefined();
    expect(formatRate(1.25e9)).toBe('10 Gbit/s');
  });
});

describe('policy fields', () => {
  it('accepts flags and config names, refuses bad values naming the field', () => {
    expect(checkPatch({ 'max-qp': '8', maxMr: 4, 'max-mr-bytes': '4G', maxCqe: null })).toEqual({
      maxQp: 8, maxMr: 4, maxRegisteredBytes: 4 * 1024 ** 3, maxCqe: null,
    });
    expect(() => checkPatch({ 'max-qp': 'eight' })).toThrow(/max-qp: expected an integer/);
    expect(() => checkPatch({ maxQp: 1.5 })).toThrow(/max-qp: expected an integer/);
    expect(() => checkPatch({ maxQp: 0 })).toThrow(/max-qp: expected an integer from 1/);
    expect(() => checkPatch({ 'max-qps': 8 })).toThrow(/max-qps: unknown policy field/);
    expect(checkPatch({ rate: '10Gbit', 'msg-rate': '1000' })).toEqual({ rate: 1.25e9, msgRate: 1000 });
    expect(checkPatch({ weight: '4', class: 'latency' })).toEqual({ weight: 4, class: 'latency' });
    expect(() => checkPatch({ weight: 0 })).toThrow(/weight: expected an integer from 1 to 10000/);
    expect(() => checkPatch({ weight: 2.5 })).toThrow(/weight: expected an integer/);
    expect(errnoOf(() => checkPatch({ class: 'fast' }))).toBe(FfrErr.FFR_EINVAL);
    expect(() => checkPatch({ class: 'fast' })).toThrow(/class: expected one of latency, default, bulk/);
    expect(() => checkPatch({ rate: 'fast' })).toThrow(/rate: expected a rate/);
  });

  it('the config file takes policies and rejects a bad one at start-up', () => {
    const o = resolveOptions({ policies: { tenants: { t1: { maxQp: 8 } }, containers: { c1: { 'max-mr': 2 } } } });
    expect(o.policies.tenants['t1']).toEqual({ maxQp: 8 });
    expect(o.policies.containers['c1']).toEqual({ maxMr: 2 });
    expect(() => resolveOptions({ policies: { tenants: { t1: { maxQp: -1 } } } })).toThrow(/policies.tenants.t1.max-qp/);
    expect(() => resolveOptions({ policies: { groups: {} } })).toThrow(/unknown key "groups"/);
  });
});

describe('FilePolicyStore', () => {
  it('layers stored changes over the config file, persists them, and clears with null and rm', async () => {
    const dir = tmp();
    const config = { tenants: { t1: { maxQp: 8, maxMr: 100 } }, containers: {} };
    const store = await FilePolicyStore.open(dir, config, log);
    const changed: string[] = [];
    store.on('changed', (scope, name) => changed.push(`${scope}:${name}`));
    expect(await store.set('tenant', 't1', { maxQp: 16 })).toEqual({ maxQp: 16, maxMr: 100 });
    expect(await store.set('container', 'c1', { 'max-cqe': '1000' })).toEqual({ maxCqe: 1000 });
    expect(changed).toEqual(['tenant:t1', 'container:c1']);
    await store.close();
    expect(JSON.parse(readFileSync(join(dir, 'policies.json'), 'utf8'))).toMatchObject({ tenants: { t1: { maxQp: 16 } }, containers: { c1: { maxCqe: 1000 } } });

    const again = await FilePolicyStore.open(dir, config, log);
    expect(again.get('tenant', 't1')).toEqual({ maxQp: 16, maxMr: 100 });
    expect(await again.set('container', 'c1', { maxCqe: null })).toEqual({});
    expect(await again.remove('tenant', 't1')).toEqual({ maxQp: 8, maxMr: 100 });
    await expect(again.remove('tenant', 't1')).rejects.toThrow(/no stored policy for tenant t1/);
    await expect(again.set('tenant', 'bad name', { maxQp: 1 })).rejects.toThrow(/tenant must be/);
    await expect(again.set('tenant', 't2', { maxQp: 'x' })).rejects.toThrow(/max-qp/);
    expect(again.list('tenant').map(([n]) => n)).toEqual(['t1']);
  });
});

/** A data plane that builds nothing: it answers what the handlers ask with fixed ring sizes. */
function fakeDataPlane(calls: string[]): DataPlane {
  let fd = 100;
  const ring = (entries: number, bytes: number) => ({ fd: fd++, ringBytes: bytes, entries });
  return {
    createCq: (_sid: number, cq: number, o: { entries: number }) => { calls.push(`createCq ${cq}`); return ring(o.entries, 4096 * Math.ceil((256 + o.entries * 48) / 4096)); },
    destroyCq: (_sid: number, cq: number) => { calls.push(`destroyCq ${cq}`); },
    regMr: (_sid: number, mr: number, o: { fd: number }) => { calls.push(`regMr ${mr} fd ${o.fd}`); },
  } as unknown as DataPlane;
}

function contextWith(guard: () => QuotaGuard, calls: string[], closed: number[]): VerbsContext {
  return {
    dataPlane: fakeDataPlane(calls),
    closeFd: (fd) => closed.push(fd),
    registry: {} as Registry,
    get quota() { return guard(); },
    qpns: new NumberAllocator('QPN', 2, 0xff_ffff),
    srqns: new NumberAllocator('SRQN', 1, 0xff_ffff),
    mrKeys: new MrKeyAllocator(),
    log,
    peerOf: () => 0,
  } as VerbsContext;
}

function sessionOf(c: Container): Session {
  const s = new Session(1, { pid: 42, uid: 0, gid: 0 });
  s.sid = 7;
  s.container = c;
  s.state = SessionState.Established;
  return s;
}

const noFds = { take: () => 5, leftovers: () => [] } as unknown as FdBag;

describe('quota checks through the VerbsContext seam', () => {
  const container = { name: 'c1', tenant: 't1', tenantId: 1, lid: 1 } as Container;

  it('refuses with EAGAIN at the tenant limit across sessions, and the container limit nests inside it', async () => {
    const store = await FilePolicyStore.open(tmp(), { tenants: { t1: { maxCq: 3 } }, containers: { c1: { maxCq: 2 } } }, log);
    const sessions: Session[] = [];
    const usage = (scope: 'tenant' | 'container', name: string): Usage => {
      const u = emptyUsage();
      for (const s of sessions) {
        if ((scope === 'tenant' ? s.owner.tenant : s.owner.name) !== name) continue;
        u.cq += s.cqs.size;
        u.cqe += s.cqEntries();
        u.ringBytes += s.ringBytes;
      }
      return u;
    };
    const guard = new QuotaGuard(store, DEFAULT_QUOTAS, { usage }, log);
    const calls: string[] = [];
    const closed: number[] = [];
    const ctx = contextWith(() => guard, calls, closed);
    const a = sessionOf(container);
    const b = sessionOf({ ...container, name: 'c2' });
    sessions.push(a, b);
    const cq = (s: Session) => () => resourceHandlers.create_cq!(ctx, s, { cqe: 16, channel: 0, comp_vector: 0 }, noFds);

    cq(a)();
    cq(a)();
    expect(errnoOf(cq(a))).toBe(FfrErr.FFR_EAGAIN); // c1's own limit of 2
    cq(b)();
    expect(errnoOf(cq(b))).toBe(FfrErr.FFR_EAGAIN); // t1 holds 3 of 3
    expect(lines.join('\n')).toMatch(/quota: tenant t1 container c2: cq \+1 refused: tenant t1 holds 3, --max-cq 3/);
    expect(guard.refusals()).toEqual([
      { tenant: 't1', container: 'c1', resource: 'cq', count: 1 },
      { tenant: 't1', container: 'c2', resource: 'cq', count: 1 },
    ]);
    // the limits reported as device attributes are the lower of both
    expect(guard.ceiling(container).maxCq).toBe(2);
    expect(guard.ceiling({ name: 'c2', tenant: 't1' }).maxCq).toBe(3);

    // a destroyed CQ returns its quota
    resourceHandlers.destroy_cq!(ctx, b, { cq: [...b.cqs.values()][0]!.handle }, noFds);
    cq(b)();
    expect(a.cqEntries()).toBe(62);
  });

  it('charges ring memory after the data plane laid it out, and undoes a create over the limit', async () => {
    const store = await FilePolicyStore.open(tmp(), { tenants: {}, containers: { c1: { maxRingBytes: 8192 } } }, log);
    const s = sessionOf(container);
    const guard = new QuotaGuard(store, DEFAULT_QUOTAS, { usage: () => ({ ...emptyUsage(), ringBytes: s.ringBytes }) }, log);
    const calls: string[] = [];
    const closed: number[] = [];
    const ctx = contextWith(() => guard, calls, closed);
    const create = () => resourceHandlers.create_cq!(ctx, s, { cqe: 16, channel: 0, comp_vector: 0 }, noFds);
    create();
    create();
    expect(s.ringBytes).toBe(8192);
    expect(errnoOf(create)).toBe(FfrErr.FFR_EAGAIN);
    // the refused CQ was built, then destroyed and its fd closed; nothing of it is kept
    expect(calls.slice(-2)).toEqual(['createCq 3', 'destroyCq 3']);
    expect(closed).toEqual([102]);
    expect(s.cqs.size).toBe(2);
    expect(s.ringBytes).toBe(8192);
  });
});
