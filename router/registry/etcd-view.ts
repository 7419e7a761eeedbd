// What this router knows of the cluster: containers and routers as etcd had
// them at the last revision seen, fed by full reads, the watch stream and
// this router's own writes, and turned into the registry's events.
import type { IKeyValue, IWatchResponse } from 'etcd3';
import type { Logger } from '../log.js';
import { errorMessage } from './etcd-client.js';
import { RevCache } from './etcd-cache.js';
import { decodeContainer, decodeRouter, EtcdKeys } from './etcd-keys.js';
import { tryNetnsInode } from './netns.js';
import type { Container, RegistryEvents, RouterRecord } from './registry.js';
import { findByTenantLid, findLocalByNetnsIno } from './lookup.js';

export type Emit = <K extends keyof RegistryEvents>(event: K, ...args: RegistryEvents[K]) => void;

export class ClusterView {
  private readonly containers = new RevCache<Container>();
  private readonly routerCache = new RevCache<RouterRecord>();

  constructor(
    private readonly keys: EtcdKeys,
    private readonly hostName: string,
    /** This router's record as it writes it, to tell its own puts from an impostor's. */
    private readonly selfRaw: () => string,
    private readonly log: Logger,
    private readonly emit: Emit,
    /** This router's record was deleted (its lease is gone): it must announce itself again. */
    private readonly onSelfDeleted: (key: string) => void,
  ) {}

  get containerCount(): number {
    return this.containers.size;
  }

  get routerCount(): number {
    return this.routerCache.size;
  }

  list(): Container[] {
    return this.containers.values().map((c) => ({ ...c }));
  }

  get(name: string): Container | undefined {
    const c = this.containers.get(name);
    return c && { ...c };
  }

  /** Mod revision of a container's key. */
  containerRev(name: string): number | undefined {
    return this.containers.rev(name);
  }

  /** The cached containers themselves, for scans that do not hand them out. */
  scan(): Container[] {
    return this.containers.values();
  }

  findByNetnsIno(ino: number): Container | undefined {
    return findLocalByNetnsIno(this.containers.values(), this.hostName, ino);
  }

  findByLid(tenantId: number, lid: number): Container | undefined {
    return findByTenantLid(this.containers.values(), tenantId, lid);
  }

  routers(): RouterRecord[] {
    return this.routerCache.values().map((r) => ({ ...r }));
  }

  /** A full read at `rev`: what it has is put, what the cache has beyond it was deleted by then. */
  load(containers: IKeyValue[], routers: IKeyValue[], rev: number): void {
    this.loadDir(this.containers, this.keys.containers, containers, rev, (n, raw, r) => this.applyContainer(n, raw, r), (n, r) => this.dropContainer(n, r));
    this.loadDir(this.routerCache, this.keys.routers, routers, rev, (h, raw, r) => this.applyRouter(h, raw, r), (h, r) => this.dropRouter(h, r));
  }

  private loadDir<T>(
    cache: RevCache<T>,
    dir: string,
    kvs: IKeyValue[],
    rev: number,
    put: (leaf: string, raw: string, rev: number) => void,
    drop: (leaf: string, rev: number) => void,
  ): void {
    const seen = new Set<string>();
    for (const kv of kvs) {
      const leaf = EtcdKeys.leaf(dir, kv.key.toString());
      if (leaf === undefined) continue;
      seen.add(leaf);
      put(leaf, kv.value.toString(), Number(kv.mod_revision));
    }
    for (const leaf of cache.keys()) if (!seen.has(leaf)) drop(leaf, rev);
    cache.prune(rev);
  }

  /** One response of the watch on the whole prefix: keys outside containers/ and routers/ are not cached. */
  onWatch(res: IWatchResponse): void {
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const rev = Number(ev.kv.mod_revision);
      const name = EtcdKeys.leaf(this.keys.containers, key);
      const host = name === undefined ? EtcdKeys.leaf(this.keys.routers, key) : undefined;
      if (ev.type === 'Put') {
        if (name !== undefined) this.applyContainer(name, ev.kv.value.toString(), rev);
        else if (host !== undefined) this.applyRouter(host, ev.kv.value.toString(), rev);
      } else if (name !== undefined) this.dropContainer(name, rev);
      else if (host !== undefined) {
        this.dropRouter(host, rev);
        if (host === this.hostName) this.onSelfDeleted(key);
      }
    }
    const rev = Number(res.header.revision);
    this.containers.prune(rev);
    this.routerCache.prune(rev);
  }

  warnMissingNamespaces(): void {
    for (const c of this.containers.values()) {
      if (c.host === this.hostName && tryNetnsInode(c.netns) === undefined) {
        this.log.warn(`container ${c.name}: netns ${c.netns} does not exist now; its processes will be refused until it does`);
      }
    }
  }

  applyContainer(name: string, raw: string, rev: number): void {
    let c: Container;
    try {
      c = decodeContainer(raw, name);
    } catch (err) {
      this.log.warn(`${this.keys.container(name)}: ignored, not a container: ${errorMessage(err)}`);
      this.dropContainer(name, rev);
      return;
    }
    if (c.host === this.hostName) c.netnsIno = tryNetnsInode(c.netns) ?? c.netnsIno;
    const change = this.containers.put(name, c, raw, rev);
    if (change?.prev) this.emit('removed', { ...change.prev });
    if (change?.next) this.emit('added', { ...change.next });
  }

  dropContainer(name: string, rev: number): void {
    const prev = this.containers.delete(name, rev);
    if (prev) this.emit('removed', { ...prev });
  }

  private applyRouter(host: string, raw: string, rev: number): void {
    let r: RouterRecord;
    try {
      r = decodeRouter(raw, host);
    } catch (err) {
      this.log.warn(`${this.keys.router(host)}: ignored, not a router record: ${errorMessage(err)}`);
      this.dropRouter(host, rev);
      return;
    }
    const change = this.routerCache.put(host, r, raw, rev);
    if (change === undefined) return;
    if (host === this.hostName && raw !== this.selfRaw()) {
      this.log.warn(`another router announces itself as host ${host} (pid ${r.pid}, peer ${r.peer || '-'}): two routers must not share a host name`);
    }
    if (change.prev) this.log.info(`router ${host} (id ${r.hostId}) restarted: pid ${r.pid}, peer ${r.peer || '-'}`);
    else if (host !== this.hostName) this.log.info(`router ${host} (id ${r.hostId}) is up: peer ${r.peer || '-'}, version ${r.version}`);
    this.emit('routerUp', { ...r });
  }

  private dropRouter(host: string, rev: number): void {
    const prev = this.routerCache.delete(host, rev);
    if (prev === undefined) return;
    if (host !== this.hostName) this.log.info(`router ${host} (id ${prev.hostId}) is down`);
    this.emit('routerDown', { ...prev });
  }
}
