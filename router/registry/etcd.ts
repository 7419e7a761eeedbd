import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Etcd3, Watcher } from 'etcd3';
import { eagain, eexist, einval, enoent, eperm, RouterError } from '../errors.js';
import type { Logger } from '../log.js';
import { allocId, createContainer, QpnBlocks } from './etcd-alloc.js';
import { bounded, createEtcdClient, errorMessage as message } from './etcd-client.js';
import { encodeRouter, EtcdKeys } from './etcd-keys.js';
import { RouterLease } from './etcd-lease.js';
import { ClusterView } from './etcd-view.js';
import { EtcdPolicyCache } from './etcd-policies.js';
import type { Policy } from '../policy/policy.js';
import { tryNetnsInode } from './netns.js';
import { type Container, type ContainerSpec, type Registry, type RegistryEvents, type RouterRecord } from './registry.js';
import { checkName, checkSpec, HOST_ID_MAX, TENANT_ID_MAX } from './spec.js';

export interface EtcdRegistryOptions {
  /** `http://host:port` URLs of the etcd cluster. */
  endpoints: string[];
  /** Root of every key (docs/cluster.md), e.g. `/ffr/v1`. */
  prefix: string;
  hostName: string;
  /** `addr:port` other routers dial, or "" (no peer transport). */
  peer: string;
  /** TTL of this router's lease: it disappears from the cluster this long after it stops. */
  leaseTtlS: number;
  log: Logger;
  version: string;
  /** Bound of one etcd request (default 3000 ms). */
  callTimeoutMs?: number;
}

const CALL_TIMEOUT_MS = 3000;
/** Bound of a whole write (several requests, retries after lost races). */
const WRITE_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 2000;
const RESYNC_DELAY_MIN_MS = 200;
const RESYNC_DELAY_MAX_MS = 2000;

const clock = (d: Date): string => d.toISOString().slice(11, 19);

/**
 * The cluster registry (docs/cluster.md): containers, routers and ids in
 * etcd, read through a watched cache. `healthy` while both the lease
 * keepalive and the watch stream work; when either fails, reads keep serving
 * the last known state, writes fail with EAGAIN, and a background loop
 * re-reads everything (re-announcing this router with a new lease if the old
 * one expired) until etcd answers again.
 */
export class EtcdRegistry extends EventEmitter<RegistryEvents> implements Registry {
  readonly hostName: string;
  private hostIdValue = 0;
  private readonly client: Etcd3;
  private readonly keys: EtcdKeys;
  private readonly log: Logger;
  private readonly endpointText: string;
  private readonly callTimeoutMs: number;
  private readonly self: RouterRecord;
  private readonly view: ClusterView;
  private readonly lease: RouterLease;
  private watcher: Watcher | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepaliveBusy = false;
  /** Set once open() succeeded: from then on a failure starts the resync loop. */
  private running = false;
  private closed = false;
  private healthyValue = false;
  private downSince = new Date();
  private resyncing = false;
  /** A failure seen while a resync runs: that resync may have missed it, do another. */
  private dirty = false;
  private readonly qpnBlocks: QpnBlocks;
  /** Tenant and container policies of the cluster (router/policy/etcd-store.ts reads them). */
  readonly policies: EtcdPolicyCache;

  private constructor(opts: EtcdRegistryOptions) {
    super();
    this.hostName = opts.hostName;
    this.keys = new EtcdKeys(opts.prefix);
    this.log = opts.log;
    this.endpointText = opts.endpoints.join(',');
    this.callTimeoutMs = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.self = { host: opts.hostName, hostId: 0, peer: opts.peer, pid: process.pid, version: opts.version, startedAt: new Date().toISOString() };
    this.client = createEtcdClient(opts.endpoints, this.callTimeoutMs);
    this.qpnBlocks = new QpnBlocks(this.client, this.keys, this.hostName, this.log);
    this.lease = new RouterLease(this.client, this.keys.router(this.hostName), () => encodeRouter(this.self), opts.leaseTtlS, this.callTimeoutMs, this.log);
    this.policies = new EtcdPolicyCache(this.keys, this.log, (scope, name) => this.emitSafe('policy', scope, name));
    this.view = new ClusterView(
      this.keys,
      this.hostName,
      () => encodeRouter(this.self),
      this.log,
      (event, ...args) => this.emitSafe(event, ...args),
      // The lease ran out under us (a long pause) or someone deleted the
      // record: the resync announces this router again.
      (key) => this.markUnhealthy(`${key} was deleted`),
    );
  }

