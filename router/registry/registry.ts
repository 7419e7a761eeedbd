import type { EventEmitter } from 'node:events';

/** A registered container: the unit of identity, tenancy and quota. */
export interface Container {
  name: string;
  /** hostName of the router the container lives on (its namespace is there). */
  host: string;
  /** Tenant (virtual network) name; tenants are walls. */
  tenant: string;
  /** Numeric tenant id, allocated per tenant name, stable for the life of the state dir (or of the etcd keyspace). */
  tenantId: number;
  /** The container's virtual IP (what the orchestrator assigned). */
  vip: string;
  /** Network namespace path: /run/netns/NAME or /proc/PID/ns/net. */
  netns: string;
  /** Inode of the namespace at the last stat (add time, refreshed on lookup). */
  netnsIno: number;
  /** Port LID, unique within the tenant (across hosts), from 1. */
  lid: number;
  /** Port GID (gid[0]) in colon form; it follows from tenantId and lid (design.md "Device"). */
  gid: string;
  createdAt: string;
}

/** The colon form of a port's GID[0]: fe80::/64 and the port GUID, which holds tenant and LID. */
export function portGidText(tenantId: number, lid: number): string {
  const guid = 0x02ff_ff00_0000_0000n | (BigInt(tenantId) << 16n) | BigInt(lid);
  const words = ['fe80', '0000', '0000', '0000'];
  for (let i = 3; i >= 0; i--) words.push(((guid >> BigInt(16 * i)) & 0xffffn).toString(16).padStart(4, '0'));
  return words.join(':');
}

/** What an operator supplies; the rest is allocated. */
export interface ContainerSpec {
  name: string;
  tenant: string;
  vip: string;
  /** A name under /run/netns or an absolute path. */
  netns: string;
}

/** A router of the cluster, as it announces itself (etcd `P/routers/<host>`). */
export interface RouterRecord {
  host: string;
  hostId: number;
  /** `addr:port` other routers dial for the peer transport, or "" (single host). */
  peer: string;
  pid: number;
  version: string;
  startedAt: string;
}

export interface RegistryEvents {
  added: [Container];
  removed: [Container];
  /** A router appeared, or its record changed (it restarted: new pid, maybe new peer address). */
  routerUp: [RouterRecord];
  routerDown: [RouterRecord];
  /** The registry lost (false) or regained (true) its backing store. */
  health: [boolean];
  /** A tenant's or container's stored policy changed in the cluster store (etcd only). */
  policy: ['tenant' | 'container', string];
}

/** QPNs are handed out in blocks of this many; block n is QPNs n*QPN_BLOCK_SIZE.. (docs/cluster.md). */
export const QPN_BLOCK_SIZE = 4096;
/** The 24-bit QPN space holds this many blocks. */
export const QPN_BLOCKS = 4096;

/**
 * The container table of the cluster (or of the one host). Writes are async
 * (they persist, or go to etcd); reads are synchronous from memory, because
 * the session path looks containers up on every hello and RTR and an
 * etcd-backed implementation keeps a watched cache anyway. Errors are
 * RouterError: EINVAL for a bad spec, EEXIST for a duplicate, ENOENT for an
 * unknown name, EPERM for a container of another host, EAGAIN while the
 * backing store is unreachable.
 */
export interface Registry extends EventEmitter<RegistryEvents> {
  /** This router's name in the cluster. */
  readonly hostName: string;
  /** This router's cluster-wide numeric id (u32 >= 1; 1 for the embedded registry). */
  readonly hostId: number;
  /** False while the backing store is unreachable: reads serve the last known state, writes fail. */
  readonly healthy: boolean;
  /** Throws EAGAIN naming the store and since when it is unreachable; `what` says what could not be done. */
  requireHealthy(what: string): void;
  /** Registers a container on this host. */
  add(spec: ContainerSpec): Promise<Container>;
  /** Unregisters a container of this host. */
  remove(name: string): Promise<Container>;
  /** Every container of the cluster. */
  list(): Container[];
  get(name: string): Container | undefined;
  /** The container of this host whose network namespace has this inode now (paths are re-stat'ed). */
  findByNetnsIno(ino: number): Container | undefined;
  findByLid(tenantId: number, lid: number): Container | undefined;
  /** The routers of the cluster that are up, this one included. */
  routers(): RouterRecord[];
  /**
   * A block of QPNs owned by this router: block n holds QPNs
   * n*QPN_BLOCK_SIZE .. n*QPN_BLOCK_SIZE+QPN_BLOCK_SIZE-1, except that QPN 0
   * and 1 of block 0 are never used. Blocks this host claimed before come back first.
   */
  claimQpnBlock(): Promise<number>;
  close(): Promise<void>;
}
