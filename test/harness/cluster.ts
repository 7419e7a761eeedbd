// A cross-host test world: the namespaces of cluster-net.ts, a real etcd in
// the infra namespace, one real router per host (inside the host's
// namespace, peers on its wan address) and containers registered with the
// router of their host. teardown() is idempotent.
import { ClusterNet, type ClusterContainer } from './cluster-net.js';
import { Etcd } from './etcd.js';
import { asList, Ffctl } from './ffctl.js';
import { killAll } from './proc.js';
import { Router } from './router.js';
import { assertNoSanitizerReports } from './world.js';
import { ASAN } from './paths.js';

export const PEER_PORT = 7471;

export interface ClusterDef {
  /** Containers per host: { h1: [{ name: 'a1', tenant: 1 }], h2: [...] }. */
  hosts: Record<string, { name: string; tenant?: string | number; vip?: string }[]>;
  /** Physical connections per pair of routers (default 1). */
  pool?: number;
  /** Extra router flags for every router. */
  routerArgs?: string[];
  /**
   * Router lease TTL (default 3 s, so fault tests see a dead router soon).
   * Loads that starve the routers' event loops for seconds (many processes
   * under ASan on 2 cores) take the product default of 10 s instead, or the
   * lease runs out under a live router.
   */
  leaseTtlS?: number;
}

export class Cluster {
  net!: ClusterNet;
  etcd!: Etcd;
  readonly routers = new Map<string, Router>();
  readonly ctl = new Map<string, Ffctl>();
  private def!: ClusterDef;

  static async create(def: ClusterDef): Promise<Cluster> {
    const w = new Cluster();
    w.def = def;
    try {
      const containers: Record<string, string[]> = {};
      for (const [h, list] of Object.entries(def.hosts)) containers[h] = list.map((c) => c.name);
      w.net = ClusterNet.create({ hosts: Object.keys(def.hosts), containers });
      w.etcd = await Etcd.start({ netns: w.net.infra.ns, host: w.net.infra.ip });
      await Promise.all(Object.keys(def.hosts).map((h) => w.startRouter(h)));
      for (const [h, list] of Object.entries(def.hosts)) {
        for (const c of list) {
          const cc = w.net.get(c.name);
          await w.ctl.get(h)!.addContainer(c.name, { tenant: c.tenant ?? 1, vip: c.vip ?? cc.ip, netns: cc.ns });
        }
      }
      await w.settled();
    } catch (e) {
      await w.teardown();
      throw e;
    }
    return w;
  }

  /**
   * Waits until every router has seen every other router up and every
   * container registered (both arrive through the etcd watch), so a test
   * does not race the watch: a slow router (ASan) may start last.
   */
  async settled(timeoutMs = 15_000): Promise<void> {
    const hosts = Object.keys(this.def.hosts);
    const names = Object.values(this.def.hosts).flat().map((c) => c.name).sort();
    const deadline = Date.now() + timeoutMs;
    for (const h of hosts) {
      const ctl = this.ctl.get(h)!;
      for (;;) {
        const peers = asList((await ctl.ok(['peers'], true)).json, 'peers').map((p) => String(p['host']));
        const seen = asList((await ctl.ok(['container', 'ls'], true)).json, 'containers').map((c) => String(c['name'])).sort();
        if (hosts.every((o) => o === h || peers.includes(o)) && names.every((n) => seen.includes(n))) break;
        if (Date.now() > deadline) throw new Error(`router ${h} sees peers [${peers.join(', ')}] and containers [${seen.join(', ')}] after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Starts (or restarts) the router of a host; containers registered in etcd stay registered. */
  async startRouter(host: string, extra: string[] = []): Promise<Router> {
    const h = this.net.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    const r = await Router.start({
      netns: h.ns,
      extraArgs: [
        '--host-name', host,
        '--etcd', this.etcd.endpoint,
        '--peer-listen', `${h.wanIp}:${PEER_PORT}`,
        '--peer-pool', String(this.def.pool ?? 1),
        '--lease-ttl-s', String(this.def.leaseTtlS ?? 3),
        ...(this.def.routerArgs ?? []),
        ...extra,
      ],
    });
    this.routers.set(host, r);
    this.ctl.set(host, new Ffctl(r.adminSocket));
    return r;
  }

  c(name: string): ClusterContainer { return this.net.get(name); }

  router(host: string): Router {
    const r = this.routers.get(host);
    if (!r) throw new Error(`no router on ${host}`);
    return r;
  }

  /** The router socket of the host a container lives on. */
  socketOf(name: string): string { return this.router(this.net.get(name).host).socket; }

  logs = (): string => {
    const parts = [...this.routers].map(([h, r]) => `ROUTER ${h}\n${r.logs()}`);
    if (this.etcd) parts.push(`ETCD\n${this.etcd.output.slice(-4000)}`);
    return parts.join('\n\n');
  };

  async teardown(): Promise<void> {
    await Promise.all([...this.routers.values()].map((r) => (r.alive ? r.stop('SIGTERM', 5000) : r.removeDir())));
    await this.etcd?.destroy();
    await killAll();
    this.net?.destroy();
    if (ASAN) assertNoSanitizerReports();
  }
}
