import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { AtomicFile } from '../atomic-file.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { eexist, enoent, enomem, eperm } from '../errors.js';
import type { Logger } from '../log.js';
import { packageVersion } from '../paths.js';
import { tryNetnsInode } from './netns.js';
import { portGidText, QPN_BLOCKS, type Container, type ContainerSpec, type Registry, type RegistryEvents, type RouterRecord } from './registry.js';
import { checkSpec, LID_MAX, TENANT_ID_MAX } from './spec.js';
import { findByTenantLid, findLocalByNetnsIno } from './lookup.js';

const FILE_VERSION = 1;

interface StateFile {
  version: number;
  tenants: Record<string, number>;
  /** Files written before the cluster registry have no `host`. */
  containers: (Omit<Container, 'host'> & { host?: string })[];
}

/**
 * The single-host registry: containers in memory, persisted to
 * `<stateDir>/containers.json` (written to a temporary file, fsync'ed, then
 * renamed over, so a crash leaves the old or the new file, never half).
 */
export class EmbeddedRegistry extends EventEmitter<RegistryEvents> implements Registry {
  private readonly containers = new Map<string, Container>();
  private readonly tenants = new Map<string, number>();
  private readonly file: AtomicFile;
  /** One host has the whole QPN space: blocks need no persistence. */
  private nextQpnBlock = 0;
  private readonly self: RouterRecord;
  readonly hostId = 1;
  readonly healthy = true;

  private constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    readonly hostName: string,
  ) {
    super();
    this.file = new AtomicFile(join(stateDir, 'containers.json'));
    this.self = { host: hostName, hostId: this.hostId, peer: '', pid: process.pid, version: packageVersion(), startedAt: new Date().toISOString() };
  }

  static async open(stateDir: string, log: Logger, hostName: string = hostname()): Promise<EmbeddedRegistry> {
    const reg = new EmbeddedRegistry(stateDir, log, hostName);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await reg.load();
    return reg;
  }

  private async load(): Promise<void> {
    const state = (await this.file.readJson()) as StateFile | undefined;
    if (state === undefined) return;
    if (state.version !== FILE_VERSION || typeof state.tenants !== 'object' || !Array.isArray(state.containers)) {
      throw new Error(`${this.file.path}: unsupported format (expected version ${FILE_VERSION})`);
    }
    for (const [name, id] of Object.entries(state.tenants)) {
      if (!Number.isInteger(id) || id < 1 || id > TENANT_ID_MAX) throw new Error(`${this.file.path}: tenant ${name} has a bad id ${id}`);
      this.tenants.set(name, id);
    }
    for (const c of state.containers) {
      const tenantId = this.tenants.get(c.tenant);
      if (typeof c.name !== 'string' || tenantId === undefined || !Number.isInteger(c.lid) || c.lid < 1 || c.lid > LID_MAX) {
        throw new Error(`${this.file.path}: bad container entry ${JSON.stringify(c)}`);
      }
      const ino = tryNetnsInode(c.netns);
      if (ino === undefined) this.log.warn(`container ${c.name}: netns ${c.netns} does not exist now; its processes will be refused until it does`);
      // The file belongs to this host: every container in it is local, even
      // if the host was renamed since.
      if (c.host !== undefined && c.host !== this.hostName) this.log.warn(`container ${c.name}: recorded on host ${c.host}, now host ${this.hostName}`);
      this.containers.set(c.name, { ...c, host: this.hostName, tenantId, gid: portGidText(tenantId, c.lid), netnsIno: ino ?? c.netnsIno });
    }
    this.log.info(`loaded ${this.containers.size} containers in ${this.tenants.size} tenants from ${this.file.path}`);
  }

  list(): Container[] {
    return [...this.containers.values()].map((c) => ({ ...c }));
  }

  get(name: string): Container | undefined {
    const c = this.containers.get(name);
    return c && { ...c };
  }

  requireHealthy(_what: string): void {}

  routers(): RouterRecord[] {
    return [{ ...this.self }];
  }

  async claimQpnBlock(): Promise<number> {
    if (this.nextQpnBlock >= QPN_BLOCKS) throw enomem('no free QPN block');
    return this.nextQpnBlock++;
  }

  findByNetnsIno(ino: number): Container | undefined {
    return findLocalByNetnsIno(this.containers.values(), this.hostName, ino);
  }

  findByLid(tenantId: number, lid: number): Container | undefined {
    return findByTenantLid(this.containers.values(), tenantId, lid);
  }

  async add(spec: ContainerSpec): Promise<Container> {
    const { name, tenant, netns, netnsIno } = checkSpec(spec);
    if (this.containers.has(name)) throw eexist(`container ${name} already exists`);
    for (const c of this.containers.values()) {
      if (c.tenant === tenant && c.vip === spec.vip) throw eexist(`vip ${spec.vip} is already used by container ${c.name} in tenant ${tenant}`);
      if (tryNetnsInode(c.netns) === netnsIno) throw eexist(`netns ${netns} (net:[${netnsIno}]) is already container ${c.name}`);
    }
    let newTenant = false;
    let tenantId = this.tenants.get(tenant);
    if (tenantId === undefined) {
      tenantId = Math.max(0, ...this.tenants.values()) + 1;
      if (tenantId > TENANT_ID_MAX) throw enomem('no free tenant id');
      newTenant = true;
    }
    const lid = this.freeLid(tenantId);
    const c: Container = { name, host: this.hostName, tenant, tenantId, vip: spec.vip, netns, netnsIno, lid, gid: portGidText(tenantId, lid), createdAt: new Date().toISOString() };
    if (newTenant) this.tenants.set(tenant, tenantId);
    this.containers.set(name, c);
    try {
      await this.persist();
    } catch (err) {
      this.containers.delete(name);
      if (newTenant) this.tenants.delete(tenant);
      throw err;
    }
    this.log.info(`container ${name} added: tenant ${tenant} (${tenantId}), lid ${lid}, vip ${c.vip}, netns ${netns} net:[${netnsIno}]`);
    this.emit('added', { ...c });
    return { ...c };
  }

  async remove(name: string): Promise<Container> {
    const c = this.containers.get(name);
    if (c === undefined) throw enoent(`no container ${name}`);
    if (c.host !== this.hostName) throw eperm(`container ${name} lives on host ${c.host}: remove it there`);
    this.containers.delete(name);
    try {
      await this.persist();
    } catch (err) {
      this.containers.set(name, c);
      throw err;
    }
    this.log.info(`container ${name} removed (tenant ${c.tenant}, lid ${c.lid})`);
    this.emit('removed', { ...c });
    return { ...c };
  }

  async close(): Promise<void> {
    await this.file.flush();
  }

  private freeLid(tenantId: number): number {
    const used = new Set<number>();
    for (const c of this.containers.values()) if (c.tenantId === tenantId) used.add(c.lid);
    for (let lid = 1; lid <= LID_MAX; lid++) if (!used.has(lid)) return lid;
    throw enomem(`tenant ${tenantId} has no free LID`);
  }

  private persist(): Promise<void> {
    const state: StateFile = {
      version: FILE_VERSION,
      tenants: Object.fromEntries(this.tenants),
      containers: [...this.containers.values()].sort((a, b) => a.name.localeCompare(b.name)),
    };
    return this.file.write(JSON.stringify(state, null, 2) + '\n');
  }
}
