// Control-path unit tests: policies reach the data plane's weights, classes
// and caps (TargetSync) for this host's tenants and containers, and leave it
// when cleared or when the container goes; fake data plane and registry.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger, LogLevel } from '../router/log.js';
import type { DataPlane } from '../router/native.js';
import { RateCaps } from '../router/policy/caps.js';
import { FilePolicyStore } from '../router/policy/store.js';
import { SchedWeights } from '../router/policy/weights.js';
import type { Container, Registry } from '../router/registry/registry.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const log = new Logger(LogLevel.Error, 'test', () => undefined);

class FakeRegistry extends EventEmitter {
  readonly hostName = 'h1';
  containers: Container[] = [];
  list(): Container[] { return this.containers; }
}

const container = (name: string, tenant: string, tenantId: number, lid: number, host = 'h1') =>
  ({ name, tenant, tenantId, lid, host }) as unknown as Container;

describe('policies to the data plane', () => {
  it('pushes weights and classes of local tenants and containers, and clears them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffr-sync-'));
    dirs.push(dir);
    const store = await FilePolicyStore.open(dir, { tenants: {}, containers: {} }, log);
    const reg = new FakeRegistry();
    reg.containers = [container('a1', 'ta', 5, 1), container('a2', 'ta', 5, 2), container('x1', 'ta', 5, 3, 'h2')];
    const calls: string[] = [];
    const dp = {
      setSched: (t: number, l: number, o: { weight: number; cls?: number }) => calls.push(`sched ${t}:${l} w${o.weight} c${o.cls ?? '-'}`),
      setLimit: (t: number, l: number, o: { bytesPerS: number; wrsPerS: number }) => calls.push(`limit ${t}:${l} ${o.bytesPerS} ${o.wrsPerS}`),
    } as unknown as DataPlane;
    new SchedWeights(dp, reg as unknown as Registry, store, log).start();
    new RateCaps(dp, reg as unknown as Registry, store, log).start();
    expect(calls).toEqual([]);  // defaults everywhere: nothing to hold

    await store.set('tenant', 'ta', { weight: 3 });
    await store.set('container', 'a2', { class: 'latency', rate: '1Gbit' });
    await store.set('container', 'x1', { weight: 9 });  // another host's container: not this data plane's
    expect(calls).toEqual(['sched 5:0 w3 c-', 'sched 5:2 w1 c1', 'limit 5:2 125000000 0']);

    calls.length = 0;
    await store.set('tenant', 'ta', { weight: 3, rate: '2Gbit' });  // same weight: no new push for it
    expect(calls).toEqual(['limit 5:0 250000000 0']);

    calls.length = 0;
    reg.containers = reg.containers.filter((c) => c.name !== 'a2');
    reg.emit('removed');
    expect(calls.sort()).toEqual(['limit 5:2 0 0', 'sched 5:2 w1 c-']);

    calls.length = 0;
    await store.remove('tenant', 'ta');
    expect(calls.sort()).toEqual(['limit 5:0 0 0', 'sched 5:0 w1 c-']);
    await store.close();
  });
});
