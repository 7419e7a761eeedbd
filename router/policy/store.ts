import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicFile } from '../atomic-file.js';
import { enoent } from '../errors.js';
import type { Logger } from '../log.js';
import { checkName } from '../registry/spec.js';
import { applyPatch, checkPatch, checkPolicy, type Policy, type PolicyScope } from './policy.js';

/** Policies of the config file: the base that stored changes (ffctl, admin API) apply over. */
export interface PolicyConfig {
  tenants: Record<string, Policy>;
  containers: Record<string, Policy>;
}

export const EMPTY_POLICY_CONFIG: Readonly<PolicyConfig> = Object.freeze({ tenants: {}, containers: {} });

export interface PolicyStoreEvents {
  /** A tenant's or container's effective policy changed (set, rm, or a watch event). */
  changed: [PolicyScope, string];
}

/**
 * Tenant and container policies as the router applies them. Reads are
 * synchronous from memory (quota checks are on the control path); writes
 * persist before they take effect. Errors are RouterError: EINVAL naming a
 * bad field, ENOENT for `remove` of a policy that is not stored.
 */
export interface PolicyStore extends EventEmitter<PolicyStoreEvents> {
  /** The effective policy: the config file's, with the stored fields over it ({} when neither has one). */
  get(scope: PolicyScope, name: string): Policy;
  /** Every name with a config or stored policy, and its effective policy. */
  list(scope: PolicyScope): [string, Policy][];
  /** Applies a change (values replace, nulls clear) to the stored policy; returns the effective one. */
  set(scope: PolicyScope, name: string, patch: unknown): Promise<Policy>;
  /** Removes the stored policy (the config file's, if any, applies again); returns the effective one. */
  remove(scope: PolicyScope, name: string): Promise<Policy>;
  close(): Promise<void>;
}

const FILE_VERSION = 1;
const SCOPES: readonly PolicyScope[] = ['tenant', 'container'];

interface PolicyFile {
  version: number;
  tenants: Record<string, Policy>;
  containers: Record<string, Policy>;
}

/** Shared by every store: config base, stored layer (the subclass's), effective view. */
export abstract class LayeredPolicies extends EventEmitter<PolicyStoreEvents> {
  constructor(protected readonly config: PolicyConfig) {
    super();
  }

  /** The stored policies of one scope, as the backing store has them now. */
  protected abstract storedMap(scope: PolicyScope): ReadonlyMap<string, Policy>;

  get(scope: PolicyScope, name: string): Policy {
    const base = (scope === 'tenant' ? this.config.tenants : this.config.containers)[name] ?? {};
    return { ...base, ...this.storedMap(scope).get(name) };
  }

  list(scope: PolicyScope): [string, Policy][] {
    const names = new Set([...Object.keys(scope === 'tenant' ? this.config.tenants : this.config.containers), ...this.storedMap(scope).keys()]);
    return [...names].sort().map((n) => [n, this.get(scope, n)]);
  }
}

/**
 * The single-host store: `<stateDir>/policies.json`, written atomically.
 * In a cluster the etcd store takes its place, so one command reaches every
 * router.
 */
export class FilePolicyStore extends LayeredPolicies implements PolicyStore {
  private readonly file: AtomicFile;
  private readonly stored: Record<PolicyScope, Map<string, Policy>> = { tenant: new Map(), container: new Map() };

  private constructor(
    stateDir: string,
    config: PolicyConfig,
    private readonly log: Logger,
  ) {
    super(config);
    this.file = new AtomicFile(join(stateDir, 'policies.json'));
  }

  protected storedMap(scope: PolicyScope): ReadonlyMap<string, Policy> {
    return this.stored[scope];
  }

  static async open(stateDir: string, config: PolicyConfig, log: Logger): Promise<FilePolicyStore> {
    const store = new FilePolicyStore(stateDir, config, log);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    const state = (await this.file.readJson()) as PolicyFile | undefined;
    if (state === undefined) return;
    if (typeof state !== 'object' || state === null || state.version !== FILE_VERSION || typeof state.tenants !== 'object' || typeof state.containers !== 'object') {
      throw new Error(`${this.file.path}: unsupported format (expected version ${FILE_VERSION})`);
    }
    for (const scope of SCOPES) {
      for (const [name, p] of Object.entries(scope === 'tenant' ? state.tenants : state.containers)) {
        this.stored[scope].set(checkName(scope, name), checkPolicy(p, `${this.file.path}: ${scope} ${name}: `));
      }
    }
    this.log.info(`loaded ${this.stored.tenant.size} tenant and ${this.stored.container.size} container policies from ${this.file.path}`);
  }

  async set(scope: PolicyScope, name: string, patch: unknown): Promise<Policy> {
    checkName(scope, name);
    const change = checkPatch(patch);
    const prev = this.stored[scope].get(name);
    const next = applyPatch(prev ?? {}, change);
    this.stored[scope].set(name, next);
    try {
      await this.persist();
    } catch (err) {
      if (prev) this.stored[scope].set(name, prev);
      else this.stored[scope].delete(name);
      throw err;
    }
    this.log.info(`${scope} ${name}: policy set ${JSON.stringify(change)}`);
    this.emit('changed', scope, name);
    return this.get(scope, name);
  }

  async remove(scope: PolicyScope, name: string): Promise<Policy> {
    const prev = this.stored[scope].get(name);
    if (prev === undefined) throw enoent(`no stored policy for ${scope} ${name}`);
    this.stored[scope].delete(name);
    try {
      await this.persist();
    } catch (err) {
      this.stored[scope].set(name, prev);
      throw err;
    }
    this.log.info(`${scope} ${name}: stored policy removed`);
    this.emit('changed', scope, name);
    return this.get(scope, name);
  }

  close(): Promise<void> {
    return this.file.flush();
  }

  private persist(): Promise<void> {
    const sorted = (m: Map<string, Policy>): Record<string, Policy> => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    const state: PolicyFile = { version: FILE_VERSION, tenants: sorted(this.stored.tenant), containers: sorted(this.stored.container) };
    return this.file.write(JSON.stringify(state, null, 2) + '\n');
  }
}
