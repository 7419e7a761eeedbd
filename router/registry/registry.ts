import type { EventEmitter } from 'node:events';

/** A registered container: the unit of identity, tenancy and quota. */
export interface Container {
  name: string;
  /** Tenant (virtual network) name; tenants are walls. */
  tenant: string;
  /** Numeric tenant id, allocated per tenant name, stable for the life of the state dir. */
  tenantId: number;
  /** The container's virtual IP (what the orchestrator assigned). */
  vip: string;
  /** Network namespace path: /run/netns/NAME or /proc/PID/ns/net. */
  netns: string;
  /** Inode of the namespace at the last stat (add time, refreshed on lookup). */
  netnsIno: number;
  /** Port LID, unique within the tenant, from 1. */
  lid: number;
  createdAt: string;
}

/** What an operator supplies; the rest is allocated. */
export interface ContainerSpec {
  name: string;
  tenant: string;
  vip: string;
  /** A name under /run/netns or an absolute path. */
  netns: string;
}

export interface RegistryEvents {
  added: [Container];
  removed: [Container];
}

/**
 * The container table. Writes are async (they persist, or go to etcd); reads
 * are synchronous from memory, because the session path looks containers up
 * on every hello and RTR and an etcd-backed implementation keeps a watched
 * cache anyway. Errors are RouterError: EINVAL for a bad spec, EEXIST for a
 * duplicate, ENOENT for an unknown name.
 */
export interface Registry extends EventEmitter<RegistryEvents> {
  add(spec: ContainerSpec): Promise<Container>;
  remove(name: string): Promise<Container>;
  list(): Container[];
  get(name: string): Container | undefined;
  /** The container whose network namespace has this inode now (paths are re-stat'ed). */
  findByNetnsIno(ino: number): Container | undefined;
  findByLid(tenantId: number, lid: number): Container | undefined;
  close(): Promise<void>;
}