  /**
   * Joins the cluster: allocates or reads this host's id, announces this
   * router under a lease, loads containers and routers and watches them.
   * Fails (EAGAIN) when etcd cannot be reached.
   */
  static async open(opts: EtcdRegistryOptions): Promise<EtcdRegistry> {
    checkName('hostName', opts.hostName);
    if (!Array.isArray(opts.endpoints) || opts.endpoints.length === 0) throw einval('etcd needs at least one endpoint');
    if (!Number.isInteger(opts.leaseTtlS) || opts.leaseTtlS < 2 || opts.leaseTtlS > 300) throw einval(`leaseTtlS must be 2..300, got ${opts.leaseTtlS}`);
    const reg = new EtcdRegistry(opts);
    try {
      reg.hostIdValue = await bounded(
        allocId(reg.client, reg.keys.counter('host'), reg.keys.host(opts.hostName), HOST_ID_MAX, 'host'),
        WRITE_TIMEOUT_MS,
        'host id',
      );
      reg.self.hostId = reg.hostIdValue;
      await reg.resync(true);
    } catch (err) {
      await reg.close().catch(() => undefined);
      if (err instanceof RouterError) throw err;
      throw eagain(`cannot open the registry: etcd ${reg.endpointText}: ${message(err)}`);
    }
    reg.running = true;
    reg.healthyValue = true;
    const period = (opts.leaseTtlS * 1000) / 3;
    reg.keepaliveTimer = setInterval(() => void reg.keepalive(), period);
    reg.keepaliveTimer.unref();
    reg.log.info(
      `joined the cluster at etcd ${reg.endpointText} (prefix ${reg.keys.root}) as host ${reg.hostName} (id ${reg.hostId}): ` +
        `${reg.view.containerCount} containers, ${reg.view.routerCount} routers`,
    );
    return reg;
  }

  get hostId(): number {
    return this.hostIdValue;
  }

  get healthy(): boolean {
    return this.healthyValue && !this.closed;
  }

  requireHealthy(what: string): void {
    if (!this.healthy) throw this.unavailable(what);
  }

  private unavailable(what: string): RouterError {
    if (this.closed) return eagain(`registry closed: ${what}`);
    return eagain(`registry unavailable (etcd ${this.endpointText} unreachable since ${clock(this.downSince)}): ${what}`);
  }

  list(): Container[] {
    return this.view.list();
  }

  get(name: string): Container | undefined {
    return this.view.get(name);
  }

  findByNetnsIno(ino: number): Container | undefined {
    return this.view.findByNetnsIno(ino);
  }

  findByLid(tenantId: number, lid: number): Container | undefined {
    return this.view.findByLid(tenantId, lid);
  }

  routers(): RouterRecord[] {
    return this.view.routers();
  }

  async add(spec: ContainerSpec): Promise<Container> {
    const { name, tenant, vip, netns, netnsIno } = checkSpec(spec);
    const what = `cannot add container ${name}`;
    this.requireHealthy(what);
    const existing = this.view.get(name);
    if (existing) throw eexist(`container ${name} already exists (on host ${existing.host})`);
    for (const c of this.view.scan()) {
      // From the cache, so a concurrent add elsewhere may slip through: VIPs
      // are the orchestrator's to keep unique, this only catches mistakes.
      if (c.tenant === tenant && c.vip === vip) throw eexist(`vip ${vip} is already used by container ${c.name} in tenant ${tenant}`);
      if (c.host === this.hostName && tryNetnsInode(c.netns) === netnsIno) throw eexist(`netns ${netns} (net:[${netnsIno}]) is already container ${c.name}`);
    }
    const { c, raw, rev } = await this.write(what, async () => {
      const tenantId = await allocId(this.client, this.keys.counter('tenant'), this.keys.tenant(tenant), TENANT_ID_MAX, 'tenant');
      const base = { name, host: this.hostName, tenant, tenantId, vip, netns, netnsIno, createdAt: new Date().toISOString() };
      return createContainer(this.client, this.keys, base);
    });
    this.log.info(`container ${name} added: tenant ${tenant} (${c.tenantId}), lid ${c.lid}, vip ${vip}, netns ${netns} net:[${netnsIno}]`);
    this.view.applyContainer(name, raw, rev);
    return { ...c };
  }

