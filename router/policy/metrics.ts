import { Counter, Gauge, type Registry as PromRegistry } from 'prom-client';
import type { Container } from '../registry/registry.js';
import { QUOTA_OF, QUOTA_RESOURCES, type QuotaGuard, type UsageSource } from './guard.js';

export interface QuotaMetricsSource extends UsageSource {
  /** The containers of this host (their tenants are the tenants shown). */
  containers(): Container[];
}

/**
 * Quota use, limits and refusals per tenant and per container, pulled at
 * scrape time. Labels are bounded by what is registered: no per-QP or
 * per-session series.
 */
export function registerQuotaMetrics(registry: PromRegistry, guard: QuotaGuard, source: QuotaMetricsSource): void {
  const registers = [registry];
  const scopes = (): { scope: 'tenant' | 'container'; name: string; c: Container }[] => {
    const out: { scope: 'tenant' | 'container'; name: string; c: Container }[] = [];
    const tenants = new Map<string, Container>();
    for (const c of source.containers()) {
      out.push({ scope: 'container', name: c.name, c });
      if (!tenants.has(c.tenant)) tenants.set(c.tenant, c);
    }
    for (const [t, c] of tenants) out.push({ scope: 'tenant', name: t, c });
    return out;
  };
  new Gauge({
    name: 'ffr_quota_used',
    help: 'What a tenant or container holds now, per quota resource (objects, entries or bytes), over its live sessions on this host.',
    labelNames: ['scope', 'name', 'resource'] as const,
    registers,
    collect() {
      this.reset();
      for (const { scope, name } of scopes()) {
        const u = source.usage(scope, name);
        for (const r of QUOTA_RESOURCES) this.set({ scope, name, resource: r }, u[r]);
      }
    },
  });
  new Gauge({
    name: 'ffr_quota_limit',
    help: 'The limit of a tenant or container per quota resource (a tenant without one has no series for it).',
    labelNames: ['scope', 'name', 'resource'] as const,
    registers,
    collect() {
      this.reset();
      for (const { scope, name, c } of scopes()) {
        const lim = guard.limits(c);
        for (const r of QUOTA_RESOURCES) {
          const v = scope === 'container' ? lim.container[QUOTA_OF[r]] : lim.tenant[QUOTA_OF[r]];
          if (v !== undefined) this.set({ scope, name, resource: r }, v);
        }
      }
    },
  });
  new Counter({
    name: 'ffr_quota_refusals_total',
    help: 'Creates (and sessions) refused with EAGAIN because a container or tenant quota was reached.',
    labelNames: ['tenant', 'container', 'resource'] as const,
    registers,
    collect() {
      this.reset();
      for (const r of guard.refusals()) this.inc({ tenant: r.tenant, container: r.container, resource: r.resource }, r.count);
    },
  });
}
