import { eagain } from '../errors.js';
import type { Logger } from '../log.js';
import { QUOTA_KEYS, type Quotas } from './quotas.js';
import type { Container } from '../registry/registry.js';
import type { ObjectKind } from '../session/objects.js';
import { POLICY_FLAGS } from './policy.js';
import type { PolicyStore } from './store.js';

/** What a quota counts: verbs objects, and the amounts beside them. */
export type QuotaResource = ObjectKind | 'registeredBytes' | 'cqe' | 'ringBytes' | 'sessions';

export const QUOTA_OF: Readonly<Record<QuotaResource, keyof Quotas>> = {
  pd: 'maxPd',
  mr: 'maxMr',
  cq: 'maxCq',
  qp: 'maxQp',
  srq: 'maxSrq',
  ah: 'maxAh',
  channel: 'maxChannel',
  registeredBytes: 'maxRegisteredBytes',
  cqe: 'maxCqe',
  ringBytes: 'maxRingBytes',
  sessions: 'maxSessions',
};
export const QUOTA_RESOURCES = Object.keys(QUOTA_OF) as QuotaResource[];

/** Use of every resource, by one container or one tenant (summed over its live sessions on this host). */
export type Usage = Record<QuotaResource, number>;

export function emptyUsage(): Usage {
  return { pd: 0, mr: 0, cq: 0, qp: 0, srq: 0, ah: 0, channel: 0, registeredBytes: 0, cqe: 0, ringBytes: 0, sessions: 0 };
}

export interface UsageSource {
  usage(scope: 'tenant' | 'container', name: string): Usage;
}

/** Effective limits of one container: its own (policy over the router's defaults) and its tenant's (unset = none). */
export interface Limits {
  container: Quotas;
  tenant: Partial<Quotas>;
}

/**
 * The quota check of every create, as the kernel's rdma cgroup charges one:
 * a container's limits nest inside its tenant's, both are counted over the
 * live sessions on this host (docs/isolation.md), and a refusal is EAGAIN,
 * the errno `rdmacg_try_charge` gives, with a log line naming tenant,
 * container, resource and limit, and a counter.
 */
export class QuotaGuard {
  /** Refusals by tenant, container and resource, for the metrics. */
  private readonly refused = new Map<string, { tenant: string; container: string; resource: QuotaResource; count: number }>();

  constructor(
    private readonly policies: PolicyStore,
    private readonly defaults: Quotas,
    private readonly usageSource: UsageSource,
    private readonly log: Logger,
  ) {}

  limits(c: Pick<Container, 'name' | 'tenant'>): Limits {
    const own = this.policies.get('container', c.name);
    const ten = this.policies.get('tenant', c.tenant);
    const container = {} as Quotas;
    const tenant: Partial<Quotas> = {};
    for (const k of QUOTA_KEYS) {
      container[k] = own[k] ?? this.defaults[k];
      if (ten[k] !== undefined) tenant[k] = ten[k];
    }
    return { container, tenant };
  }

  /** What the container may hold at most: the lower of its limit and its tenant's (device attributes). */
  ceiling(c: Pick<Container, 'name' | 'tenant'>): Quotas {
    const { container, tenant } = this.limits(c);
    const out = { ...container };
    for (const k of QUOTA_KEYS) out[k] = Math.min(container[k], tenant[k] ?? Infinity);
    return out;
  }

  /** Throws EAGAIN if `amount` more of `resource` would exceed the container's or its tenant's limit. */
  check(c: Pick<Container, 'name' | 'tenant'>, resource: QuotaResource, amount = 1): void {
    const key = QUOTA_OF[resource];
    const { container, tenant } = this.limits(c);
    const mine = this.usageSource.usage('container', c.name)[resource];
    if (mine + amount > container[key]) this.refuse(c, resource, 'container', c.name, mine, amount, container[key]);
    const lim = tenant[key];
    if (lim !== undefined) {
      const theirs = this.usageSource.usage('tenant', c.tenant)[resource];
      if (theirs + amount > lim) this.refuse(c, resource, 'tenant', c.tenant, theirs, amount, lim);
    }
  }

  refusals(): { tenant: string; container: string; resource: QuotaResource; count: number }[] {
    return [...this.refused.values()].map((r) => ({ ...r }));
  }

  /** A removed container's series end with it. */
  forget(container: string): void {
    for (const [k, r] of this.refused) if (r.container === container) this.refused.delete(k);
  }

  private refuse(
    c: Pick<Container, 'name' | 'tenant'>,
    resource: QuotaResource,
    scope: 'tenant' | 'container',
    name: string,
    used: number,
    amount: number,
    limit: number,
  ): never {
    const k = `${c.tenant}\0${c.name}\0${resource}`;
    const r = this.refused.get(k) ?? { tenant: c.tenant, container: c.name, resource, count: 0 };
    r.count++;
    this.refused.set(k, r);
    const msg = `quota: tenant ${c.tenant} container ${c.name}: ${resource} +${amount} refused: ${scope} ${name} holds ${used}, --${POLICY_FLAGS[QUOTA_OF[resource]]} ${limit}`;
    this.log.warn(msg);
    throw eagain(msg);
  }
}