  async remove(name: string): Promise<Container> {
    const c = this.view.get(name);
    if (c === undefined) throw enoent(`no container ${name}`);
    if (c.host !== this.hostName) throw eperm(`container ${name} lives on host ${c.host}: remove it there`);
    const what = `cannot remove container ${name}`;
    this.requireHealthy(what);
    const rev = this.view.containerRev(name) ?? 0;
    const key = this.keys.container(name);
    const res = await this.write(what, () =>
      this.client
        .if(key, 'Mod', '==', rev)
        .then(this.client.delete().key(key), this.client.delete().key(this.keys.lid(c.tenantId, c.lid)))
        .else(this.client.get(key))
        .commit(),
    );
    if (!res.succeeded) {
      const now = res.responses[0]?.response_range.kvs[0];
      if (now === undefined) throw enoent(`no container ${name} (it was removed meanwhile)`);
      throw eagain(`container ${name} changed in etcd meanwhile (the cache lags): try again`);
    }
    this.log.info(`container ${name} removed (tenant ${c.tenant}, lid ${c.lid})`);
    this.view.dropContainer(name, Number(res.header.revision));
    return { ...c };
  }

  /**
   * Stores a policy (already checked) for every router; this one applies it
   * at once. `update` makes the new value from the cached one, and the write
   * only lands if etcd still has that one (two hosts changing different
   * fields at once must not lose one change): EAGAIN otherwise.
   */
  async putPolicy(scope: 'tenant' | 'container', name: string, update: (prev: Policy | undefined) => Policy): Promise<void> {
    const what = `cannot set the policy of ${scope} ${name}`;
    this.requireHealthy(what);
    const key = this.keys.policy(scope, name);
    const rev = this.policies.rev(scope, name) ?? 0;
    const raw = JSON.stringify(update(this.policies.map(scope).get(name)));
    const res = await this.write(what, () => this.client.if(key, 'Mod', '==', rev).then(this.client.put(key).value(raw)).commit());
    if (!res.succeeded) throw eagain(`the policy of ${scope} ${name} changed in etcd meanwhile (the cache lags): try again`);
    this.policies.apply(scope, name, raw, Number(res.header.revision));
  }

  /** Deletes a stored policy; false if there was none. */
  async deletePolicy(scope: 'tenant' | 'container', name: string): Promise<boolean> {
    const what = `cannot remove the policy of ${scope} ${name}`;
    this.requireHealthy(what);
    const res = await this.write(what, () => this.client.delete().key(this.keys.policy(scope, name)).exec());
    if (Number(res.deleted) === 0) return false;
    this.policies.drop(scope, name, Number(res.header.revision));
    return true;
  }

  async claimQpnBlock(): Promise<number> {
    const what = 'cannot claim a QPN block';
    this.requireHealthy(what);
    return this.write(what, () => this.qpnBlocks.claim());
  }

