// Tenant and container policies as etcd has them (`P/policies/tenant/NAME`,
// `P/policies/container/NAME`), cached from the registry's one read and one
// watch, so every router applies a policy set on any of them.
import type { IKeyValue, IWatchResponse } from 'etcd3';
import type { Logger } from '../log.js';
import { checkPolicy, type Policy, type PolicyScope } from '../policy/policy.js';
import { errorMessage } from './etcd-client.js';
import { RevCache } from './etcd-cache.js';
import { EtcdKeys } from './etcd-keys.js';
import { NAME_RE } from './spec.js';

const SCOPES: readonly PolicyScope[] = ['tenant', 'container'];

export class EtcdPolicyCache {
  private readonly caches: Record<PolicyScope, RevCache<Policy>> = { tenant: new RevCache(), container: new RevCache() };

  constructor(
    private readonly keys: EtcdKeys,
    private readonly log: Logger,
    /** A policy's value changed (or it went away). */
    private readonly onChange: (scope: PolicyScope, name: string) => void,
  ) {}

  map(scope: PolicyScope): ReadonlyMap<string, Policy> {
    const c = this.caches[scope];
    return new Map(c.keys().map((k) => [k, c.get(k)!]));
  }

  rev(scope: PolicyScope, name: string): number | undefined {
    return this.caches[scope].rev(name);
  }

  /** A full read at `rev` (every key under P/policies/). */
  load(kvs: IKeyValue[], rev: number): void {
    const seen: Record<PolicyScope, Set<string>> = { tenant: new Set(), container: new Set() };
    for (const kv of kvs) {
      const at = this.parse(kv.key.toString());
      if (at === undefined) continue;
      seen[at.scope].add(at.name);
      this.apply(at.scope, at.name, kv.value.toString(), Number(kv.mod_revision));
    }
    for (const scope of SCOPES) {
      for (const name of this.caches[scope].keys()) if (!seen[scope].has(name)) this.drop(scope, name, rev);
      this.caches[scope].prune(rev);
    }
  }

  onWatch(res: IWatchResponse): void {
    for (const ev of res.events) {
      const at = this.parse(ev.kv.key.toString());
      if (at === undefined) continue;
      const rev = Number(ev.kv.mod_revision);
      if (ev.type === 'Put') this.apply(at.scope, at.name, ev.kv.value.toString(), rev);
      else this.drop(at.scope, at.name, rev);
    }
    for (const scope of SCOPES) this.caches[scope].prune(Number(res.header.revision));
  }

  /** A value written here or read from etcd; a bad one (another version, a hand edit) is ignored with a log line. */
  apply(scope: PolicyScope, name: string, raw: string, rev: number): void {
    let p: Policy;
    try {
      p = checkPolicy(JSON.parse(raw));
    } catch (err) {
      this.log.warn(`${this.keys.policy(scope, name)}: ignored, not a policy this router applies: ${errorMessage(err)}`);
      this.drop(scope, name, rev);
      return;
    }
    if (this.caches[scope].put(name, p, raw, rev)) this.onChange(scope, name);
  }

  drop(scope: PolicyScope, name: string, rev: number): void {
    if (this.caches[scope].delete(name, rev) !== undefined) this.onChange(scope, name);
  }

  private parse(key: string): { scope: PolicyScope; name: string } | undefined {
    for (const scope of SCOPES) {
      const name = EtcdKeys.leaf(this.keys.policyDir(scope), key);
      if (name !== undefined && NAME_RE.test(name)) return { scope, name };
    }
    return undefined;
  }
}
