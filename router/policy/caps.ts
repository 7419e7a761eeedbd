import type { Logger } from '../log.js';
import type { DataPlane } from '../native.js';
import type { Container, Registry } from '../registry/registry.js';
import type { PolicyStore } from './store.js';

interface Caps {
  bytesPerS: number;
  wrsPerS: number;
}

/**
 * Keeps the data plane's rate caps equal to the policies: one limiter per
 * capped tenant (its aggregate on this host) and one per capped container of
 * this host, pushed whenever a policy or the set of containers changes, so a
 * new cap applies to running traffic at the next work request.
 */
export class RateCaps {
  /** What the data plane has now, by `tenantId:lid` (lid 0 = the tenant's). */
  private readonly pushed = new Map<string, Caps>();

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly registry: Registry,
    private readonly policies: PolicyStore,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.policies.on('changed', () => this.sync());
    this.registry.on('added', () => this.sync());
    this.registry.on('removed', () => this.sync());
    this.sync();
  }

  sync(): void {
    const want = new Map<string, Caps & { tenant: number; lid: number; what: string }>();
    const local = this.registry.list().filter((c) => c.host === this.registry.hostName);
    const add = (tenant: number, lid: number, what: string, p: { rate?: number; msgRate?: number }): void => {
      if (p.rate === undefined && p.msgRate === undefined) return;
      want.set(`${tenant}:${lid}`, { tenant, lid, what, bytesPerS: p.rate ?? 0, wrsPerS: p.msgRate ?? 0 });
    };
    const tenants = new Map<string, Container>();
    for (const c of local) {
      add(c.tenantId, c.lid, `container ${c.name}`, this.policies.get('container', c.name));
      tenants.set(c.tenant, c);
    }
    for (const [t, c] of tenants) add(c.tenantId, 0, `tenant ${t}`, this.policies.get('tenant', t));
    for (const [key, caps] of this.pushed) {
      if (want.has(key)) continue;
      const [tenant, lid] = key.split(':').map(Number) as [number, number];
      this.dataPlane.setLimit(tenant, lid, { bytesPerS: 0, wrsPerS: 0 });
      this.pushed.delete(key);
      this.log.info(`rate cap removed (tenant id ${tenant}, lid ${lid}; was ${caps.bytesPerS} B/s, ${caps.wrsPerS} WR/s)`);
    }
    for (const [key, w] of want) {
      const had = this.pushed.get(key);
      if (had?.bytesPerS === w.bytesPerS && had.wrsPerS === w.wrsPerS) continue;
      this.dataPlane.setLimit(w.tenant, w.lid, { bytesPerS: w.bytesPerS, wrsPerS: w.wrsPerS });
      this.pushed.set(key, { bytesPerS: w.bytesPerS, wrsPerS: w.wrsPerS });
      this.log.info(`${w.what}: rate cap ${w.bytesPerS || 'none'} B/s, ${w.wrsPerS || 'none'} WR/s`);
    }
  }
}
