import type { Logger } from '../log.js';
import type { DataPlane } from '../native.js';
import type { Registry } from '../registry/registry.js';
import type { Policy } from './policy.js';
import type { PolicyStore } from './store.js';

/**
 * Keeps one kind of the data plane's per-tenant and per-container state
 * (rate caps, scheduler weights) equal to the policies: one entry per
 * tenant with containers here (lid 0: its aggregate on this host) and per
 * container here, pushed whenever a policy or the set of containers
 * changes, so a change applies to running traffic at the next work request.
 */
export abstract class TargetSync<T> {
  /** What the data plane holds now, by `tenantId:lid`. */
  private readonly pushed = new Map<string, T>();

  constructor(
    protected readonly dataPlane: DataPlane,
    protected readonly registry: Registry,
    protected readonly policies: PolicyStore,
    protected readonly log: Logger,
  ) {}

  start(): void {
    this.policies.on('changed', () => this.sync());
    this.registry.on('added', () => this.sync());
    this.registry.on('removed', () => this.sync());
    this.sync();
  }

  /** What a policy asks of the data plane; undefined: its defaults (nothing held). */
  protected abstract want(p: Policy): T | undefined;
  /** Sets (or with undefined, clears) one entry in the data plane. */
  protected abstract push(tenant: number, lid: number, v: T | undefined): void;
  protected abstract same(a: T, b: T): boolean;
  /** For the log line of a change. */
  protected abstract describe(v: T | undefined): string;

  sync(): void {
    const want = new Map<string, { tenant: number; lid: number; what: string; v: T }>();
    const tenants = new Map<string, number>();
    const add = (tenant: number, lid: number, what: string, p: Policy): void => {
      const v = this.want(p);
      if (v !== undefined) want.set(`${tenant}:${lid}`, { tenant, lid, what, v });
    };
    for (const c of this.registry.list()) {
      if (c.host !== this.registry.hostName) continue;
      add(c.tenantId, c.lid, `container ${c.name}`, this.policies.get('container', c.name));
      tenants.set(c.tenant, c.tenantId);
    }
    for (const [name, id] of tenants) add(id, 0, `tenant ${name}`, this.policies.get('tenant', name));
    for (const [key, had] of this.pushed) {
      if (want.has(key)) continue;
      const [tenant, lid] = key.split(':').map(Number) as [number, number];
      this.push(tenant, lid, undefined);
      this.pushed.delete(key);
      this.log.info(`tenant id ${tenant}, lid ${lid}: ${this.describe(undefined)} (was ${this.describe(had)})`);
    }
    for (const [key, w] of want) {
      const had = this.pushed.get(key);
      if (had !== undefined && this.same(had, w.v)) continue;
      this.push(w.tenant, w.lid, w.v);
      this.pushed.set(key, w.v);
      this.log.info(`${w.what}: ${this.describe(w.v)}`);
    }
  }
}
