// Several "hosts" for the cross-host tests and the inter bench, made of
// network namespaces only (the root namespace gets no interface and no
// traffic leaves what we create). Same naming and ownership scheme as
// netns.ts, so cleanupStale() removes what a dead run left behind.
//
//   fft-<run>-hub:        bridge `wan` <- w<i> (host i), winfra      (no addresses)
//   fft-<run>-infra:      eth0 10.88.0.100/24                         (etcd lives here)
//   fft-<run>-host-<h>:   wan0 10.88.0.<i>/24, ip_forward=1,
//                         br0 10.77.<i>.254/24 <- v<k> (container k),
//                         10.77.<j>.0/24 via 10.88.0.<j> for every other host j
//   fft-<run>-<name>:     eth0 10.77.<i>.<k>/24, default via 10.77.<i>.254
//
// A host's only way to the others (and to infra) is its wan veth: that is
// the link linkDown() cuts. Cutting h2 also cuts h2 from etcd in infra, as a
// real cable pull would; a test that needs "peers apart but etcd up" has to
// cut the link of the host whose registry view it does not care about, or
// add a second path on purpose.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNamespace, ip, listNamespaces, NS_PREFIX, OWNERS, type Container } from './netns.js';
import { run } from './proc.js';
import { onExit } from './exit-hooks.js';

export const WAN_PREFIX = '10.88.0';
export const INFRA_IP = `${WAN_PREFIX}.100`;

/** A container of the cluster: the shape of netns.ts's Container plus the host it lives on.
 * `index` is per host (ip = 10.77.<host index>.<index + 1>), as in netns.ts. */
export interface ClusterContainer extends Container {
  host: string;
}

export interface ClusterHost {
  /** Logical name, e.g. "h1". */
  name: string;
  /** 1-based position in the host list: wan address .<index>, container subnet 10.77.<index>.0/24. */
  index: number;
  /** The host's namespace: a router of this host runs here (`ip netns exec <ns> ...`). */
  ns: string;
  /** Address on the wan, what a router advertises to its peers. */
  wanIp: string;
  /** Address of br0, the containers' default gateway. */
  gatewayIp: string;
  /** Container subnet, CIDR. */
  subnet: string;
  /** The veth end in the hub namespace that linkDown()/linkUp() switch. */
  hubIf: string;
}

export interface ClusterOptions {
  /** Host names, in order (default ['h1', 'h2']); the i-th (from 1) gets 10.88.0.<i>. */
  hosts?: string[];
  /** Containers to create, by host name. Names are cluster-wide unique. */
  containers?: Record<string, string[]>;
}

const RESERVED = new Set(['hub', 'infra', 'host']);
const liveClusters = new Set<ClusterNet>();

export class ClusterNet {
  readonly run: string;
  readonly hub: string;
  /** The infra namespace and its wan address (etcd: `http://${infra.ip}:2379`). */
  readonly infra: { ns: string; ip: string };
  readonly hosts = new Map<string, ClusterHost>();
  readonly containers = new Map<string, ClusterContainer>();
  private readonly nextIndex = new Map<string, number>();
  private readonly down = new Set<string>();
  private destroyed = false;

  private constructor() {
    this.run = randomBytes(3).toString('hex');
    this.hub = `${NS_PREFIX}${this.run}-hub`;
    this.infra = { ns: `${NS_PREFIX}${this.run}-infra`, ip: INFRA_IP };
  }

  /** Builds hub, infra, the hosts and their containers. On failure nothing is left behind. */
  static create(opts: ClusterOptions = {}): ClusterNet {
    const hostNames = opts.hosts ?? ['h1', 'h2'];
    if (hostNames.length < 1 || hostNames.length > 99) throw new Error('1..99 hosts');
    if (new Set(hostNames).size !== hostNames.length) throw new Error(`duplicate host names: ${hostNames.join(' ')}`);
    for (const h of hostNames) {
      // interface names are at most 15 bytes, and hosts must not shadow container namespaces
      if (!/^[a-z0-9]{1,8}$/.test(h) || RESERVED.has(h)) throw new Error(`bad host name ${h}`);
    }
    for (const h of Object.keys(opts.containers ?? {})) if (!hostNames.includes(h)) throw new Error(`containers for unknown host ${h}`);

    const net = new ClusterNet();
    mkdirSync(OWNERS, { recursive: true });
    writeFileSync(join(OWNERS, net.run), String(process.pid));
    liveClusters.add(net);
    try {
      ip(['netns', 'add', net.hub]);
      ip(['-n', net.hub, 'link', 'set', 'lo', 'up']);
      ip(['-n', net.hub, 'link', 'add', 'wan', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      ip(['-n', net.hub, 'link', 'set', 'wan', 'up']);
      net.attachToWan(net.infra.ns, 'winfra', 'eth0', `${INFRA_IP}/24`);
      hostNames.forEach((h, i) => net.addHost(h, i + 1));
      for (const a of net.hosts.values()) {
        for (const b of net.hosts.values()) {
          if (a !== b) ip(['-n', a.ns, 'route', 'add', b.subnet, 'via', b.wanIp, 'dev', 'wan0']);
        }
      }
      for (const [h, names] of Object.entries(opts.containers ?? {})) for (const n of names) net.add(h, n);
    } catch (e) {
      net.destroy();
      throw e;
    }
    return net;
  }

  /** A namespace with lo up and one veth to the wan bridge (hub side `hubIf`). */
  private attachToWan(ns: string, hubIf: string, nsIf: string, cidr: string): void {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.hub, 'link', 'add', hubIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns]);
    ip(['-n', this.hub, 'link', 'set', hubIf, 'master', 'wan']);
    ip(['-n', this.hub, 'link', 'set', hubIf, 'up']);
    ip(['-n', ns, 'addr', 'add', cidr, 'dev', nsIf]);
    ip(['-n', ns, 'link', 'set', nsIf, 'up']);
  }