  /**
   * Leaves the cluster. The lease is revoked (peers see routerDown at once)
   * unless `revoke` is false: then the router record stays until its TTL runs
   * out, as after a crash (tests use that to simulate one).
   */
  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.healthyValue = false;
    clearInterval(this.keepaliveTimer);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await bounded(w.cancel(), CLOSE_TIMEOUT_MS / 2, 'watch cancel').catch(() => undefined);
    await this.lease.close(opts.revoke !== false, CLOSE_TIMEOUT_MS);
    this.client.close();
  }

  /** Runs a write; a failure of etcd itself (not a RouterError) makes the registry unhealthy and the caller get EAGAIN. */
  private async write<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await bounded(f(), WRITE_TIMEOUT_MS, what);
    } catch (err) {
      if (err instanceof RouterError) throw err;
      this.markUnhealthy(message(err));
      throw eagain(`${this.unavailable(what).message}: ${message(err)}`);
    }
  }

  private async keepalive(): Promise<void> {
    if (!this.healthy || this.keepaliveBusy) return;
    this.keepaliveBusy = true;
    try {
      await this.lease.keepalive(Math.min(this.callTimeoutMs, (this.lease.ttlS * 1000) / 3));
    } catch (err) {
      this.markUnhealthy(`lease keepalive failed: ${message(err)}`);
    } finally {
      this.keepaliveBusy = false;
    }
  }

  private markUnhealthy(cause: string): void {
    if (this.closed || !this.running) return;
    this.dirty = true;
    if (this.healthyValue) {
      this.healthyValue = false;
      this.downSince = new Date();
      this.log.warn(`lost etcd ${this.endpointText}: ${cause}; containers and routers are served from the cache, registry writes fail with EAGAIN until it is back`);
      this.emitSafe('health', false);
    }
    if (!this.resyncing) void this.resyncLoop();
  }

  private async resyncLoop(): Promise<void> {
    this.resyncing = true;
    let wait = RESYNC_DELAY_MIN_MS;
    let lastError = '';
    try {
      while (!this.closed) {
        await delay(wait);
        if (this.closed) return;
        this.dirty = false;
        try {
          await this.resync(false);
          if (!this.dirty) break;
        } catch (err) {
          if (message(err) !== lastError) this.log.debug(`resync with etcd failed: ${message(err)}`);
          lastError = message(err);
          wait = Math.min(wait * 2, RESYNC_DELAY_MAX_MS);
        }
      }
      if (this.closed) return;
      this.healthyValue = true;
      const s = ((Date.now() - this.downSince.getTime()) / 1000).toFixed(1);
      this.log.info(`etcd ${this.endpointText} is back after ${s} s: resynchronized (${this.view.containerCount} containers, ${this.view.routerCount} routers)`);
      this.emitSafe('health', true);
    } finally {
      this.resyncing = false;
    }
  }

  /** Lease and router record, then one read of containers and routers, then a watch from its revision. */
  private async resync(initial: boolean): Promise<void> {
    const old = this.watcher;
    this.watcher = undefined;
    if (old) await bounded(old.cancel(), this.callTimeoutMs, 'watch cancel').catch(() => undefined);
    this.checkOpen();
    if (initial) await this.lease.checkPrevious();
    await this.lease.announce(() => this.closed);
    this.checkOpen();
    const rev = await this.load(initial);
    this.checkOpen();
    await this.watch(rev);
  }

  /**
   * A resync racing close() must stop: a watcher created on a closed client
   * would retry forever, a lease granted after close() would announce a
   * router that is gone.
   */
  private checkOpen(): void {
    if (this.closed) throw new Error('registry closed');
  }

  /** Reads containers and routers at one revision into the cache; returns that revision. */
  private async load(initial: boolean): Promise<number> {
    const ops = await Promise.all([
      this.client.getAll().prefix(this.keys.containers).op(),
      this.client.getAll().prefix(this.keys.routers).op(),
      this.client.getAll().prefix(this.keys.policies).op(),
    ]);
    // One transaction of three reads: all at the same revision.
    const res = await bounded(this.client.kv.txn({ success: ops }), this.callTimeoutMs + 500, 'load');
    const rev = Number(res.header.revision);
    this.view.load(res.responses[0]?.response_range.kvs ?? [], res.responses[1]?.response_range.kvs ?? [], rev);
    this.policies.load(res.responses[2]?.response_range.kvs ?? [], rev);
    if (initial) this.view.warnMissingNamespaces();
    return rev;
  }

  private async watch(rev: number): Promise<void> {
    const w = this.client.watch().prefix(this.keys.root + '/').startRevision(String(rev + 1)).watcher();
    this.watcher = w;
    w.on('data', (res) => {
      if (w !== this.watcher) return;
      this.view.onWatch(res);
      this.policies.onWatch(res);
    });
    w.on('disconnected', (err) => {
      if (w === this.watcher) this.markUnhealthy(`watch stream lost: ${message(err)}`);
    });
    w.on('error', (err) => {
      if (w === this.watcher) this.markUnhealthy(`watch canceled: ${message(err)}`);
    });
    await bounded(
      new Promise<void>((resolve, reject) => {
        w.once('connected', () => resolve());
        w.once('disconnected', reject);
        w.once('error', reject);
      }),
      this.callTimeoutMs,
      'watch',
    );
  }

  /** A listener's bug must not leave the cache half-applied (the watch callback would swallow the rest of the batch). */
  private emitSafe<K extends keyof RegistryEvents>(event: K, ...args: RegistryEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: RegistryEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error(`registry ${event} listener failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
}
