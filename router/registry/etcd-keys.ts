// The etcd key layout (docs/cluster.md "etcd keyspace") and the codecs of
// its values. Values written by another router (or by hand) are checked on
// the way in: a bad one is skipped with a log line, never trusted.
import { isIP } from 'node:net';
import { portGidText, type Container, type RouterRecord } from './registry.js';
import { HOST_ID_MAX, LID_MAX, NAME_RE, TENANT_ID_MAX } from './spec.js';

export class EtcdKeys {
  /** The prefix without its trailing slashes: `/ffr/v1`. */
  readonly root: string;

  constructor(prefix: string) {
    this.root = prefix.replace(/\/+$/, '');
  }

  get routers(): string { return `${this.root}/routers/`; }
  router(host: string): string { return this.routers + host; }
  host(host: string): string { return `${this.root}/hosts/${host}`; }
  tenant(tenant: string): string { return `${this.root}/tenants/${tenant}`; }
  counter(kind: 'host' | 'tenant'): string { return `${this.root}/counters/${kind}`; }
  get containers(): string { return `${this.root}/containers/`; }
  container(name: string): string { return this.containers + name; }
  lids(tenantId: number): string { return `${this.root}/lids/${tenantId}/`; }
  lid(tenantId: number, lid: number): string { return this.lids(tenantId) + lid; }
  get policies(): string { return `${this.root}/policies/`; }
  policyDir(scope: 'tenant' | 'container'): string { return `${this.policies}${scope}/`; }
  policy(scope: 'tenant' | 'container', name: string): string { return this.policyDir(scope) + name; }
  get qpnBlocks(): string { return `${this.root}/qpn-blocks/`; }
  qpnBlock(n: number): string { return this.qpnBlocks + n; }

  /** The name part of a key under `dir` (one of the directory getters), or undefined. */
  static leaf(dir: string, key: string): string | undefined {
    if (!key.startsWith(dir)) return undefined;
    const leaf = key.slice(dir.length);
    return leaf === '' || leaf.includes('/') ? undefined : leaf;
  }
}

/** A decimal id in 1..max, or undefined. */
export function parseId(text: string | null | undefined, max: number): number | undefined {
  if (text == null || !/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Throws a plain Error saying what is wrong (the caller names the key). */
export function decodeContainer(text: string, name: string): Container {
  const v = JSON.parse(text) as Partial<Record<keyof Container, unknown>>;
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  if (v.name !== name) throw new Error(`name ${JSON.stringify(v.name)} does not match the key`);
  if (!isStr(v.host) || !NAME_RE.test(v.host)) throw new Error(`bad host ${JSON.stringify(v.host)}`);
  if (!isStr(v.tenant) || !NAME_RE.test(v.tenant)) throw new Error(`bad tenant ${JSON.stringify(v.tenant)}`);
  if (!isInt(v.tenantId, 1, TENANT_ID_MAX)) throw new Error(`bad tenantId ${JSON.stringify(v.tenantId)}`);
  if (!isInt(v.lid, 1, LID_MAX)) throw new Error(`bad lid ${JSON.stringify(v.lid)}`);
  if (!isStr(v.vip) || isIP(v.vip) === 0) throw new Error(`bad vip ${JSON.stringify(v.vip)}`);
  if (!isStr(v.netns) || !v.netns.startsWith('/')) throw new Error(`bad netns ${JSON.stringify(v.netns)}`);
  return {
    name,
    host: v.host,
    tenant: v.tenant,
    tenantId: v.tenantId,
    vip: v.vip,
    netns: v.netns,
    netnsIno: isInt(v.netnsIno, 0, Number.MAX_SAFE_INTEGER) ? v.netnsIno : 0,
    lid: v.lid,
    gid: portGidText(v.tenantId, v.lid),
    createdAt: isStr(v.createdAt) ? v.createdAt : '',
  };
}

export function encodeContainer(c: Container): string {
  const { name, host, tenant, tenantId, vip, netns, netnsIno, lid, gid, createdAt } = c;
  return JSON.stringify({ name, host, tenant, tenantId, vip, netns, netnsIno, lid, gid, createdAt });
}

export function decodeRouter(text: string, host: string): RouterRecord {
  const v = JSON.parse(text) as Partial<Record<keyof RouterRecord, unknown>>;
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  if (v.host !== host) throw new Error(`host ${JSON.stringify(v.host)} does not match the key`);
  if (!isInt(v.hostId, 1, HOST_ID_MAX)) throw new Error(`bad hostId ${JSON.stringify(v.hostId)}`);
  if (!isStr(v.peer)) throw new Error(`bad peer ${JSON.stringify(v.peer)}`);
  return {
    host,
    hostId: v.hostId,
    peer: v.peer,
    pid: isInt(v.pid, 0, Number.MAX_SAFE_INTEGER) ? v.pid : 0,
    version: isStr(v.version) ? v.version : '',
    startedAt: isStr(v.startedAt) ? v.startedAt : '',
  };
}

export function encodeRouter(r: RouterRecord): string {
  const { host, hostId, peer, pid, version, startedAt } = r;
  return JSON.stringify({ host, hostId, peer, pid, version, startedAt });
}