  private addHost(name: string, index: number): void {
    const h: ClusterHost = {
      name, index,
      ns: `${NS_PREFIX}${this.run}-host-${name}`,
      wanIp: `${WAN_PREFIX}.${index}`,
      gatewayIp: `10.77.${index}.254`,
      subnet: `10.77.${index}.0/24`,
      hubIf: `w${index}`,
    };
    this.hosts.set(name, h);
    this.nextIndex.set(name, 0);
    this.attachToWan(h.ns, h.hubIf, 'wan0', `${h.wanIp}/24`);
    ip(['-n', h.ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    ip(['-n', h.ns, 'addr', 'add', `${h.gatewayIp}/24`, 'dev', 'br0']);
    ip(['-n', h.ns, 'link', 'set', 'br0', 'up']);
    // a fresh namespace does not forward; the host is the containers' router
    ip(['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }

  /** Adds a container namespace on host's br0. */
  add(host: string, name: string): ClusterContainer {
    if (this.destroyed) throw new Error('cluster net destroyed');
    const h = this.host(host);
    if (this.containers.has(name)) throw new Error(`container ${name} exists`);
    if (!/^[a-z0-9]{1,12}$/.test(name) || RESERVED.has(name)) throw new Error(`bad container name ${name}`);
    const index = this.nextIndex.get(host)!;
    if (index >= 250) throw new Error(`too many containers on ${host}`);
    this.nextIndex.set(host, index + 1);
    const c: ClusterContainer = { name, ns: `${NS_PREFIX}${this.run}-${name}`, ip: `10.77.${h.index}.${index + 1}`, index, host };
    ip(['netns', 'add', c.ns]);
    this.containers.set(name, c);
    ip(['-n', c.ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', h.ns, 'link', 'add', `v${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c.ns]);
    ip(['-n', h.ns, 'link', 'set', `v${index}`, 'master', 'br0']);
    ip(['-n', h.ns, 'link', 'set', `v${index}`, 'up']);
    ip(['-n', c.ns, 'addr', 'add', `${c.ip}/24`, 'dev', 'eth0']);
    ip(['-n', c.ns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', c.ns, 'route', 'add', 'default', 'via', h.gatewayIp]);
    return c;
  }

  get(name: string): ClusterContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
  }

  host(name: string): ClusterHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** The host a container lives on. */
  hostOf(c: ClusterContainer | string): ClusterHost {
    return this.host(typeof c === 'string' ? this.get(c).host : c.host);
  }

  containersOf(host: string): ClusterContainer[] {
    return [...this.containers.values()].filter((c) => c.host === host);
  }

  /** Cuts host's wan link (its hub-side veth end goes down): packets in both directions are
   * dropped, sockets see timeouts (not resets), as with a pulled cable. The host loses
   * infra (etcd) too. The host side keeps its addresses and routes, so linkUp() restores all. */
  linkDown(host: string): void {
    const h = this.host(host);
    ip(['-n', this.hub, 'link', 'set', h.hubIf, 'down']);
    this.down.add(host);
  }

  linkUp(host: string): void {
    const h = this.host(host);
    ip(['-n', this.hub, 'link', 'set', h.hubIf, 'up']);
    this.down.delete(host);
  }

  isLinkUp(host: string): boolean {
    this.host(host);
    return !this.down.has(host);
  }

  /** Deletes every namespace of this run (killing what runs inside). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // containers before hosts: a container's veth peer lives in its host
    for (const c of this.containers.values()) deleteNamespace(c.ns);
    for (const h of this.hosts.values()) deleteNamespace(h.ns);
    deleteNamespace(this.infra.ns);
    deleteNamespace(this.hub);
    for (const ns of listNamespaces()) if (ns.startsWith(`${NS_PREFIX}${this.run}-`)) deleteNamespace(ns);
    rmSync(join(OWNERS, this.run), { force: true });
    liveClusters.delete(this);
  }
}

/** Destroys every ClusterNet still alive (teardown hooks). */
export function destroyAllClusterNets(): void {
  for (const n of [...liveClusters]) n.destroy();
}

onExit(destroyAllClusterNets);

export type TcpProbe = 'open' | 'refused' | 'unreachable' | 'timeout';

/** One TCP connect from inside namespace `ns` (a container, a host, infra), bounded by timeoutMs:
 * 'refused' still proves the path works (an RST came back), 'timeout' means packets are lost. */
export async function tcpProbe(ns: string, addr: string, port: number, timeoutMs = 2000): Promise<TcpProbe> {
  const secs = Math.max(0.1, timeoutMs / 1000).toFixed(1);
  const r = await run('ip', ['netns', 'exec', ns, 'timeout', '-s', 'KILL', secs, 'bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`],
    { timeoutMs: timeoutMs + 5000, label: `${ns}: tcp probe ${addr}:${port}` });
  if (r.code === 0) return 'open';
  if (/refused/i.test(r.stderr)) return 'refused';
  if (/no route|unreachable/i.test(r.stderr)) return 'unreachable';
  return 'timeout';
}
