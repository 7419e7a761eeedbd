// The allocating transactions of the etcd registry (docs/cluster.md "etcd
// keyspace"): ids from counters, LIDs, QPN blocks. Each is optimistic: read,
// then a transaction that only commits if what was read is still true, and
// a retry when another router got there first. Every call is bounded by the
// client's default deadline; errors other than RouterError are etcd's.
import type { Etcd3, IKeyValue } from 'etcd3';
import { ebusy, eexist, eio, enomem } from '../errors.js';
import type { Logger } from '../log.js';
import { encodeContainer, EtcdKeys, parseId } from './etcd-keys.js';
import { portGidText, QPN_BLOCK_SIZE, QPN_BLOCKS, type Container } from './registry.js';
import { LID_MAX } from './spec.js';

/** Lost races before giving up: each loss means another router made progress. */
const ATTEMPTS = 64;

const text = (kv: IKeyValue | undefined): string | undefined => kv?.value.toString();

/**
 * The id stored at `idKey`; when absent, the next value of `counterKey` is
 * stored there (ids are never reused, even when the thing they named goes).
 */
export async function allocId(client: Etcd3, counterKey: string, idKey: string, max: number, what: string): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const existing = (await client.get(idKey).exec()).kvs[0];
    if (existing !== undefined) {
      const id = parseId(text(existing), max);
      if (id === undefined) throw eio(`etcd ${idKey} holds ${JSON.stringify(text(existing))}, not an id in 1..${max}`);
      return id;
    }
    const counter = (await client.get(counterKey).exec()).kvs[0];
    const last = counter === undefined ? 0 : parseId(text(counter), max);
    if (last === undefined) throw eio(`etcd ${counterKey} holds ${JSON.stringify(text(counter))}, not a counter`);
    const next = last + 1;
    if (next > max) throw enomem(`no free ${what} id (${counterKey} is at ${last})`);
    const res = await client
      .if(idKey, 'Create', '==', 0)
      .and(counterKey, counter === undefined ? 'Create' : 'Mod', '==', counter === undefined ? 0 : counter.mod_revision)
      .then(client.put(counterKey).value(String(next)), client.put(idKey).value(String(next)))
      .commit();
    if (res.succeeded) return next;
  }
  throw ebusy(`${what} id for ${idKey}: lost ${ATTEMPTS} races in a row, try again`);
}

async function usedLids(client: Etcd3, keys: EtcdKeys, tenantId: number): Promise<number[]> {
  const dir = keys.lids(tenantId);
  const all = await client.getAll().prefix(dir).keys();
  return all.map((k) => parseId(EtcdKeys.leaf(dir, k), LID_MAX)).filter((n): n is number => n !== undefined);
}

/**
 * Stores a new container with the lowest LID of its tenant that is free:
 * container key and LID key are created together, only if neither exists.
 * The tenant's LIDs are read from etcd, not from the watched cache, which
 * lags by the watch delay; a lost race reads them again. Returns the stored
 * container, its text and the revision of the write.
 */
export async function createContainer(
  client: Etcd3,
  keys: EtcdKeys,
  base: Omit<Container, 'lid' | 'gid'>,
): Promise<{ c: Container; raw: string; rev: number }> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // Read again after a lost race: the winner's LID is in it then.
    const taken = new Set(await usedLids(client, keys, base.tenantId));
    let lid = 1;
    while (taken.has(lid)) lid++;
    if (lid > LID_MAX) throw enomem(`tenant ${base.tenant} has no free LID`);
    const c: Container = { ...base, lid, gid: portGidText(base.tenantId, lid) };
    const raw = encodeContainer(c);
    const ckey = keys.container(c.name);
    const lkey = keys.lid(c.tenantId, lid);
    const res = await client
      .if(ckey, 'Create', '==', 0)
      .and(lkey, 'Create', '==', 0)
      .then(client.put(ckey).value(raw), client.put(lkey).value(c.name))
      .else(client.get(ckey))
      .commit();
    if (res.succeeded) return { c, raw, rev: Number(res.header.revision) };
    const holder = res.responses[0]?.response_range.kvs[0];
    if (holder !== undefined) {
      let where = '';
      try {
        where = ` (on host ${(JSON.parse(holder.value.toString()) as { host?: unknown }).host})`;
      } catch { /* a bad value still means the name is taken */ }
      throw eexist(`container ${c.name} already exists${where}`);
    }
  }
  throw ebusy(`container ${base.name}: lost ${ATTEMPTS} LID races in a row in tenant ${base.tenant}, try again`);
}

/** Every claimed QPN block and the host that owns it. */
async function readQpnBlocks(client: Etcd3, keys: EtcdKeys): Promise<Map<number, string>> {
  const all = await client.getAll().prefix(keys.qpnBlocks).strings();
  const owners = new Map<number, string>();
  for (const [k, host] of Object.entries(all)) {
    const leaf = EtcdKeys.leaf(keys.qpnBlocks, k);
    // Block 0 is a valid block, which parseId (ids from 1) would refuse.
    const n = leaf !== undefined && /^(0|[1-9][0-9]{0,3})$/.test(leaf) ? Number(leaf) : undefined;
    if (n !== undefined && n < QPN_BLOCKS) owners.set(n, host);
  }
  return owners;
}

/** Claims the lowest block not in `owners` for `host` (updating `owners` with what it learns). */
async function claimFreeQpnBlock(client: Etcd3, keys: EtcdKeys, host: string, owners: Map<number, string>): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let n = 0;
    while (owners.has(n)) n++;
    if (n >= QPN_BLOCKS) throw enomem(`no free QPN block: all ${QPN_BLOCKS} are claimed`);
    const key = keys.qpnBlock(n);
    const res = await client
      .if(key, 'Create', '==', 0)
      .then(client.put(key).value(host))
      .else(client.get(key))
      .commit();
    if (res.succeeded) {
      owners.set(n, host);
      return n;
    }
    owners.set(n, text(res.responses[0]?.response_range.kvs[0]) ?? '?');
    if (attempt === 0) for (const [m, h] of await readQpnBlocks(client, keys)) owners.set(m, h);
  }
  throw ebusy(`QPN block: lost ${ATTEMPTS} races in a row, try again`);
}

/** This host's QPN blocks: its old ones first, then new ones from the cluster's free space. */
export class QpnBlocks {
  /** Claims are serialized so that two callers never get the same reused block. */
  private chain: Promise<unknown> = Promise.resolve();
  private owners: Map<number, string> | undefined;
  private reusable: number[] = [];

  constructor(
    private readonly client: Etcd3,
    private readonly keys: EtcdKeys,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  claim(): Promise<number> {
    const run = this.chain.then(() => this.claimNow());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async claimNow(): Promise<number> {
    if (this.owners === undefined) {
      const owners = await readQpnBlocks(this.client, this.keys);
      // A restarted router takes its own blocks back first: its old QPs are
      // gone with it, and the cluster's space is not spent twice.
      this.reusable = [...owners].filter(([, h]) => h === this.host).map(([n]) => n).sort((a, b) => a - b);
      this.owners = owners;
    }
    const reused = this.reusable.shift();
    if (reused !== undefined) return reused;
    const n = await claimFreeQpnBlock(this.client, this.keys, this.host, this.owners);
    this.log.info(`claimed QPN block ${n} (QPNs ${n * QPN_BLOCK_SIZE}..${(n + 1) * QPN_BLOCK_SIZE - 1})`);
    return n;
  }
}
