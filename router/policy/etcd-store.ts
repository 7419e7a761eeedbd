import { enoent } from '../errors.js';
import type { Logger } from '../log.js';
import type { EtcdRegistry } from '../registry/etcd.js';
import { checkName } from '../registry/spec.js';
import { applyPatch, checkPatch, type Policy, type PolicyScope } from './policy.js';
import { LayeredPolicies, type PolicyConfig, type PolicyStore } from './store.js';

/**
 * The cluster store: policies in etcd, read from the registry's watched
 * cache, so `ffctl tenant set` on any host reaches every router within the
 * watch's delay. Writes need etcd (EAGAIN while it is unreachable); reads
 * serve the last known state, as for containers.
 */
export class EtcdPolicyStore extends LayeredPolicies implements PolicyStore {
  constructor(
    private readonly registry: EtcdRegistry,
    config: PolicyConfig,
    private readonly log: Logger,
  ) {
    super(config);
    registry.on('policy', (scope, name) => {
      this.log.info(`${scope} ${name}: policy now ${JSON.stringify(this.get(scope, name))}`);
      this.emit('changed', scope, name);
    });
  }

  protected storedMap(scope: PolicyScope): ReadonlyMap<string, Policy> {
    return this.registry.policies.map(scope);
  }

  async set(scope: PolicyScope, name: string, patch: unknown): Promise<Policy> {
    checkName(scope, name);
    const change = checkPatch(patch);
    await this.registry.putPolicy(scope, name, (prev) => applyPatch(prev ?? {}, change));
    return this.get(scope, name);
  }

  async remove(scope: PolicyScope, name: string): Promise<Policy> {
    if (!(await this.registry.deletePolicy(scope, name))) throw enoent(`no stored policy for ${scope} ${name}`);
    return this.get(scope, name);
  }

  async close(): Promise<void> {}
}
